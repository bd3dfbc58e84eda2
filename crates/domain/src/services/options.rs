//! Runtime options: root reads and changes them; every change is validated as a whole and
//! audited in the same transaction; the next request sees it (no cache to invalidate).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;

use crate::audit::{AuditAction, AuditEntry};
use crate::error::RepoError;
use crate::options::{OptionError, OptionsSource, RuntimeOptions, is_secret};
use crate::ports::{Clock, OptionsRepository};
use crate::user::{Role, User};

#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    #[error("only root may read or change options")]
    Forbidden,
    #[error(transparent)]
    Invalid(#[from] OptionError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<RepoError> for OptionsError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
}

/// The options source of a running installation: configuration defaults overlaid with the
/// stored values, read from the database on every call.
pub struct StoredOptions {
    repo: Arc<dyn OptionsRepository>,
    defaults: RuntimeOptions,
}

impl StoredOptions {
    pub fn new(repo: Arc<dyn OptionsRepository>, defaults: RuntimeOptions) -> Self {
        Self { repo, defaults }
    }
}

#[async_trait]
impl OptionsSource for StoredOptions {
    async fn current(&self) -> Result<RuntimeOptions, RepoError> {
        let stored = self.repo.load().await?;
        let (options, errors) = RuntimeOptions::overlay(&self.defaults, &stored);
        for e in errors {
            tracing::error!(error = %e, "a stored option no longer validates; using the configured value");
        }
        Ok(options)
    }
}

pub struct OptionsService {
    source: Arc<dyn OptionsSource>,
    repo: Arc<dyn OptionsRepository>,
    clock: Arc<dyn Clock>,
}

impl OptionsService {
    pub fn new(
        source: Arc<dyn OptionsSource>,
        repo: Arc<dyn OptionsRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            source,
            repo,
            clock,
        }
    }

    /// Every option with its current value; secrets are left out.
    pub async fn get(&self, actor: &User) -> Result<Vec<(&'static str, String)>, OptionsError> {
        if actor.role != Role::Root || !actor.is_enabled() {
            return Err(OptionsError::Forbidden);
        }
        Ok(self.source.current().await?.to_map())
    }

    /// Validates every change against the current options, then stores all of them with one
    /// audit record each (old and new value), or refuses them all. A key that changes because
    /// another was written (`QuotaDisplayType` through `DisplayInCurrencyEnabled`) is stored
    /// and audited as well.
    pub async fn update(
        &self,
        actor: &User,
        changes: &[(String, String)],
        ip: Option<String>,
    ) -> Result<RuntimeOptions, OptionsError> {
        if actor.role != Role::Root || !actor.is_enabled() {
            return Err(OptionsError::Forbidden);
        }
        let current = self.source.current().await?;
        let before = current.to_storage_map();
        let mut next = current;
        for (key, value) in changes {
            next.set(key, value)?;
        }
        let after = next.to_storage_map();
        let now = self.clock.now();
        let mut values = Vec::new();
        let mut audit = Vec::new();
        for ((key, old), (_, new)) in before.iter().zip(after.iter()) {
            if old != new || changes.iter().any(|(k, _)| k == key) {
                values.push(((*key).to_owned(), new.clone()));
                if old != new {
                    // A secret's audit record says whether it was set, never its value.
                    let shown = |v: &String| {
                        if !is_secret(key) {
                            v.clone()
                        } else if v.is_empty() {
                            String::new()
                        } else {
                            "(set)".to_owned()
                        }
                    };
                    audit.push(
                        AuditEntry::new(AuditAction::OptionChanged, Some(actor.id), None, now)
                            .change(json!({ *key: shown(old) }), json!({ *key: shown(new) }))
                            .from_ip(ip.clone()),
                    );
                }
            }
        }
        self.repo.save(&values, &audit, now).await?;
        tracing::info!(actor = %actor.id, changed = audit.len(), "options updated");
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::groups::GroupSettings;
    use crate::options::StaticOptions;
    use crate::ports::{MockClock, MockOptionsRepository};
    use crate::services::RegistrationPolicy;
    use crate::services::accounts_test_user as user;

    fn service(repo: MockOptionsRepository) -> OptionsService {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(7);
        let source = StaticOptions::with(RegistrationPolicy::default(), GroupSettings::default());
        OptionsService::new(Arc::new(source), Arc::new(repo), Arc::new(clock))
    }

    #[tokio::test]
    async fn only_root_reads_or_changes_options() {
        let svc = service(MockOptionsRepository::new());
        for role in [Role::User, Role::Admin] {
            assert!(matches!(
                svc.get(&user(1, role)).await,
                Err(OptionsError::Forbidden)
            ));
            let change = [("RegisterEnabled".to_owned(), "false".to_owned())];
            assert!(matches!(
                svc.update(&user(1, role), &change, None).await,
                Err(OptionsError::Forbidden)
            ));
        }
    }

    #[tokio::test]
    async fn one_bad_value_refuses_the_whole_change() {
        let svc = service(MockOptionsRepository::new());
        let changes = [
            ("RegisterEnabled".to_owned(), "false".to_owned()),
            ("QuotaForNewUser".to_owned(), "-5".to_owned()),
        ];
        assert!(matches!(
            svc.update(&user(1, Role::Root), &changes, None).await,
            Err(OptionsError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn a_change_is_stored_with_an_audit_record_of_old_and_new() {
        let mut repo = MockOptionsRepository::new();
        repo.expect_save()
            .withf(|values, audit, now| {
                values == [("QuotaForNewUser".to_owned(), "250".to_owned())]
                    && audit.len() == 1
                    && audit[0].action == AuditAction::OptionChanged
                    && audit[0].before == Some(json!({"QuotaForNewUser": "0"}))
                    && audit[0].after == Some(json!({"QuotaForNewUser": "250"}))
                    && *now == 7
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        let changes = [("QuotaForNewUser".to_owned(), "250".to_owned())];
        let next = service(repo)
            .update(&user(1, Role::Root), &changes, None)
            .await
            .unwrap();
        assert_eq!(next.registration.quota_for_new_user, 250);
    }

    #[tokio::test]
    async fn the_derived_display_key_stores_the_display_type_it_sets() {
        let mut repo = MockOptionsRepository::new();
        repo.expect_save()
            .withf(|values, audit, _| {
                values == [("QuotaDisplayType".to_owned(), "TOKENS".to_owned())]
                    && audit.len() == 1
                    && audit[0].before == Some(json!({"QuotaDisplayType": "USD"}))
                    && audit[0].after == Some(json!({"QuotaDisplayType": "TOKENS"}))
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        let changes = [("DisplayInCurrencyEnabled".to_owned(), "false".to_owned())];
        let next = service(repo)
            .update(&user(1, Role::Root), &changes, None)
            .await
            .unwrap();
        assert_eq!(next.site.quota_display, crate::site::QuotaDisplay::Tokens);
    }

    #[tokio::test]
    async fn a_secret_is_stored_but_its_audit_record_and_the_listing_never_show_it() {
        let mut repo = MockOptionsRepository::new();
        repo.expect_save()
            .withf(|values, audit, _| {
                values == [("EpayKey".to_owned(), "s3cret-key".to_owned())]
                    && audit.len() == 1
                    && audit[0].before == Some(json!({"EpayKey": ""}))
                    && audit[0].after == Some(json!({"EpayKey": "(set)"}))
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        let changes = [("EpayKey".to_owned(), "s3cret-key".to_owned())];
        let next = service(repo)
            .update(&user(1, Role::Root), &changes, None)
            .await
            .unwrap();
        assert_eq!(next.payments.epay_key, "s3cret-key");
        assert!(next.to_map().iter().all(|(_, v)| !v.contains("s3cret")));
    }
}
