//! [`OptionsRepository`] over sea-orm.

use std::collections::BTreeMap;

use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, DatabaseConnection, EntityTrait as _, QueryFilter as _,
};
use tollgate_domain::RepoError;
use tollgate_domain::audit::AuditEntry;
use tollgate_domain::ports::OptionsRepository;

use crate::entities::option;
use crate::error::unexpected;
use crate::txn;

/// [`OptionsRepository`] over sea-orm.
#[derive(Debug, Clone)]
pub struct SeaOptionsRepository {
    db: DatabaseConnection,
}

impl SeaOptionsRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl OptionsRepository for SeaOptionsRepository {
    async fn load(&self) -> Result<BTreeMap<String, String>, RepoError> {
        let rows = option::Entity::find()
            .all(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to read options"))?;
        Ok(rows.into_iter().map(|r| (r.name, r.value)).collect())
    }

    async fn save(
        &self,
        values: &[(String, String)],
        audit: &[AuditEntry],
        now: i64,
    ) -> Result<(), RepoError> {
        txn::write(&self.db, "failed to save options", async |txn| {
            for (name, value) in values {
                // Update, else insert: portable across the three backends (no upsert syntax).
                let updated = option::Entity::update_many()
                    .col_expr(option::Column::Value, Expr::value(value.as_str()))
                    .col_expr(option::Column::UpdatedAt, Expr::value(now))
                    .filter(option::Column::Name.eq(name.as_str()))
                    .exec(txn)
                    .await?;
                if updated.rows_affected == 0 {
                    option::Entity::insert(option::ActiveModel {
                        name: Set(name.clone()),
                        value: Set(value.clone()),
                        updated_at: Set(now),
                    })
                    .exec_without_returning(txn)
                    .await?;
                }
            }
            for entry in audit {
                crate::audit::insert(txn, entry).await?;
            }
            Ok(())
        })
        .await
    }
}
