//! The counters this crate emits through the `metrics` facade (no exporter here; the API
//! crate installs one, `tollgate_api::metrics`, which also describes these names): ledger
//! entries and top-up settlements, both counted only once their transaction committed.
//!
//! `ledger::apply_entry` runs inside a write transaction that may still roll back (a later
//! step refuses, the database picks it as a deadlock victim and `txn::write` runs it again),
//! so it only notes the entry in the transaction's journal; `txn::write` counts the journal
//! after the commit.

use std::sync::{Arc, Mutex, PoisonError};

use tollgate_domain::topup::{SettleError, Settled, SettledBy, Settlement};
use tollgate_domain::{Account, LedgerEntry, LedgerKind};

/// Ledger entries applied (committed), by `kind`, `account` and `direction`.
pub const LEDGER_ENTRIES_TOTAL: &str = "tollgate_ledger_entries_total";
/// Quota units the committed entries moved (absolute), by `kind`, `account` and `direction`.
pub const LEDGER_UNITS_TOTAL: &str = "tollgate_ledger_units_total";
/// Top-up settlement attempts, by `provider`, `via` and `outcome`.
pub const TOPUP_SETTLEMENTS_TOTAL: &str = "tollgate_topup_settlements_total";

tokio::task_local! {
    /// The journal of the write transaction the current task is running, if any.
    static JOURNAL: Journal;
}

/// One applied entry, as the counters label it.
#[derive(Debug, Clone, Copy)]
struct Applied {
    kind: LedgerKind,
    account: Account,
    delta: i64,
}

/// The ledger entries one attempt of a write transaction applied, counted after its commit.
#[derive(Debug, Clone, Default)]
pub(crate) struct Journal(Arc<Mutex<Vec<Applied>>>);

impl Journal {
    /// Runs `work` with this journal as the one [`note`] writes to.
    pub(crate) async fn around<F: Future>(&self, work: F) -> F::Output {
        JOURNAL.scope(self.clone(), work).await
    }

    /// Counts the noted entries: call it once the transaction committed.
    pub(crate) fn emit(&self) {
        let applied = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        for a in applied {
            let direction = if a.delta > 0 { "credit" } else { "debit" };
            let labels = [
                ("kind", a.kind.as_str()),
                ("account", a.account.as_str()),
                ("direction", direction),
            ];
            metrics::counter!(LEDGER_ENTRIES_TOTAL, &labels).increment(1);
            metrics::counter!(LEDGER_UNITS_TOTAL, &labels).increment(a.delta.unsigned_abs());
        }
    }
}

/// Notes an applied entry in the current transaction's journal (outside [`Journal::around`]
/// nothing is counted).
pub(crate) fn note(entry: &LedgerEntry) {
    let applied = Applied {
        kind: entry.kind(),
        account: entry.account(),
        delta: entry.delta(),
    };
    let _ = JOURNAL.try_with(|journal| {
        journal
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(applied);
    });
}

/// Counts one settlement attempt (after its transaction ended).
pub(crate) fn settlement(s: &Settlement, result: &Result<Settled, SettleError>) {
    let via = match s.settled_by {
        SettledBy::Notification => "notification",
        SettledBy::Reconciliation => "reconciliation",
        SettledBy::Admin(_) => "admin",
    };
    let outcome = match result {
        Ok(Settled::Credited { .. }) => "credited",
        Ok(Settled::AlreadySettled { .. }) => "already_settled",
        Err(SettleError::Unexpected(_)) => "error",
        Err(_) => "refused",
    };
    metrics::counter!(
        TOPUP_SETTLEMENTS_TOTAL,
        "provider" => s.provider.as_str(),
        "via" => via,
        "outcome" => outcome,
    )
    .increment(1);
}
