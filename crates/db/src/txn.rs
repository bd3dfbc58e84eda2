//! The one way the adapters write in a transaction: [`write`] begins it, runs the work and is
//! the only code that commits or rolls back.

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait as _,
};

use crate::counters::Journal;
use crate::error::{is_transient_conflict, unexpected};

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

/// How many times [`write`] runs a transaction that the database aborted to break a deadlock
/// or a serialization conflict.
const ATTEMPTS: u32 = 4;

/// Runs `work` in one write transaction: commits when it returns `Ok`, rolls back when it
/// returns `Err`. A failure to begin or to commit is an error; a failure to roll back is only
/// logged, since the outcome is already decided.
///
/// When the database aborts the transaction to break a deadlock or a serialization conflict
/// (MariaDB/MySQL and PostgreSQL may pick any of two conflicting transactions as the victim),
/// nothing of it was applied, and `work` runs again in a new transaction, up to [`ATTEMPTS`]
/// times in all. `work` therefore only talks to the database: it has no other effects. (It is
/// `Clone` rather than `AsyncFn` because the futures of a borrowed async closure are not `Send`
/// to the compiler; a closure that captures only references is `Copy`.)
///
/// `what` ("failed to ...") describes database failures of the work and of the commit.
///
/// On SQLite the transaction is `BEGIN IMMEDIATE`: a deferred transaction that reads first and
/// then writes fails with `SQLITE_BUSY` when another writer got in between, and the busy
/// timeout does not help. Other backends ignore the mode.
pub(crate) async fn write<T, E>(
    db: &DatabaseConnection,
    what: &'static str,
    work: impl AsyncFnOnce(&DatabaseTransaction) -> Result<T, Abort<E>> + Clone,
) -> Result<T, E>
where
    E: From<anyhow::Error>,
{
    let mut attempt = 1;
    loop {
        let txn = db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await
            .map_err(|e| unexpected(e, "failed to begin a transaction"))?;
        // The ledger entries this attempt applies, counted only once it committed.
        let journal = Journal::default();
        let outcome = match journal.around(work.clone()(&txn)).await {
            Ok(value) => match txn.commit().await {
                Ok(()) => {
                    journal.emit();
                    Ok(value)
                }
                Err(err) => Err(Abort::Db(err)),
            },
            Err(abort) => {
                if let Err(err) = txn.rollback().await {
                    tracing::warn!(error = %err, "failed to roll back a transaction");
                }
                Err(abort)
            }
        };
        match outcome {
            Err(Abort::Db(err)) if attempt < ATTEMPTS && is_transient_conflict(&err) => {
                tracing::debug!(error = %err, attempt, "transaction aborted by a conflict; retrying");
                attempt += 1;
            }
            Ok(value) => return Ok(value),
            Err(Abort::Refused(refusal)) => return Err(refusal),
            Err(Abort::Db(err)) => return Err(unexpected(err, what).into()),
            Err(Abort::Unexpected(err)) => return Err(err.into()),
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

    /// Two transactions lock two rows in opposite orders: the database aborts one of them to
    /// break the deadlock, and [`write`] runs that one again, so both apply exactly once.
    /// (SQLite takes the write lock at `BEGIN IMMEDIATE`, so there the two simply queue.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_deadlock_victim_runs_again_and_both_writes_apply_once() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

        async fn bump(txn: &DatabaseTransaction, name: &str) -> Result<(), DbErr> {
            txn.execute_unprepared(&format!(
                "UPDATE options SET updated_at = updated_at + 1 WHERE name = '{name}'"
            ))
            .await
            .map(|_| ())
        }

        on_every_backend(|db| async move {
            let backend = backend_of(&db);
            let server = backend != crate::testing::Backend::Sqlite;
            for name in ["txn-a", "txn-b"] {
                db.execute_unprepared(&format!(
                    "INSERT INTO options (name, value, updated_at) VALUES ('{name}', 'v', 0)"
                ))
                .await
                .unwrap();
            }
            let barrier = Arc::new(tokio::sync::Barrier::new(2));
            let attempts = Arc::new(AtomicU32::new(0));
            let mut tasks = tokio::task::JoinSet::new();
            for (first, second) in [("txn-a", "txn-b"), ("txn-b", "txn-a")] {
                let (db, barrier, attempts) = (db.clone(), barrier.clone(), attempts.clone());
                tasks.spawn(async move {
                    let fresh = AtomicBool::new(true);
                    let (barrier, attempts, fresh) = (&barrier, &attempts, &fresh);
                    write(&db, "failed to test", async |txn| {
                        attempts.fetch_add(1, Ordering::SeqCst);
                        bump(txn, first).await?;
                        // Only the first attempts meet, each holding its first row.
                        if server && fresh.swap(false, Ordering::SeqCst) {
                            barrier.wait().await;
                        }
                        bump(txn, second).await?;
                        Ok::<_, Abort<Failure>>(())
                    })
                    .await
                });
            }
            for outcome in tasks.join_all().await {
                assert!(outcome.is_ok(), "{backend}: {outcome:?}");
            }
            let expected = if server { 3 } else { 2 };
            assert_eq!(attempts.load(Ordering::SeqCst), expected, "{backend}");
            let stmt = Statement::from_string(
                db.get_database_backend(),
                "SELECT updated_at FROM options WHERE name LIKE 'txn-%' ORDER BY name",
            );
            let bumps: Vec<i64> = db
                .query_all_raw(stmt)
                .await
                .unwrap()
                .iter()
                .map(|row| row.try_get_by_index::<i64>(0).unwrap())
                .collect();
            assert_eq!(bumps, [2, 2], "{backend}: each write applied exactly once");
        })
        .await;
    }
}
