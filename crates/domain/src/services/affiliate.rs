//! Invitation codes and the transfer of invitation rewards to quota (docs/newapi-behaviour.md §5.5,
//! §5.6).

use std::sync::Arc;

use crate::error::RepoError;
use crate::options::OptionsSource;
use crate::ports::{
    AffTransferError, AffTransferred, Clock, CreateUserError, SecretGenerator, UserRepository,
};
use crate::user::User;

use super::accounts::COLLISION_RETRIES;

/// Length of a generated invitation code (see `accounts::AFF_CODE_LEN`).
const AFF_CODE_LEN: usize = 8;

pub struct AffiliateService {
    users: Arc<dyn UserRepository>,
    secrets: Arc<dyn SecretGenerator>,
    clock: Arc<dyn Clock>,
    /// The smallest transfer is one current `QuotaPerUnit` ($1), as in New API.
    options: Arc<dyn OptionsSource>,
}

impl AffiliateService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        secrets: Arc<dyn SecretGenerator>,
        clock: Arc<dyn Clock>,
        options: Arc<dyn OptionsSource>,
    ) -> Self {
        Self {
            users,
            secrets,
            clock,
            options,
        }
    }

    /// The smallest transfer now: one `QuotaPerUnit`.
    pub async fn min_transfer(&self) -> Result<i64, RepoError> {
        Ok(self.options.current().await?.site.quota_per_unit)
    }

    /// The user's invitation code, created on first request when the account has none.
    pub async fn aff_code(&self, user: &User) -> Result<String, RepoError> {
        if let Some(code) = user.affiliate.code.as_ref().filter(|c| !c.is_empty()) {
            return Ok(code.clone());
        }
        for _ in 0..COLLISION_RETRIES {
            let code = self.secrets.alphanumeric(AFF_CODE_LEN);
            match self.users.set_aff_code_if_missing(user.id, &code).await {
                Ok(stored) => return Ok(stored),
                Err(CreateUserError::AffCodeTaken) => continue,
                Err(CreateUserError::Unexpected(e)) => return Err(RepoError(e)),
                Err(other) => return Err(RepoError(anyhow::anyhow!(other))),
            }
        }
        Err(RepoError::msg(
            "could not generate a unique invitation code",
        ))
    }

    /// Moves `amount` of invitation rewards into spendable quota, atomically. The amount must
    /// be at least the minimum unit; the balance check happens in the same statement that
    /// debits, so concurrent transfers can never move more than the balance.
    #[tracing::instrument(skip_all, fields(user_id = %user.id, amount))]
    pub async fn transfer(
        &self,
        user: &User,
        amount: i64,
    ) -> Result<AffTransferred, AffTransferError> {
        let min = self
            .min_transfer()
            .await
            .map_err(|RepoError(e)| AffTransferError::Unexpected(e))?;
        if amount < min || amount <= 0 {
            return Err(AffTransferError::BelowMinimum { min });
        }
        let reference = format!("{}-{}", user.id, self.secrets.alphanumeric(16));
        let done = self
            .users
            .transfer_aff_quota(user.id, amount, &reference, self.clock.now())
            .await?;
        tracing::info!(
            quota = done.quota,
            aff_quota = done.aff_quota,
            "aff quota transferred"
        );
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mockall::predicate::eq;

    use super::*;
    use crate::ports::{MockClock, MockSecretGenerator, MockUserRepository};
    use crate::user::{Role, UserId};

    fn service(users: MockUserRepository) -> AffiliateService {
        let mut secrets = MockSecretGenerator::new();
        secrets.expect_alphanumeric().returning(|n| "x".repeat(n));
        let mut clock = MockClock::new();
        clock.expect_now().return_const(100);
        let options = crate::options::StaticOptions::with(
            crate::services::RegistrationPolicy::default(),
            crate::groups::GroupSettings::default(),
        );
        AffiliateService::new(
            Arc::new(users),
            Arc::new(secrets),
            Arc::new(clock),
            Arc::new(options),
        )
    }

    fn user() -> User {
        crate::services::accounts_test_user(4, Role::User)
    }

    #[tokio::test]
    async fn amounts_below_the_minimum_unit_zero_and_negative_never_reach_the_store() {
        let svc = service(MockUserRepository::new());
        for amount in [499_999, 1, 0, -1, -500_000, i64::MIN] {
            assert!(
                matches!(
                    svc.transfer(&user(), amount).await,
                    Err(AffTransferError::BelowMinimum { min: 500_000 })
                ),
                "{amount}"
            );
        }
    }

    #[tokio::test]
    async fn a_valid_transfer_is_one_atomic_repository_step_with_a_unique_reference() {
        let mut users = MockUserRepository::new();
        users
            .expect_transfer_aff_quota()
            .with(
                eq(UserId::new(4)),
                eq(500_000),
                eq(format!("4-{}", "x".repeat(16))),
                eq(100),
            )
            .times(1)
            .returning(|_, _, _, _| {
                Ok(AffTransferred {
                    quota: 500_000,
                    aff_quota: 0,
                })
            });
        let done = service(users).transfer(&user(), 500_000).await.unwrap();
        assert_eq!(
            done,
            AffTransferred {
                quota: 500_000,
                aff_quota: 0
            }
        );
    }

    #[tokio::test]
    async fn an_existing_code_is_returned_without_writing() {
        let svc = service(MockUserRepository::new());
        assert_eq!(svc.aff_code(&user()).await.unwrap(), "AFFCODE1");
    }

    #[tokio::test]
    async fn a_missing_code_is_created_once_and_a_collision_retried() {
        let mut users = MockUserRepository::new();
        let mut calls = 0;
        users
            .expect_set_aff_code_if_missing()
            .times(2)
            .returning(move |_, code| {
                calls += 1;
                if calls == 1 {
                    Err(CreateUserError::AffCodeTaken)
                } else {
                    Ok(code.to_owned())
                }
            });
        let mut u = user();
        u.affiliate.code = None;
        assert_eq!(service(users).aff_code(&u).await.unwrap(), "xxxxxxxx");
    }
}
