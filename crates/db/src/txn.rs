//! The one way the adapters write in a transaction: [`write`] begins it, runs the work and is
//! the only code that commits or rolls back.

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait as _,
};

use crate::error::unexpected;

/// Why the work of a write transaction stopped; every variant rolls the transaction back.
///
/// `?` converts a [`DbErr`] and an [`anyhow::Error`], so the work reads as a straight line;
/// a business refusal is returned as `Err(Abort::Refused(..))`.
#[derive(Debug)]
pub(crate) enum Abort<E> {
    /// A business outcome, handed to the caller as is.
    Refused(E),
    /// A database failure, reported with the transaction's description.
    Db(DbErr),
    /// Any other failure, already described.
    Unexpected(anyhow::Error),
}

impl<E> From<DbErr> for Abort<E> {
    fn from(err: DbErr) -> Self {
        Self::Db(err)
    }
}

impl<E> From<anyhow::Error> for Abort<E> {
    fn from(err: anyhow::Error) -> Self {
        Self::Unexpected(err)
    }
}

/// Runs `work` in one write transaction: commits when it returns `Ok`, rolls back when it
/// returns `Err`. A failure to begin or to commit is an error; a failure to roll back is only
/// logged, since the outcome is already decided.
///
/// `what` ("failed to ...") describes database failures of the work and of the commit.
///
/// On SQLite the transaction is `BEGIN IMMEDIATE`: a deferred transaction that reads first and
/// then writes fails with `SQLITE_BUSY` when another writer got in between, and the busy
/// timeout does not help. Other backends ignore the mode.
pub(crate) async fn write<T, E>(
    db: &DatabaseConnection,
    what: &'static str,
    work: impl AsyncFnOnce(&DatabaseTransaction) -> Result<T, Abort<E>>,
) -> Result<T, E>
where
    E: From<anyhow::Error>,
{
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await
        .map_err(|e| unexpected(e, "failed to begin a transaction"))?;
    match work(&txn).await {
        Ok(value) => {
            txn.commit().await.map_err(|e| unexpected(e, what))?;
            Ok(value)
        }
        Err(abort) => {
            if let Err(err) = txn.rollback().await {
                tracing::warn!(error = %err, "failed to roll back a transaction");
            }
            Err(match abort {
                Abort::Refused(refusal) => refusal,
                Abort::Db(err) => unexpected(err, what).into(),
                Abort::Unexpected(err) => err.into(),
            })
        }
    }
}
