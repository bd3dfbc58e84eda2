//! The connection pool's occupancy, for the `tollgate_db_pool_*` gauges of `/metrics`.

use sea_orm::{DatabaseConnection, DatabaseConnectionType};

/// The pool's connections at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections, idle ones included.
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most connections the pool opens (`database_max_connections`).
    pub max: u32,
}

impl PoolStats {
    /// Connections checked out by a query or a transaction.
    pub fn in_use(&self) -> u32 {
        self.size.saturating_sub(self.idle)
    }
}

/// The occupancy of `db`'s pool. Every backend Tollgate connects to (SQLite, PostgreSQL,
/// MySQL) is an sqlx pool and reports it; `None` only for a connection that is not a pool.
pub fn pool_stats(db: &DatabaseConnection) -> Option<PoolStats> {
    fn of<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> PoolStats {
        PoolStats {
            size: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        }
    }
    match &db.inner {
        DatabaseConnectionType::SqlxSqlitePoolConnection(_) => {
            Some(of(db.get_sqlite_connection_pool()))
        }
        DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
            Some(of(db.get_postgres_connection_pool()))
        }
        DatabaseConnectionType::SqlxMySqlPoolConnection(_) => {
            Some(of(db.get_mysql_connection_pool()))
        }
        _ => None,
    }
}

#[cfg(test)]
#[cfg(feature = "testing")]
mod tests {
    use super::*;
    use crate::testing::on_every_backend;

    #[tokio::test]
    async fn every_backend_reports_its_pool() {
        on_every_backend(|db| async move {
            let stats = pool_stats(&db).expect("an sqlx pool");
            assert!(stats.size >= 1, "{stats:?}");
            assert!(stats.idle <= stats.size, "{stats:?}");
            assert!(stats.max >= stats.size, "{stats:?}");
            assert_eq!(stats.in_use(), stats.size - stats.idle);
        })
        .await;
    }
}
