//! `TopUpRepository`: orders, and the one settlement transaction that credits them.

use tollgate_db::SeaTopUpRepository;
use tollgate_domain::payment::{Decimal, PaymentProvider};
use tollgate_domain::topup::{
    NewTopUp, SettleError, Settled, SettledBy, Settlement, TopUpFilter, TopUpRepository as _,
    TopUpStatus,
};

use super::*;

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn order(user: UserId, trade_no: &str, provider: PaymentProvider, money: &str) -> NewTopUp {
    NewTopUp {
        user_id: user,
        provider,
        payment_method: "alipay".to_owned(),
        trade_no: trade_no.to_owned(),
        amount: 10,
        money: dec(money),
        credited_quota: 5_000_000,
        created_at: NOW,
    }
}

fn settlement(trade_no: &str, provider: PaymentProvider, paid: Option<&str>) -> Settlement {
    Settlement {
        trade_no: trade_no.to_owned(),
        provider,
        paid: paid.map(dec),
        rebate_percent: dec("10"),
        settled_by: SettledBy::Notification,
        now: NOW + 5,
        audit: AuditEntry::new(AuditAction::TopUpSettled, None, None, NOW + 5),
    }
}

async fn one(db: &DatabaseConnection, sql: &str) -> i64 {
    query_i64(db, sql).await[0]
}

async fn quota(db: &DatabaseConnection, user: UserId) -> i64 {
    one(db, &format!("SELECT quota FROM users WHERE id = {user}")).await
}

async fn ledger_rows(db: &DatabaseConnection, kind: &str) -> i64 {
    one(
        db,
        &format!("SELECT COUNT(*) FROM ledger WHERE kind = '{kind}'"),
    )
    .await
}

async fn an_order_settles_once_with_its_rebate_and_audit(db: DatabaseConnection) {
    let repo = SeaTopUpRepository::new(db.clone());
    let inviter = create_user(&db, "inviter", 0).await;
    let alice = create_user(&db, "alice", 0).await;
    exec(
        &db,
        &format!(
            "UPDATE users SET inviter_id = {} WHERE id = {}",
            inviter.id, alice.id
        ),
    )
    .await;
    let created = repo
        .create(&order(alice.id, "T-1", PaymentProvider::Epay, "73.00"))
        .await
        .unwrap();
    assert_eq!(
        (created.status, created.money),
        (TopUpStatus::Pending, dec("73"))
    );
    let found = repo.find_by_trade_no("T-1").await.unwrap().unwrap();
    assert_eq!(found, created, "money round-trips as exact cents");

    let first = repo
        .settle(&settlement("T-1", PaymentProvider::Epay, Some("73")))
        .await
        .unwrap();
    let Settled::Credited { order, rebate } = first else {
        panic!("not credited: {first:?}");
    };
    assert_eq!(
        (order.status, order.completed_at, rebate),
        (TopUpStatus::Success, Some(NOW + 5), 500_000)
    );
    let again = repo
        .settle(&settlement("T-1", PaymentProvider::Epay, Some("73.00")))
        .await
        .unwrap();
    assert!(matches!(again, Settled::AlreadySettled { .. }), "{again:?}");
    assert_eq!(quota(&db, alice.id).await, 5_000_000);
    let aff = one(
        &db,
        &format!("SELECT aff_quota FROM users WHERE id = {}", inviter.id),
    )
    .await;
    assert_eq!(aff, 500_000);
    assert_eq!(ledger_rows(&db, "topup").await, 1);
    assert_eq!(ledger_rows(&db, "topup_rebate").await, 1);
    let audited = one(
        &db,
        &format!(
            "SELECT COUNT(*) FROM audit WHERE action = 'topup.settled' AND target_id = {}",
            alice.id
        ),
    )
    .await;
    assert_eq!(audited, 1);
    assert!(
        SeaLedgerRepository::new(db)
            .imbalances()
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_mismatch_is_refused_recorded_and_credits_nothing(db: DatabaseConnection) {
    let repo = SeaTopUpRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    repo.create(&order(alice.id, "E-1", PaymentProvider::Epay, "73.00"))
        .await
        .unwrap();
    repo.create(&order(alice.id, "S-1", PaymentProvider::Stripe, "24.00"))
        .await
        .unwrap();

    let lower = repo
        .settle(&settlement("E-1", PaymentProvider::Epay, Some("72.99")))
        .await;
    assert!(
        matches!(lower, Err(SettleError::AmountMismatch { .. })),
        "{lower:?}"
    );
    let cross = repo
        .settle(&settlement("S-1", PaymentProvider::Epay, Some("24.00")))
        .await;
    assert!(
        matches!(cross, Err(SettleError::WrongProvider { .. })),
        "{cross:?}"
    );
    let unknown = repo
        .settle(&settlement("nope", PaymentProvider::Epay, None))
        .await;
    assert!(
        matches!(unknown, Err(SettleError::UnknownOrder(_))),
        "{unknown:?}"
    );
    let e1 = repo.find_by_trade_no("E-1").await.unwrap().unwrap();
    assert_eq!(e1.status, TopUpStatus::Pending);
    assert!(e1.failure_reason.unwrap().contains("72.99"));
    assert_eq!(quota(&db, alice.id).await, 0);
    assert_eq!(ledger_rows(&db, "topup").await, 0);

    // A closed order settles nothing and cannot be closed again.
    assert!(
        repo.close("S-1", TopUpStatus::Expired, "expired", NOW)
            .await
            .unwrap()
    );
    assert!(
        !repo
            .close("S-1", TopUpStatus::Failed, "again", NOW)
            .await
            .unwrap()
    );
    let closed = repo
        .settle(&settlement("S-1", PaymentProvider::Stripe, None))
        .await;
    assert!(
        matches!(
            closed,
            Err(SettleError::NotPending {
                status: TopUpStatus::Expired,
                ..
            })
        ),
        "{closed:?}"
    );
    assert!(
        repo.close("E-1", TopUpStatus::Success, "no", NOW)
            .await
            .is_err()
    );
}

async fn orders_are_listed_filtered_and_found_for_reconciliation(db: DatabaseConnection) {
    let repo = SeaTopUpRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    let bob = create_user(&db, "bob", 0).await;
    for (i, user) in [alice.id, bob.id, alice.id].into_iter().enumerate() {
        let mut o = order(
            user,
            &format!("USR{user}NO{i}"),
            PaymentProvider::Epay,
            "7.30",
        );
        o.created_at = NOW + i as i64;
        repo.create(&o).await.unwrap();
    }
    repo.set_provider_ref(&format!("USR{}NO0", alice.id), "cs_test_1")
        .await
        .unwrap();
    let own = repo
        .list_for_user(alice.id, PageRequest::new(Some(1), Some(10)))
        .await
        .unwrap();
    assert_eq!(own.total, 2);
    assert!(own.items[0].id > own.items[1].id, "newest first");
    let filter = TopUpFilter {
        trade_no: Some(format!("USR{}NO", bob.id)),
        ..TopUpFilter::default()
    };
    let found = repo
        .list(&filter, PageRequest::new(None, None))
        .await
        .unwrap();
    assert_eq!(found.total, 1);
    let pending = repo.pending_before(NOW + 1, 10).await.unwrap();
    assert_eq!(
        pending.len(),
        2,
        "created at or before NOW + 1, oldest first"
    );
    assert_eq!(pending[0].provider_ref.as_deref(), Some("cs_test_1"));
}

async fn concurrent_settlements_credit_exactly_once(db: DatabaseConnection) {
    let repo = SeaTopUpRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    repo.create(&order(alice.id, "RACE", PaymentProvider::Epay, "73.00"))
        .await
        .unwrap();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let repo = repo.clone();
        set.spawn(async move {
            repo.settle(&settlement("RACE", PaymentProvider::Epay, Some("73.00")))
                .await
        });
    }
    let outcomes = set.join_all().await;
    let credited = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Settled::Credited { .. })))
        .count();
    assert_eq!(credited, 1, "{outcomes:?}");
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(quota(&db, alice.id).await, 5_000_000);
    assert_eq!(ledger_rows(&db, "topup").await, 1);
}

stories!(
    an_order_settles_once_with_its_rebate_and_audit,
    a_mismatch_is_refused_recorded_and_credits_nothing,
    orders_are_listed_filtered_and_found_for_reconciliation,
    ;
    concurrent:
    concurrent_settlements_credit_exactly_once,
);
