//! Contract tests of the sea-orm adapters: one story per behaviour of a port, each run by
//! `tollgate_db::testing::on_every_backend` on a fresh, migrated database of every backend:
//! SQLite always, PostgreSQL when `TEST_DATABASE_URL` is set, MySQL when `TEST_MYSQL_URL` is.
//! One module per port; this file holds the fixtures they share.

// Stories are helper fns, not `#[test]`s, so clippy's allow-unwrap-in-tests does not reach them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sea_orm::{ConnectionTrait as _, DatabaseConnection, Statement};
use tollgate_db::{
    SeaAuditRepository, SeaLedgerRepository, SeaOptionsRepository, SeaReadiness,
    SeaRedemptionRepository, SeaSessionRepository, SeaUserRepository,
};
use tollgate_domain::audit::{AuditAction, AuditEntry, AuditFilter, AuditScope};
use tollgate_domain::ports::{
    AdminChanges, AdminUpdateError, AdminWriteError, AffTransferError, AuditRepository as _,
    CreateUserError, LedgerRepository as _, OptionsRepository as _, Readiness as _,
    RedemptionRepository as _, SessionRepository as _, SetAccessTokenError, StateChange,
    UpdateProfileError, UserRepository as _,
};
use tollgate_domain::{
    Account, AvatarUrl, CreateRedemptionsError, DisplayName, Email, Imbalance, LedgerKind, MintCap,
    NewRedemption, NewSession, NewUser, PageRequest, Phone, ProfileChanges, RedeemError,
    Redemption, RedemptionStatus, Remark, Role, Rotation, SessionKind, TokenHash, User, UserId,
    UserStatus, Username,
};

/// One `#[tokio::test]` per story, each running it on every backend; the stories after
/// `concurrent:` run on a multi-threaded runtime.
macro_rules! stories {
    ($($story:ident),* $(,)? $(; concurrent: $($concurrent:ident),* $(,)?)?) => {
        mod on_every_backend {
            $(
                #[tokio::test]
                async fn $story() {
                    tollgate_db::testing::on_every_backend(super::$story).await;
                }
            )*
            $($(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $concurrent() {
                    tollgate_db::testing::on_every_backend(super::$concurrent).await;
                }
            )*)?
        }
    };
}

mod admin;
mod audit;
mod connection;
mod options;
mod redemption_manage;
mod redemptions;
mod self_service;
mod sessions;
mod topups;
mod two_factor;
mod users;

/// Business "now" of every story.
const NOW: i64 = 1_800_000_000;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn new_user(name: &str, aff_code: &str, initial_quota: i64) -> NewUser {
    NewUser {
        username: Username::parse(name).unwrap(),
        display_name: DisplayName::parse(name).unwrap(),
        password_hash: format!("hash-of-{name}"),
        role: Role::User,
        group: "default".to_owned(),
        email: None,
        aff_code: aff_code.to_owned(),
        setting: r#"{"gotify_priority":0}"#.to_owned(),
        initial_quota,
        invitation: None,
        audit: None,
        created_at: NOW,
    }
}

/// The user of the active session with this hash.
async fn active_user(
    sessions: &SeaSessionRepository,
    hash: &TokenHash,
    now: i64,
) -> Result<Option<UserId>, tollgate_domain::RepoError> {
    Ok(sessions.find_active(hash, now).await?.map(|s| s.user_id))
}

async fn create_user(db: &DatabaseConnection, name: &str, initial_quota: i64) -> User {
    SeaUserRepository::new(db.clone())
        .create(&new_user(name, &format!("aff-{name}"), initial_quota))
        .await
        .unwrap()
}

fn code(code: &str, quota: i64, expires_at: Option<i64>) -> NewRedemption {
    NewRedemption {
        expires_at,
        ..code_by(UserId::new(1), code, quota, NOW)
    }
}

fn code_by(creator: UserId, code: &str, quota: i64, created_at: i64) -> NewRedemption {
    NewRedemption {
        code: code.to_owned(),
        name: "promo".to_owned(),
        quota,
        created_by: creator,
        created_at,
        expires_at: None,
    }
}

/// The audit record of a mint by `creator`, as the service writes it.
fn mint_audit(creator: UserId, total: i64) -> AuditEntry {
    let mut entry = AuditEntry::new(AuditAction::RedemptionsCreated, Some(creator), None, NOW);
    entry.after = Some(serde_json::json!({ "total": total }));
    entry
}

/// Mints without a cap, audited as the first code's creator.
async fn mint(
    repo: &SeaRedemptionRepository,
    codes: &[NewRedemption],
) -> Result<(), CreateRedemptionsError> {
    let creator = codes.first().map_or(UserId::new(1), |c| c.created_by);
    let total = codes.iter().map(|c| c.quota).sum();
    repo.create_batch(codes, None, &mint_audit(creator, total))
        .await
}

fn session(hash: &str, user_id: UserId, expires_at: i64) -> NewSession {
    NewSession {
        token_hash: TokenHash::from_hex(hash),
        user_id,
        kind: SessionKind::Web,
        created_at: NOW,
        expires_at,
        ip: Some("127.0.0.1".to_owned()),
        user_agent: Some("contract-test".to_owned()),
        audit: None,
    }
}

/// Runs raw SQL (portable literals only) and returns the number of affected rows.
async fn exec(db: &DatabaseConnection, sql: &str) -> u64 {
    db.execute_unprepared(sql).await.unwrap().rows_affected()
}

/// The first column of every row of a raw query, as i64.
async fn query_i64(db: &DatabaseConnection, sql: &str) -> Vec<i64> {
    let stmt = Statement::from_string(db.get_database_backend(), sql);
    db.query_all_raw(stmt)
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index::<i64>(0).unwrap())
        .collect()
}

/// The audit record of a user's act on itself.
fn self_audit(action: AuditAction, id: UserId) -> AuditEntry {
    AuditEntry::new(action, Some(id), Some(id), NOW)
}

/// How many audit records have this action.
async fn audit_count(db: &DatabaseConnection, action: AuditAction) -> i64 {
    query_i64(
        db,
        &format!(
            "SELECT COUNT(*) FROM audit WHERE action = '{}'",
            action.as_str()
        ),
    )
    .await[0]
}

async fn find_code(db: &DatabaseConnection, code: &str) -> Redemption {
    SeaRedemptionRepository::new(db.clone())
        .list(PageRequest::new(Some(1), Some(100)))
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|r| r.code == code)
        .unwrap_or_else(|| panic!("code {code} not listed"))
}

async fn imbalances(db: &DatabaseConnection) -> Vec<Imbalance> {
    SeaLedgerRepository::new(db.clone())
        .imbalances()
        .await
        .unwrap()
}
