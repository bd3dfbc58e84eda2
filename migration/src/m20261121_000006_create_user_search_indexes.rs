//! Indexes for the admin user search (prefix match on username, display name and e-mail).
//!
//! The search ORs one prefix predicate per column, so every column needs its own index for the
//! planners to combine them (SQLite's OR optimisation, PostgreSQL's BitmapOr, MySQL's
//! index_merge). How the adapter phrases the predicate decides which index serves it:
//!
//! - SQLite: a range `col >= kw AND col < next(kw)` under the BINARY collation, served by any
//!   plain index; username and e-mail already have their unique ones.
//! - MySQL/MariaDB: `col LIKE 'kw%'` on `utf8mb4_bin` columns is a range on a plain index;
//!   username and e-mail already have their unique ones.
//! - PostgreSQL: the range is written `col COLLATE "C" >= ...`, because the database's default
//!   collation may not order by code point (`en_US.UTF-8` does not). Only an index built with
//!   the same collation serves it, so all three columns get a `COLLATE "C"` index.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    DisplayName,
}

/// PostgreSQL: (index, column) pairs, each indexed under `COLLATE "C"`.
const POSTGRES_INDEXES: [(&str, &str); 3] = [
    ("idx_users_username_c", "username"),
    ("idx_users_email_c", "email"),
    ("idx_users_display_name_c", "display_name"),
];

/// SQLite and MySQL: the display name's index (username and e-mail have unique ones).
const DISPLAY_NAME_INDEX: &str = "idx_users_display_name";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            let db = manager.get_connection();
            for (name, column) in POSTGRES_INDEXES {
                db.execute_unprepared(&format!(
                    r#"CREATE INDEX "{name}" ON "users" ("{column}" COLLATE "C")"#
                ))
                .await?;
            }
            return Ok(());
        }
        manager
            .create_index(
                Index::create()
                    .name(DISPLAY_NAME_INDEX)
                    .table(Users::Table)
                    .col(Users::DisplayName)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            let db = manager.get_connection();
            for (name, _) in POSTGRES_INDEXES {
                db.execute_unprepared(&format!(r#"DROP INDEX IF EXISTS "{name}""#))
                    .await?;
            }
            return Ok(());
        }
        manager
            .drop_index(
                Index::drop()
                    .name(DISPLAY_NAME_INDEX)
                    .table(Users::Table)
                    .to_owned(),
            )
            .await
    }
}
