//! Issue 7.6: `users.username_key`, the canonical key of a username (NFKC, case-folded, UTS 39
//! confusable skeleton), under a unique index, so `ROOT`, `ｒｏｏｔ` or `rоot` (Cyrillic `о`)
//! cannot register beside `root`.
//!
//! Existing rows are backfilled in id order. Older rows win: a row whose key an earlier row
//! already holds keeps `NULL` (unique indexes allow many `NULL`s on every backend), so the
//! migration never fails on names that collide under the new rule. Such a user keeps its
//! name and logs in by it as before; a new name it picks gets a key.
//!
//! [`username_key`] is a frozen copy of `tollgate_domain::user::username_key` (migrations do
//! not depend on the domain); `tests` checks that the two agree.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    UsernameKey,
}

const INDEX: &str = "idx_users_username_key";

/// The key as the domain computed it when this migration was written.
pub fn username_key(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    let fold = |s: &str| s.to_uppercase().to_lowercase();
    let folded = fold(&name.nfkc().collect::<String>());
    let skeleton: String = unicode_security::skeleton(&folded).collect();
    fold(&skeleton)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(ColumnDef::new(Users::UsernameKey).string_len(255).null())
                    .to_owned(),
            )
            .await?;

        let db = manager.get_connection();
        let rows = db
            .query_all(
                &Query::select()
                    .columns([Users::Id, Users::Username])
                    .from(Users::Table)
                    .order_by(Users::Id, Order::Asc)
                    .to_owned(),
            )
            .await?;
        let mut seen = std::collections::HashSet::new();
        for row in rows {
            let id: i64 = row.try_get("", "id")?;
            let username: String = row.try_get("", "username")?;
            let key = username_key(&username);
            if !seen.insert(key.clone()) {
                // A later duplicate keeps NULL; see the module comment.
                continue;
            }
            db.execute(
                &Query::update()
                    .table(Users::Table)
                    .value(Users::UsernameKey, key)
                    .and_where(Expr::col(Users::Id).eq(id))
                    .to_owned(),
            )
            .await?;
        }

        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Users::Table)
                    .col(Users::UsernameKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Users::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::UsernameKey)
                    .to_owned(),
            )
            .await
    }
}
