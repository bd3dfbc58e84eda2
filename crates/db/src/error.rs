//! Small helpers shared by the adapters: error translation and the wall clock.

use std::time::{SystemTime, UNIX_EPOCH};

use sea_orm::{DbErr, SqlErr};

/// Whether the statement broke a unique key, on any backend.
pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
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
