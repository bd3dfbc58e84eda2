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

#[cfg(test)]
#[cfg(feature = "testing")]
mod tests {
    use sea_orm::{ConnectionTrait as _, DatabaseConnection, Statement};

    use super::*;
    use crate::testing::{backend_of, on_every_backend};

    /// What the tests' work returns when it does not succeed.
    #[derive(Debug)]
    enum Failure {
        Refused(&'static str),
        Unexpected(anyhow::Error),
    }

    impl From<anyhow::Error> for Failure {
        fn from(err: anyhow::Error) -> Self {
            Self::Unexpected(err)
        }
    }

    async fn insert_option(txn: &DatabaseTransaction, name: &str) -> Result<(), DbErr> {
        txn.execute_unprepared(&format!(
            "INSERT INTO options (name, value, updated_at) VALUES ('{name}', 'v', 0)"
        ))
        .await
        .map(|_| ())
    }

    async fn stored(db: &DatabaseConnection) -> Vec<String> {
        let stmt = Statement::from_string(
            db.get_database_backend(),
            "SELECT name FROM options WHERE name LIKE 'txn-%' ORDER BY name",
        );
        db.query_all_raw(stmt)
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get_by_index::<String>(0).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn commits_on_ok_and_rolls_back_every_kind_of_err() {
        on_every_backend(|db| async move {
            let backend = backend_of(&db);
            let done = write(&db, "failed to test", async |txn| {
                insert_option(txn, "txn-kept").await?;
                Ok::<_, Abort<Failure>>(7)
            })
            .await;
            assert_eq!(done.unwrap(), 7, "{backend}");

            let refused = write(&db, "failed to test", async |txn| {
                insert_option(txn, "txn-refused").await?;
                Err::<(), _>(Abort::Refused(Failure::Refused("no")))
            })
            .await;
            assert!(
                matches!(refused, Err(Failure::Refused("no"))),
                "{backend}: a refusal is returned as is: {refused:?}"
            );

            let broken = write(&db, "failed to test", async |txn| {
                insert_option(txn, "txn-broken").await?;
                insert_option(txn, "txn-kept").await?; // the primary key is taken
                Ok::<_, Abort<Failure>>(())
            })
            .await;
            match broken {
                Err(Failure::Unexpected(e)) => {
                    assert_eq!(e.to_string(), "failed to test", "{backend}: {e:#}");
                }
                other => panic!("{backend}: a database failure is unexpected: {other:?}"),
            }

            let failed = write(&db, "failed to test", async |txn| {
                insert_option(txn, "txn-failed").await?;
                Err::<(), Abort<Failure>>(anyhow::anyhow!("gave up").into())
            })
            .await;
            match failed {
                Err(Failure::Unexpected(e)) => assert_eq!(e.to_string(), "gave up", "{backend}"),
                other => panic!("{backend}: {other:?}"),
            }

            assert_eq!(
                stored(&db).await,
                ["txn-kept"],
                "{backend}: only Ok commits"
            );
        })
        .await;
    }
}
