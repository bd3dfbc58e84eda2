//! Redemption codes: admins mint them, users redeem them once (docs/newapi-behaviour.md §8.1).

use std::sync::Arc;

use serde_json::json;

use crate::audit::{AuditAction, AuditEntry};
use crate::error::RepoError;
use crate::options::OptionsSource;
use crate::page::{Page, PageRequest};
use crate::ports::{Clock, RedemptionRepository, SecretGenerator};
use crate::redemption::{
    CreateRedemptionsError, MintCap, NewRedemption, NewRedemptionBatch, RedeemError, Redeemed,
    Redemption,
};
use crate::redemption_manage::{
    ManageRedemptionError, RedemptionChanges, RedemptionEdit, RedemptionQuery, plan_edit,
    plan_status,
};
use crate::user::User;

pub struct RedemptionService {
    repo: Arc<dyn RedemptionRepository>,
    secrets: Arc<dyn SecretGenerator>,
    clock: Arc<dyn Clock>,
    options: Arc<dyn OptionsSource>,
}

impl RedemptionService {
    pub fn new(
        repo: Arc<dyn RedemptionRepository>,
        secrets: Arc<dyn SecretGenerator>,
        clock: Arc<dyn Clock>,
        options: Arc<dyn OptionsSource>,
    ) -> Self {
        Self {
            repo,
            secrets,
            clock,
            options,
        }
    }

    /// Mints `count` codes worth `quota` each and returns their keys, in creation order.
    /// Every mint is audited (creator, count, quota each, total; never the codes) in the
    /// transaction of the insert; a non-root admin is held to `AdminMintQuotaDailyLimit`.
    #[tracing::instrument(skip_all, fields(actor = %actor.id))]
    pub async fn create_batch(
        &self,
        actor: &User,
        name: &str,
        quota: i64,
        count: i64,
        expires_at: Option<i64>,
        ip: Option<String>,
    ) -> Result<Vec<String>, CreateRedemptionsError> {
        if !actor.role.is_admin() || !actor.is_enabled() {
            return Err(CreateRedemptionsError::Forbidden);
        }
        let now = self.clock.now();
        let batch = NewRedemptionBatch::parse(name, quota, count, expires_at, now)?;
        let limit = self
            .options
            .current()
            .await
            .map_err(|e| CreateRedemptionsError::Unexpected(e.0))?
            .admin_mint_quota_daily_limit;
        let cap = MintCap::for_actor(actor.role, limit, now);
        let mut audit =
            AuditEntry::new(AuditAction::RedemptionsCreated, Some(actor.id), None, now).from_ip(ip);
        audit.after = Some(json!({
            "name": batch.name(),
            "count": batch.count(),
            "quota": batch.quota(),
            "total": batch.total(),
            "expires_at": batch.expires_at(),
        }));
        // A collision of 128-bit random codes means a broken RNG more than bad luck; one
        // retry with fresh codes, then give up loudly.
        for _ in 0..2 {
            let codes: Vec<NewRedemption> = (0..batch.count())
                .map(|_| NewRedemption {
                    code: self.secrets.redemption_code(),
                    name: batch.name().to_owned(),
                    quota: batch.quota(),
                    created_by: actor.id,
                    created_at: now,
                    expires_at: batch.expires_at(),
                })
                .collect();
            match self.repo.create_batch(&codes, cap, &audit).await {
                Ok(()) => {
                    tracing::info!(count = codes.len(), quota = batch.quota(), "codes created");
                    return Ok(codes.into_iter().map(|c| c.code).collect());
                }
                Err(CreateRedemptionsError::CodeCollision) => continue,
                Err(e @ CreateRedemptionsError::MintLimitExceeded { .. }) => {
                    tracing::warn!(total = batch.total(), error = %e, "mint refused by the cap");
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(CreateRedemptionsError::CodeCollision)
    }

    pub async fn list(&self, page: PageRequest) -> Result<Page<Redemption>, RepoError> {
        self.repo.list(page).await
    }

    // ---- management after the mint (crate::redemption_manage) ----

    /// `GET /api/redemption/search`: live codes by name prefix or id, newest first.
    pub async fn search(
        &self,
        actor: &User,
        keyword: &str,
        page: PageRequest,
    ) -> Result<Page<Redemption>, ManageRedemptionError> {
        admit(actor)?;
        let query = RedemptionQuery::from_keyword(keyword);
        Ok(self.repo.search(&query, page).await?)
    }

    /// One live code.
    pub async fn get(&self, actor: &User, id: i64) -> Result<Redemption, ManageRedemptionError> {
        admit(actor)?;
        self.repo
            .find(id)
            .await?
            .ok_or(ManageRedemptionError::NotFound)
    }

    /// Edits name, quota and expiry by the rules of [`plan_edit`]; audited with the changed
    /// fields' before and after. Writes only over the code as read here
    /// ([`ManageRedemptionError::Changed`] otherwise). An edit that changes nothing writes
    /// nothing and returns the code.
    #[tracing::instrument(skip_all, fields(actor = %actor.id, redemption_id = id))]
    pub async fn edit(
        &self,
        actor: &User,
        id: i64,
        edit: &RedemptionEdit,
        ip: Option<String>,
    ) -> Result<Redemption, ManageRedemptionError> {
        let seen = self.get(actor, id).await?;
        let now = self.clock.now();
        let changes = plan_edit(&seen, edit, actor.role, now)?;
        self.apply(actor, seen, changes, now, ip).await
    }

    /// Sets the status to 1 (enabled) or 2 (disabled) by the rules of [`plan_status`], audited
    /// and compare-and-set like [`Self::edit`]: a code redeemed meanwhile is never enabled
    /// again.
    #[tracing::instrument(skip_all, fields(actor = %actor.id, redemption_id = id))]
    pub async fn set_status(
        &self,
        actor: &User,
        id: i64,
        status: i64,
        ip: Option<String>,
    ) -> Result<Redemption, ManageRedemptionError> {
        let seen = self.get(actor, id).await?;
        let changes = plan_status(&seen, status)?;
        self.apply(actor, seen, changes, self.clock.now(), ip).await
    }

    async fn apply(
        &self,
        actor: &User,
        seen: Redemption,
        changes: RedemptionChanges,
        now: i64,
        ip: Option<String>,
    ) -> Result<Redemption, ManageRedemptionError> {
        if changes.is_empty() {
            return Ok(seen);
        }
        let (before, after) = changes.audit_values(&seen);
        let audit = AuditEntry::new(AuditAction::RedemptionUpdated, Some(actor.id), None, now)
            .change(before, after)
            .from_ip(ip);
        let updated = self.repo.update(&seen, &changes, &audit).await?;
        tracing::info!("redemption code updated");
        Ok(updated)
    }

    /// Soft-deletes one code (any status), audited with its state; compare-and-set like
    /// [`Self::edit`].
    #[tracing::instrument(skip_all, fields(actor = %actor.id, redemption_id = id))]
    pub async fn delete(
        &self,
        actor: &User,
        id: i64,
        ip: Option<String>,
    ) -> Result<(), ManageRedemptionError> {
        let seen = self.get(actor, id).await?;
        let now = self.clock.now();
        let audit = AuditEntry::new(AuditAction::RedemptionDeleted, Some(actor.id), None, now)
            .change(
                json!({
                    "id": seen.id,
                    "name": seen.name,
                    "quota": seen.quota,
                    "status": seen.status.code(),
                    "expires_at": seen.expires_at,
                }),
                json!({"id": seen.id, "deleted": true}),
            )
            .from_ip(ip);
        self.repo.delete(&seen, now, &audit).await?;
        tracing::info!("redemption code deleted");
        Ok(())
    }

    /// `DELETE /api/redemption/invalid`: soft-deletes every used, disabled or expired code
    /// and returns how many; one audit record lists their ids.
    #[tracing::instrument(skip_all, fields(actor = %actor.id))]
    pub async fn delete_invalid(
        &self,
        actor: &User,
        ip: Option<String>,
    ) -> Result<u64, ManageRedemptionError> {
        admit(actor)?;
        let now = self.clock.now();
        let audit =
            AuditEntry::new(AuditAction::RedemptionsPurged, Some(actor.id), None, now).from_ip(ip);
        let count = self.repo.delete_invalid(now, &audit).await?;
        tracing::info!(count, "invalid redemption codes deleted");
        Ok(count)
    }

    /// Redeems a code for the user; returns the quota credited and the new balance.
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    pub async fn redeem(&self, user: &User, code: &str) -> Result<Redeemed, RedeemError> {
        let code = code.trim();
        if code.is_empty() {
            return Err(RedeemError::EmptyCode);
        }
        if !user.is_enabled() {
            return Err(RedeemError::AccountUnavailable);
        }
        let redeemed = self.repo.redeem(code, user.id, self.clock.now()).await?;
        tracing::info!(
            redemption_id = redeemed.redemption_id,
            quota = redeemed.quota,
            "code redeemed"
        );
        Ok(redeemed)
    }
}

/// Only enabled admins manage codes (the route's extractor checks it too).
fn admit(actor: &User) -> Result<(), ManageRedemptionError> {
    if actor.role.is_admin() && actor.is_enabled() {
        Ok(())
    } else {
        Err(ManageRedemptionError::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mockall::predicate::eq;

    use super::*;
    use crate::groups::GroupSettings;
    use crate::options::StaticOptions;
    use crate::ports::{MockClock, MockRedemptionRepository, MockSecretGenerator};
    use crate::services::RegistrationPolicy;
    use crate::user::{Role, UserId, UserStatus};

    /// Management after the mint.
    mod manage;

    const NOW: i64 = 1_700_000_000;
    const LIMIT: i64 = 10_000;

    fn actor(role: Role) -> User {
        crate::services::accounts_test_user(1, role)
    }

    fn service(repo: MockRedemptionRepository) -> RedemptionService {
        let mut secrets = MockSecretGenerator::new();
        let mut n = 0;
        secrets.expect_redemption_code().returning(move || {
            n += 1;
            format!("{n:032x}")
        });
        let mut clock = MockClock::new();
        clock.expect_now().return_const(NOW);
        let mut options =
            StaticOptions::with(RegistrationPolicy::default(), GroupSettings::default());
        options.0.admin_mint_quota_daily_limit = LIMIT;
        RedemptionService::new(
            Arc::new(repo),
            Arc::new(secrets),
            Arc::new(clock),
            Arc::new(options),
        )
    }

    #[tokio::test]
    async fn an_admin_gets_one_key_per_created_code() {
        let mut repo = MockRedemptionRepository::new();
        repo.expect_create_batch()
            .times(1)
            .withf(|codes: &[NewRedemption], _, _| {
                codes.len() == 3
                    && codes.iter().all(|c| {
                        c.quota == 500 && c.name == "promo" && c.created_by == UserId::new(1)
                    })
            })
            .returning(|_, _, _| Ok(()));
        let keys = service(repo)
            .create_batch(&actor(Role::Admin), "promo", 500, 3, None, None)
            .await
            .unwrap();
        assert_eq!(keys.len(), 3);
        assert_eq!(keys[0], format!("{:032x}", 1));
    }

    #[tokio::test]
    async fn every_mint_is_audited_with_its_totals_and_never_its_codes() {
        let mut repo = MockRedemptionRepository::new();
        repo.expect_create_batch()
            .times(1)
            .withf(|codes: &[NewRedemption], _, audit: &AuditEntry| {
                let text = serde_json::to_string(&audit.after).unwrap();
                audit.action == AuditAction::RedemptionsCreated
                    && audit.actor_id == Some(UserId::new(1))
                    && audit.target_id.is_none()
                    && audit.ip.as_deref() == Some("192.0.2.7")
                    && audit.at == NOW
                    && audit.after
                        == Some(json!({
                            "name": "promo", "count": 4, "quota": 250, "total": 1000,
                            "expires_at": null
                        }))
                    && codes.iter().all(|c| !text.contains(&c.code))
            })
            .returning(|_, _, _| Ok(()));
        service(repo)
            .create_batch(
                &actor(Role::Root),
                "promo",
                250,
                4,
                None,
                Some("192.0.2.7".into()),
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn admins_mint_under_the_daily_cap_and_root_without_one() {
        for (role, cap) in [
            (
                Role::Admin,
                Some(MintCap {
                    limit: LIMIT,
                    since: NOW - crate::redemption::MINT_WINDOW_SECS,
                }),
            ),
            (Role::Root, None),
        ] {
            let mut repo = MockRedemptionRepository::new();
            repo.expect_create_batch()
                .times(1)
                .withf(move |_, c, _| *c == cap)
                .returning(|_, _, _| Ok(()));
            service(repo)
                .create_batch(&actor(role), "promo", 1, 1, None, None)
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn a_refusal_by_the_cap_is_passed_on_and_not_retried() {
        let mut repo = MockRedemptionRepository::new();
        repo.expect_create_batch().times(1).returning(|_, _, _| {
            Err(CreateRedemptionsError::MintLimitExceeded {
                limit: LIMIT,
                remaining: 3,
            })
        });
        assert!(matches!(
            service(repo)
                .create_batch(&actor(Role::Admin), "promo", 4, 1, None, None)
                .await,
            Err(CreateRedemptionsError::MintLimitExceeded { remaining: 3, .. })
        ));
    }

    #[tokio::test]
    async fn a_plain_user_cannot_create_codes() {
        let repo = MockRedemptionRepository::new();
        assert!(matches!(
            service(repo)
                .create_batch(&actor(Role::User), "promo", 500, 1, None, None)
                .await,
            Err(CreateRedemptionsError::Forbidden)
        ));
    }

    #[tokio::test]
    async fn an_invalid_batch_never_reaches_the_repository() {
        let repo = MockRedemptionRepository::new();
        assert!(matches!(
            service(repo)
                .create_batch(&actor(Role::Root), "promo", 500, 101, None, None)
                .await,
            Err(CreateRedemptionsError::CountTooLarge { .. })
        ));
    }

    #[tokio::test]
    async fn redeeming_passes_the_trimmed_code_and_the_clock() {
        let mut repo = MockRedemptionRepository::new();
        repo.expect_redeem()
            .with(eq("abc"), eq(UserId::new(1)), eq(NOW))
            .times(1)
            .returning(|_, _, _| {
                Ok(Redeemed {
                    redemption_id: 9,
                    quota: 500,
                    balance_after: 700,
                })
            });
        let out = service(repo)
            .redeem(&actor(Role::User), "  abc ")
            .await
            .unwrap();
        assert_eq!((out.quota, out.balance_after), (500, 700));
    }

    #[tokio::test]
    async fn an_empty_code_or_a_disabled_user_is_refused_without_a_claim() {
        let svc = service(MockRedemptionRepository::new());
        assert!(matches!(
            svc.redeem(&actor(Role::User), "   ").await,
            Err(RedeemError::EmptyCode)
        ));
        let mut disabled = actor(Role::User);
        disabled.status = UserStatus::Disabled;
        assert!(matches!(
            svc.redeem(&disabled, "abc").await,
            Err(RedeemError::AccountUnavailable)
        ));
    }
}
