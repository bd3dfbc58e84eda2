//! Small helpers shared by the adapters: error translation and the wall clock.

use std::time::{SystemTime, UNIX_EPOCH};

use sea_orm::{DbErr, SqlErr};

/// Whether the statement broke a unique key, on any backend.
pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Whether the database aborted the transaction to break a deadlock or a serialization
/// conflict (SQLSTATE `40001`, which is also MySQL/MariaDB's deadlock 1213, or PostgreSQL's
/// `40P01`). Such a transaction did nothing and may simply run again.
pub(crate) fn is_transient_conflict(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    let (DbErr::Conn(RuntimeErr::SqlxError(e))
    | DbErr::Exec(RuntimeErr::SqlxError(e))
    | DbErr::Query(RuntimeErr::SqlxError(e))) = err
    else {
        return false;
    };
    let sea_orm::sqlx::Error::Database(e) = &**e else {
        return false;
    };
    matches!(e.code().as_deref(), Some("40001" | "40P01"))
}

/// Wraps a database error that is not a business outcome, saying what was attempted.
pub(crate) fn unexpected(err: DbErr, what: &'static str) -> anyhow::Error {
    anyhow::Error::new(err).context(what)
}

/// The current unix time, for `updated_at` only: business times come from the callers.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
