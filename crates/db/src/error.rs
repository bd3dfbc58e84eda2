//! Small helpers shared by the adapters: error translation, rollback and the wall clock.

use std::time::{SystemTime, UNIX_EPOCH};

use sea_orm::{DatabaseTransaction, DbErr, SqlErr};

/// Whether the statement broke a unique key, on any backend.
pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Wraps a database error that is not a business outcome, saying what was attempted.
pub(crate) fn unexpected(err: DbErr, what: &'static str) -> anyhow::Error {
    anyhow::Error::new(err).context(what)
}

/// Rolls back a transaction whose outcome is already decided (an error is being returned), so
/// a failing rollback is only logged.
pub(crate) async fn rollback(txn: DatabaseTransaction) {
    if let Err(err) = txn.rollback().await {
        tracing::warn!(error = %err, "failed to roll back a transaction");
    }
}

/// Ends a write transaction whose work produced `outcome`: commits on success, rolls back on
/// failure. Either failure is reported with `what` ("failed to ...") as context.
pub(crate) async fn finish<T>(
    txn: DatabaseTransaction,
    outcome: Result<T, DbErr>,
    what: &'static str,
) -> Result<T, anyhow::Error> {
    match outcome {
        Ok(value) => {
            txn.commit().await.map_err(|e| unexpected(e, what))?;
            Ok(value)
        }
        Err(e) => {
            rollback(txn).await;
            Err(unexpected(e, what))
        }
    }
}

/// The current unix time, for `updated_at` only: business times come from the callers.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
