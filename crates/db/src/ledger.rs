//! The quota ledger: [`apply_entry`] is the ONLY code allowed to change `users.quota` or
//! `users.aff_quota`, and [`SeaLedgerRepository`] audits that balances match their entries.

use anyhow::anyhow;
use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait as _, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait as _,
    IdenStatic as _, QueryFilter as _, QuerySelect as _, Statement,
};
use tollgate_domain::ports::LedgerRepository;
use tollgate_domain::{Account, Imbalance, LedgerEntry, RepoError, UserId};

use crate::entities::{ledger, user};
use crate::error::{is_unique_violation, unexpected, unix_now};

/// Why [`apply_entry`] applied nothing. The caller must roll its transaction back.
#[derive(Debug)]
pub(crate) enum ApplyError {
    /// The user row does not exist or is soft-deleted.
    UserMissing,
    /// The balance would exceed `i64::MAX`.
    Overflow,
    /// The balance would drop below zero.
    Insufficient,
    /// An entry with the same (kind, reference) was already recorded.
    AlreadyApplied,
    /// The database failed.
    Db(anyhow::Error),
}

impl From<anyhow::Error> for ApplyError {
    fn from(err: anyhow::Error) -> Self {
        Self::Db(err)
    }
}

/// Applies one ledger entry inside the caller's transaction and returns the new balance.
///
/// A single conditional `UPDATE` moves the balance only when the result stays within
/// `0..=i64::MAX` ([`LedgerEntry::allowed_balance_range`]), so concurrent entries can never
/// overdraw or overflow. The new balance is read back with a `SELECT` (MySQL has no
/// `UPDATE ... RETURNING`), then the ledger row is inserted; its unique (kind, reference) key
/// makes a replayed event fail with [`ApplyError::AlreadyApplied`].
pub(crate) async fn apply_entry<C: ConnectionTrait>(
    txn: &C,
    entry: &LedgerEntry,
    now: i64,
) -> Result<i64, ApplyError> {
    let column = balance_column(entry.account());
    let user_id = entry.user_id().get();
    let (lo, hi) = entry.allowed_balance_range();
    let updated = user::Entity::update_many()
        .col_expr(column, Expr::col(column).add(entry.delta()))
        .col_expr(user::Column::UpdatedAt, Expr::value(unix_now()))
        .filter(user::Column::Id.eq(user_id))
        .filter(user::Column::DeletedAt.is_null())
        .filter(column.between(lo, hi))
        .exec(txn)
        .await
        .map_err(|e| ApplyError::Db(unexpected(e, "failed to update a balance")))?;

    if updated.rows_affected == 0 {
        // Nothing matched: tell a missing account from a balance out of range.
        return Err(match find_live_user(txn, user_id).await? {
            None => ApplyError::UserMissing,
            Some(_) if entry.delta() > 0 => ApplyError::Overflow,
            Some(_) => ApplyError::Insufficient,
        });
    }

    let balance_after = find_live_user(txn, user_id)
        .await?
        .map(|u| balance_of(&u, entry.account()))
        .ok_or_else(|| ApplyError::Db(anyhow!("the user row vanished after its update")))?;

    let row = ledger::ActiveModel {
        id: NotSet,
        user_id: Set(user_id),
        account: Set(entry.account().as_str().to_owned()),
        delta: Set(entry.delta()),
        balance_after: Set(balance_after),
        kind: Set(entry.kind().as_str().to_owned()),
        reference: Set(entry.reference().to_owned()),
        actor_id: Set(entry.actor_id().map(UserId::get)),
        created_at: Set(now),
    };
    match ledger::Entity::insert(row)
        .exec_without_returning(txn)
        .await
    {
        Ok(_) => {
            crate::counters::note(entry);
            Ok(balance_after)
        }
        Err(e) if is_unique_violation(&e) => Err(ApplyError::AlreadyApplied),
        Err(e) => Err(ApplyError::Db(unexpected(
            e,
            "failed to insert a ledger entry",
        ))),
    }
}

fn balance_column(account: Account) -> user::Column {
    match account {
        Account::Quota => user::Column::Quota,
        Account::AffQuota => user::Column::AffQuota,
    }
}

fn balance_of(user: &user::Model, account: Account) -> i64 {
    match account {
        Account::Quota => user.quota,
        Account::AffQuota => user.aff_quota,
    }
}

/// A locking read, so MySQL's REPEATABLE READ answers with the latest committed row rather
/// than the transaction's older snapshot (SQLite has no row locks and needs none).
async fn find_live_user<C: ConnectionTrait>(
    txn: &C,
    user_id: i64,
) -> Result<Option<user::Model>, ApplyError> {
    user::Entity::find_by_id(user_id)
        .filter(user::Column::DeletedAt.is_null())
        .lock_shared()
        .one(txn)
        .await
        .map_err(|e| ApplyError::Db(unexpected(e, "failed to read a balance")))
}

/// [`LedgerRepository`] over sea-orm.
#[derive(Debug, Clone)]
pub struct SeaLedgerRepository {
    db: DatabaseConnection,
}

impl SeaLedgerRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    async fn imbalances_of(&self, account: Account) -> Result<Vec<Imbalance>, RepoError> {
        let backend = self.db.get_database_backend();
        let balance = balance_column(account).as_str();
        // SUM of BIGINT is NUMERIC on PostgreSQL and DECIMAL on MySQL; cast it back so it
        // decodes as i64. SQLite's SUM of integers is already an integer.
        let sum = match backend {
            DbBackend::Postgres => "CAST(COALESCE(SUM(l.delta), 0) AS BIGINT)",
            DbBackend::MySql => "CAST(COALESCE(SUM(l.delta), 0) AS SIGNED)",
            _ => "COALESCE(SUM(l.delta), 0)",
        };
        let param = if backend == DbBackend::Postgres {
            "$1"
        } else {
            "?"
        };
        let sql = format!(
            "SELECT u.id AS user_id, u.{balance} AS balance, {sum} AS ledger_sum \
             FROM users u LEFT JOIN ledger l ON l.user_id = u.id AND l.account = {param} \
             GROUP BY u.id, u.{balance} \
             HAVING u.{balance} <> COALESCE(SUM(l.delta), 0) \
             ORDER BY u.id"
        );
        let stmt = Statement::from_sql_and_values(backend, sql, [account.as_str().into()]);
        let rows = self
            .db
            .query_all_raw(stmt)
            .await
            .map_err(|e| unexpected(e, "failed to compare balances with the ledger"))?;
        rows.iter()
            .map(|row| {
                Ok(Imbalance {
                    user_id: UserId::new(row.try_get("", "user_id")?),
                    account,
                    balance: row.try_get("", "balance")?,
                    ledger_sum: row.try_get("", "ledger_sum")?,
                })
            })
            .collect::<Result<_, sea_orm::DbErr>>()
            .map_err(|e| RepoError(unexpected(e, "failed to decode a ledger imbalance")))
    }
}

#[async_trait]
impl LedgerRepository for SeaLedgerRepository {
    #[tracing::instrument(skip_all)]
    async fn imbalances(&self) -> Result<Vec<Imbalance>, RepoError> {
        let mut all = self.imbalances_of(Account::Quota).await?;
        all.extend(self.imbalances_of(Account::AffQuota).await?);
        Ok(all)
    }
}

#[cfg(test)]
#[cfg(feature = "testing")]
mod tests {
    //! The refusals of [`apply_entry`] that no port exposes yet (debits, replays, the
    //! `aff_quota` account), on every configured backend.

    use sea_orm::{ConnectionTrait as _, DatabaseConnection};
    use tollgate_domain::{LedgerKind, ports::LedgerRepository as _};

    use super::*;
    use crate::testing::{backend_of, on_every_backend};
    use crate::txn::{self, Abort};

    async fn apply(db: &DatabaseConnection, entry: &LedgerEntry) -> Result<i64, ApplyError> {
        txn::write(db, "failed to apply an entry", async |txn| {
            apply_entry(txn, entry, 1_000).await.map_err(Abort::Refused)
        })
        .await
    }

    fn entry(user: i64, account: Account, delta: i64, reference: &str) -> LedgerEntry {
        LedgerEntry::new(
            UserId::new(user),
            account,
            delta,
            LedgerKind::Redemption,
            reference,
            None,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn debits_replays_and_missing_users_apply_nothing() {
        on_every_backend(|db| async move {
            let backend = backend_of(&db);
            db.execute_unprepared(
                "INSERT INTO users (username, password_hash, display_name, setting, \
                 created_at, updated_at) VALUES ('u', '', 'u', '{}', 0, 0)",
            )
            .await
            .unwrap();
            let id = user::Entity::find().one(&db).await.unwrap().unwrap().id;

            let ok = apply(&db, &entry(id, Account::AffQuota, 10, "a")).await;
            assert_eq!(ok.unwrap(), 10, "{backend}");
            let ok = apply(&db, &entry(id, Account::AffQuota, -10, "b")).await;
            assert_eq!(ok.unwrap(), 0, "{backend}: a debit to exactly zero");
            let res = apply(&db, &entry(id, Account::AffQuota, -1, "c")).await;
            assert!(
                matches!(res, Err(ApplyError::Insufficient)),
                "{backend}: {res:?}"
            );
            let res = apply(&db, &entry(id, Account::Quota, 5, "a")).await;
            assert!(
                matches!(res, Err(ApplyError::AlreadyApplied)),
                "{backend}: {res:?}"
            );
            let res = apply(&db, &entry(id + 1, Account::Quota, 5, "d")).await;
            assert!(
                matches!(res, Err(ApplyError::UserMissing)),
                "{backend}: {res:?}"
            );

            let user = user::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (user.quota, user.aff_quota),
                (0, 0),
                "{backend}: replay rolled back"
            );
            let imbalances = SeaLedgerRepository::new(db.clone())
                .imbalances()
                .await
                .unwrap();
            assert_eq!(imbalances, [], "{backend}");
        })
        .await;
    }

    /// The value of the series of `name` whose labels include every pair of `labels`.
    fn series(text: &str, name: &str, labels: &[&str]) -> u64 {
        text.lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .find(|l| labels.iter().all(|pair| l.contains(pair)))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0)
    }

    /// `tollgate_ledger_*` count what committed: an entry of a transaction that rolls back
    /// afterwards is not counted.
    #[test]
    fn entries_are_counted_once_their_transaction_commits() {
        use crate::counters::{LEDGER_ENTRIES_TOTAL, LEDGER_UNITS_TOTAL};

        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let labels = [
            r#"kind="redemption""#,
            r#"account="aff_quota""#,
            r#"direction="credit""#,
        ];
        // The local recorder is this thread's, and so are the tasks of a current-thread
        // runtime.
        metrics::with_local_recorder(&recorder, || {
            runtime.block_on(on_every_backend(move |db| {
                let handle = handle.clone();
                async move {
                    let backend = backend_of(&db);
                    db.execute_unprepared(
                        "INSERT INTO users (username, password_hash, display_name, setting, \
                         created_at, updated_at) VALUES ('u', '', 'u', '{}', 0, 0)",
                    )
                    .await
                    .unwrap();
                    let id = user::Entity::find().one(&db).await.unwrap().unwrap().id;
                    let counted = || {
                        let text = handle.render();
                        (
                            series(&text, LEDGER_ENTRIES_TOTAL, &labels),
                            series(&text, LEDGER_UNITS_TOTAL, &labels),
                        )
                    };
                    let (entries, units) = counted();

                    let rolled_back = txn::write(&db, "failed to test", async |txn| {
                        let e = entry(id, Account::AffQuota, 7, "rolled-back");
                        apply_entry(txn, &e, 1_000).await.map_err(Abort::Refused)?;
                        Err::<(), _>(Abort::Refused(ApplyError::Insufficient))
                    })
                    .await;
                    assert!(rolled_back.is_err(), "{backend}");
                    assert_eq!(counted(), (entries, units), "{backend}: rolled back");

                    apply(&db, &entry(id, Account::AffQuota, 7, "kept"))
                        .await
                        .unwrap();
                    assert_eq!(counted(), (entries + 1, units + 7), "{backend}: committed");
                }
            }))
        });
    }
}
