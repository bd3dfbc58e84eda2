//! Bulk test data: many plausible users, inserted fast (benchmarks, manual testing).
//!
//! Not for production data: the rows bypass the domain's validation and the ledger (their
//! quota is 0, so there is nothing to record).

use anyhow::{Context as _, bail, ensure};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait as _, DatabaseConnection, EntityTrait as _, QuerySelect as _,
};

use crate::entities::user;
use crate::error::unix_now;
use crate::txn::{self, Abort};

/// Rows per INSERT statement (14 bound values each, far below every backend's limit).
const ROWS_PER_INSERT: u64 = 500;
/// INSERT statements per transaction.
const INSERTS_PER_TRANSACTION: u64 = 20;
/// The longest username [`seed_users`] creates.
const MAX_USERNAME_LEN: usize = 20;

const ADJECTIVES: [&str; 16] = [
    "Amber", "Brave", "Calm", "Dusty", "Eager", "Fuzzy", "Gentle", "Hidden", "Icy", "Jolly",
    "Kind", "Lucky", "Misty", "Noble", "Quiet", "Rapid",
];
const NOUNS: [&str; 16] = [
    "Otter", "Falcon", "Maple", "River", "Comet", "Badger", "Willow", "Harbor", "Lynx", "Meadow",
    "Pebble", "Raven", "Cedar", "Tiger", "Summit", "Heron",
];

/// Inserts `count` users named `{prefix}{n}` for `n` in `1..=count`, and returns how many
/// were inserted.
///
/// Each user has the e-mail `{prefix}{n}@example.com` (lowercased), a two-word display name,
/// group `default` (70 %), `vip` (20 %) or `svip` (10 %), status 1 (95 %) or 2, role 1,
/// quota 0, a unique 8-character invitation code, settings `{"gotify_priority":0}` and the
/// given password hash. Rows go in multi-row INSERTs of 500, 10 000 per transaction.
///
/// # Errors
/// Fails when a username would be longer than 20 characters or `prefix` holds `@`, and when
/// an insert fails (for example because a username exists already); transactions committed
/// before stay.
pub async fn seed_users(
    db: &DatabaseConnection,
    count: u64,
    prefix: &str,
    password_hash: &str,
) -> anyhow::Result<u64> {
    if count == 0 {
        return Ok(0);
    }
    ensure!(
        !prefix.contains('@'),
        "the username prefix must not contain '@'"
    );
    let longest = prefix.chars().count() + count.to_string().len();
    if longest > MAX_USERNAME_LEN {
        bail!("usernames would have {longest} characters, more than {MAX_USERNAME_LEN}");
    }
    // Invitation codes derive from numbers above every existing id, so a second seeding
    // does not collide with the first.
    let max_id: Option<i64> = user::Entity::find()
        .select_only()
        .column_as(user::Column::Id.max(), "max_id")
        .into_tuple()
        .one(db)
        .await
        .context("failed to read the highest user id")?
        .flatten();
    let code_base = u64::try_from(max_id.unwrap_or(0)).unwrap_or(0);
    let now = unix_now();

    let mut next = 1;
    while next <= count {
        let start = next;
        next = txn::write(db, "failed to commit seeded users", async |txn| {
            let mut next = start;
            for _ in 0..INSERTS_PER_TRANSACTION {
                if next > count {
                    break;
                }
                let last = count.min(next + ROWS_PER_INSERT - 1);
                let mut insert = Query::insert();
                insert.into_table(user::Entity).columns([
                    user::Column::Username,
                    user::Column::PasswordHash,
                    user::Column::DisplayName,
                    user::Column::Role,
                    user::Column::Status,
                    user::Column::Email,
                    user::Column::UserGroup,
                    user::Column::Quota,
                    user::Column::AffCode,
                    user::Column::Setting,
                    user::Column::CreatedAt,
                    user::Column::UpdatedAt,
                ]);
                for n in next..=last {
                    let row: [Expr; 12] = [
                        format!("{prefix}{n}").into(),
                        password_hash.into(),
                        display_name(n).into(),
                        1i32.into(),
                        status(n).into(),
                        format!("{prefix}{n}@example.com").to_lowercase().into(),
                        group(n).into(),
                        0i64.into(),
                        aff_code(code_base + n).into(),
                        r#"{"gotify_priority":0}"#.into(),
                        now.into(),
                        now.into(),
                    ];
                    insert
                        .values(row)
                        .context("a seeded row does not fit the columns")?;
                }
                let statement = txn.get_database_backend().build(&insert);
                txn.execute_raw(statement)
                    .await
                    .with_context(|| format!("failed to insert seeded users {next}..={last}"))?;
                next = last + 1;
            }
            Ok::<_, Abort<anyhow::Error>>(next)
        })
        .await?;
    }
    Ok(count)
}

/// "Adjective Noun", 256 combinations spread over consecutive numbers.
fn display_name(n: u64) -> String {
    let a = ADJECTIVES[(n % 16) as usize];
    let b = NOUNS[((n / 16 + n * 7) % 16) as usize];
    format!("{a} {b}")
}

fn group(n: u64) -> &'static str {
    match n % 10 {
        0..=6 => "default",
        7 | 8 => "vip",
        _ => "svip",
    }
}

fn status(n: u64) -> i32 {
    if n.is_multiple_of(20) { 2 } else { 1 }
}

/// 8 characters of `[0-9A-Za-z]`, distinct for distinct `n` below 62^8: `n` goes through a
/// bijection of `0..62^8` (an affine map with a multiplier coprime to 62), so consecutive
/// users do not get consecutive codes.
fn aff_code(n: u64) -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const SPACE: u128 = 62u128.pow(8);
    const MULTIPLIER: u128 = 6_364_136_223_846_793;
    const OFFSET: u128 = 1_442_695_040_888_963;
    // 62 = 2 * 31: a multiplier that is odd and not a multiple of 31 makes the map a bijection.
    const _: () = assert!(!MULTIPLIER.is_multiple_of(2) && !MULTIPLIER.is_multiple_of(31));
    let mut x = (u128::from(n) * MULTIPLIER + OFFSET) % SPACE;
    let mut code = [0u8; 8];
    for c in code.iter_mut().rev() {
        *c = ALPHABET[(x % 62) as usize];
        x /= 62;
    }
    code.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use sea_orm::{EntityTrait as _, QueryOrder as _};
    use tollgate_domain::ports::{MatchMode, UserQuery};
    use tollgate_domain::{PageRequest, Role, UserId};

    use super::*;
    use crate::SeaUserRepository;
    use crate::testing::{ScratchDb, backend_of, on_every_backend};

    #[test]
    fn codes_are_distinct_and_alphanumeric() {
        let codes: HashSet<String> = (0..100_000).map(aff_code).collect();
        assert_eq!(codes.len(), 100_000);
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 8 && c.bytes().all(|b| b.is_ascii_alphanumeric()))
        );
        assert_ne!(aff_code(1), aff_code(2));
    }

    #[test]
    fn display_names_vary() {
        let names: HashSet<String> = (1..=1000).map(display_name).collect();
        assert!(names.len() > 100, "{}", names.len());
    }

    #[tokio::test]
    async fn seeds_users_in_batches_on_every_backend() {
        on_every_backend(|db| async move {
            let backend = backend_of(&db);
            let inserted = seed_users(&db, 1234, "Seed", "hash").await.expect("seed");
            assert_eq!(inserted, 1234, "{backend}");
            // A second prefix seeds next to the first without clashing invitation codes.
            assert_eq!(seed_users(&db, 3, "more", "hash").await.expect("seed"), 3);
            let rows = user::Entity::find()
                .order_by_asc(user::Column::Id)
                .all(&db)
                .await
                .expect("read users");
            assert_eq!(rows.len(), 1237, "{backend}");
            let first = &rows[0];
            assert_eq!(first.username, "Seed1", "{backend}");
            assert_eq!(
                first.email.as_deref(),
                Some("seed1@example.com"),
                "{backend}"
            );
            assert_eq!(first.password_hash, "hash", "{backend}");
            assert_eq!(first.setting, r#"{"gotify_priority":0}"#, "{backend}");
            assert_eq!((first.role, first.quota), (1, 0), "{backend}");
            assert_eq!(rows[1233].username, "Seed1234", "{backend}");
            assert_eq!(rows[1236].username, "more3", "{backend}");
            let codes: HashSet<_> = rows.iter().filter_map(|r| r.aff_code.clone()).collect();
            assert_eq!(codes.len(), 1237, "{backend}: unique codes");
            let groups: HashSet<_> = rows.iter().map(|r| r.user_group.as_str()).collect();
            assert_eq!(groups.len(), 3, "{backend}: {groups:?}");
            let disabled = rows.iter().filter(|r| r.status == 2).count();
            assert!((50..=70).contains(&disabled), "{backend}: {disabled}");
            assert!(
                rows.iter()
                    .all(|r| r.created_at > 0 && r.deleted_at.is_none())
            );

            // The seeded users are found by the search: "Seed12" is a prefix of Seed12,
            // Seed120..=Seed129 and Seed1200..=Seed1234 (display names never start "Seed",
            // and the lowercased e-mails do not match case-sensitively).
            let repo = SeaUserRepository::new(db.clone());
            let query = UserQuery {
                keyword: Some("Seed12".into()),
                match_mode: MatchMode::Prefix,
                group: None,
                status: None,
                visible_below: Role::Root,
                also: Some(UserId::new(1)),
                live_only: false,
            };
            let page = repo
                .search_users(&query, PageRequest::default())
                .await
                .expect("search");
            assert_eq!(page.total, 46, "{backend}");
        })
        .await;
    }

    #[tokio::test]
    async fn refuses_long_names_and_at_signs() {
        let scratch = ScratchDb::sqlite().expect("sqlite");
        let db = scratch
            .connect_migrated(1)
            .await
            .expect("migrated database");
        assert!(seed_users(&db, 10, "a@b", "h").await.is_err());
        assert!(
            seed_users(&db, 1000, "eighteen-chars-xyz", "h")
                .await
                .is_err()
        );
        assert_eq!(seed_users(&db, 0, "x", "h").await.expect("nothing"), 0);
        assert_eq!(
            seed_users(&db, 9, "nineteen-chars-xyz", "h")
                .await
                .expect("ok"),
            9
        );
    }
}
