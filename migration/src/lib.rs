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

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_users_table::Migration),
            Box::new(m20261121_000002_create_sessions_table::Migration),
            Box::new(m20261121_000003_create_redemptions_table::Migration),
            Box::new(m20261121_000004_create_ledger_table::Migration),
        ]
    }
}
