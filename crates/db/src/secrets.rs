//! Secrets shared by every instance of one installation (the JWT signing key).

use anyhow::Context as _;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait as _};

use crate::entities::app_secret;
use crate::error::{is_unique_violation, unix_now};

/// The secret stored under `name`, storing `candidate` first when there is none. The first
/// instance to start wins; every other instance reads the same value, so tokens signed by one
/// instance verify on all of them and survive restarts.
///
/// # Errors
/// Fails when the database fails; never logs or returns the value in an error.
pub async fn shared_secret(
    db: &DatabaseConnection,
    name: &str,
    candidate: &str,
) -> anyhow::Result<String> {
    let row = app_secret::ActiveModel {
        name: Set(name.to_owned()),
        value: Set(candidate.to_owned()),
        created_at: Set(unix_now()),
    };
    match app_secret::Entity::insert(row)
        .exec_without_returning(db)
        .await
    {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {}
        Err(e) => return Err(anyhow::Error::new(e).context("failed to store a shared secret")),
    }
    let stored = app_secret::Entity::find_by_id(name.to_owned())
        .one(db)
        .await
        .context("failed to read a shared secret")?
        .with_context(|| format!("the shared secret {name} is missing after storing it"))?;
    Ok(stored.value)
}
