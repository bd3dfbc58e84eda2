//! Tollgate's schema migrations. Frozen history: a migration is never edited after it lands;
//! a change is a new file. No dependency on the domain or on entities.
//!
//! Portable across SQLite, PostgreSQL and MySQL/MariaDB. Columns avoid the words MySQL
//! reserves (`key`, `group`): a code is `code`, a user's group is `user_group`. Times are
//! unix seconds in BIGINT columns; money is BIGINT quota units.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_create_users_table;
mod m20261121_000002_create_sessions_table;
mod m20261121_000003_create_redemptions_table;
mod m20261121_000004_create_ledger_table;
mod m20261121_000005_create_app_secrets_table;
mod m20261121_000006_create_user_search_indexes;
mod m20261121_000007_create_audit_table;
mod m20261121_000008_create_options_table;
mod m20261201_000009_index_redemptions_by_creator;
pub mod m20261201_000011_add_username_key;
mod m20261201_000012_add_audit_roles;
mod m20261201_000013_create_refresh_token_uses_table;
mod m20261201_000014_create_top_ups_table;
mod m20261201_000015_create_two_factor_tables;

pub struct Migrator;

/// Creates a table with the same text semantics on every backend. MySQL/MariaDB compare text
/// case- and accent-insensitively by default (`utf8mb4_general_ci`), so "Alice" would collide
/// with "alice" there but not on SQLite or PostgreSQL; a binary collation makes usernames,
/// codes and token hashes compare byte for byte everywhere. Released migrations call this, so
/// its behaviour must never change.
pub(crate) async fn create_table(
    manager: &SchemaManager<'_>,
    mut table: TableCreateStatement,
) -> Result<(), DbErr> {
    if manager.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::MySql {
        table.character_set("utf8mb4").collate("utf8mb4_bin");
    }
    manager.create_table(table).await
}

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_users_table::Migration),
            Box::new(m20261121_000002_create_sessions_table::Migration),
            Box::new(m20261121_000003_create_redemptions_table::Migration),
            Box::new(m20261121_000004_create_ledger_table::Migration),
            Box::new(m20261121_000005_create_app_secrets_table::Migration),
            Box::new(m20261121_000006_create_user_search_indexes::Migration),
            Box::new(m20261121_000007_create_audit_table::Migration),
            Box::new(m20261121_000008_create_options_table::Migration),
            Box::new(m20261201_000009_index_redemptions_by_creator::Migration),
            Box::new(m20261201_000011_add_username_key::Migration),
            Box::new(m20261201_000012_add_audit_roles::Migration),
            Box::new(m20261201_000013_create_refresh_token_uses_table::Migration),
            Box::new(m20261201_000014_create_top_ups_table::Migration),
            Box::new(m20261201_000015_create_two_factor_tables::Migration),
        ]
    }
}
