//! Runtime options of the user module (New API's `options` table): root edits them, they are
//! stored as text in the database with the configuration file as their initial values, and
//! they take effect on the next request without a restart.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::error::RepoError;
use crate::groups::GroupSettings;
use crate::services::RegistrationPolicy;
use crate::site::{DERIVED_KEY as SITE_DERIVED_KEY, KEYS as SITE_KEYS, SiteSettings};
use crate::topup::PaymentSettings;
use crate::topup::settings::KEYS as PAYMENT_KEYS;
use crate::turnstile::{KEYS as TURNSTILE_KEYS, TurnstileSettings};

/// Every option a root may set, under New API's key names.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeOptions {
    pub registration: RegistrationPolicy,
    /// Registration requires a verified e-mail. Tollgate has no mailer yet, so turning this
    /// on is refused rather than silently ignored.
    pub email_verification_enabled: bool,
    pub email_domain_restriction_enabled: bool,
    pub email_domain_whitelist: Vec<String>,
    pub email_alias_restriction_enabled: bool,
    pub groups: GroupSettings,
    /// Quota units a non-root admin may mint in redemption codes per rolling 24 h
    /// (`AdminMintQuotaDailyLimit`); 0 lets only root mint. Root is never capped.
    pub admin_mint_quota_daily_limit: i64,
    /// A password change (self-service) revokes the compat access token in the same
    /// transaction (issue 7.11; New API kept it). Admin and CLI resets always revoke it.
    pub revoke_access_token_on_password_change: bool,
    /// Online top-up: Epay, Stripe, prices and the rebate.
    pub payments: PaymentSettings,
    /// Human verification on login, registration and the second-factor step.
    pub turnstile: TurnstileSettings,
    /// The site's name, texts and quota display (`crate::site`).
    pub site: SiteSettings,
}

/// The mint cap of a fresh installation: 500,000,000 units, $1,000 at the default
/// `QuotaPerUnit`.
pub const DEFAULT_ADMIN_MINT_QUOTA_DAILY_LIMIT: i64 = 500_000_000;

/// The option keys of accounts and groups, in display order; the payment keys follow
/// ([`PaymentSettings`]).
pub const KEYS: [&str; 19] = [
    "RegisterEnabled",
    "PasswordRegisterEnabled",
    "PasswordLoginEnabled",
    "EmailVerificationEnabled",
    "EmailDomainRestrictionEnabled",
    "EmailDomainWhitelist",
    "EmailAliasRestrictionEnabled",
    "QuotaForNewUser",
    "QuotaForInviter",
    "QuotaForInvitee",
    "GroupRatio",
    "UserUsableGroups",
    "GroupGroupRatio",
    "GroupSpecialUsableGroup",
    "AutoGroups",
    "GroupModels",
    "AdminMintQuotaDailyLimit",
    "AffRewardDailyLimit",
    "RevokeAccessTokenOnPasswordChange",
];

/// Why an option value was refused. Nothing was stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    #[error("unknown option {0}")]
    UnknownKey(String),
    #[error("option {key}: {reason}")]
    InvalidValue { key: String, reason: String },
    #[error("option {0} needs e-mail delivery, which is not available yet")]
    NotAvailable(String),
}

/// `key`'s value is refused for `reason` (every group of options words its refusals so).
pub(crate) fn invalid(key: &str, reason: impl Into<String>) -> OptionError {
    OptionError::InvalidValue {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

/// `true` or `false` (surrounding spaces allowed), else refused.
pub(crate) fn parse_bool(key: &str, v: &str) -> Result<bool, OptionError> {
    match v.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(key, "must be true or false")),
    }
}

fn parse_quota(key: &str, v: &str) -> Result<i64, OptionError> {
    match v.trim().parse::<i64>() {
        Ok(q) if q >= 0 => Ok(q),
        _ => Err(invalid(
            key,
            "must be a non-negative integer of quota units",
        )),
    }
}

fn parse_count(key: &str, v: &str) -> Result<u32, OptionError> {
    v.trim()
        .parse::<u32>()
        .map_err(|_| invalid(key, "must be a non-negative integer"))
}

fn parse_json<T: serde::de::DeserializeOwned>(key: &str, v: &str) -> Result<T, OptionError> {
    serde_json::from_str(v).map_err(|e| invalid(key, format!("invalid JSON: {e}")))
}

pub(crate) fn to_json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Whether `key`'s value is a secret: accepted on write, stored, never listed, and audited as
/// `(set)`.
pub fn is_secret(key: &str) -> bool {
    crate::topup::settings::SECRET_KEYS.contains(&key) || key == crate::turnstile::SECRET_KEY
}

impl RuntimeOptions {
    /// The value of every option as text, in [`KEYS`] order, then the payment, Turnstile and
    /// site options. Secrets ([`is_secret`]) are never listed.
    pub fn to_map(&self) -> Vec<(&'static str, String)> {
        let mut map = self.core_map();
        map.extend(self.payments.to_map());
        map.extend(self.turnstile.to_map());
        map.extend(self.site.to_map());
        map
    }

    /// What is stored, never what is replied: [`Self::to_map`] and the secrets, without the
    /// derived `DisplayInCurrencyEnabled` (its value lives in `QuotaDisplayType`).
    pub fn to_storage_map(&self) -> Vec<(&'static str, String)> {
        let mut map = self.core_map();
        map.extend(self.payments.to_map());
        map.extend(self.turnstile.to_map());
        map.extend(self.site.to_storage_map());
        map.extend(self.payments.secrets());
        map.extend(self.turnstile.secrets());
        map
    }

    fn core_map(&self) -> Vec<(&'static str, String)> {
        let r = &self.registration;
        let g = &self.groups;
        vec![
            ("RegisterEnabled", r.register_enabled.to_string()),
            (
                "PasswordRegisterEnabled",
                r.password_register_enabled.to_string(),
            ),
            ("PasswordLoginEnabled", r.password_login_enabled.to_string()),
            (
                "EmailVerificationEnabled",
                self.email_verification_enabled.to_string(),
            ),
            (
                "EmailDomainRestrictionEnabled",
                self.email_domain_restriction_enabled.to_string(),
            ),
            (
                "EmailDomainWhitelist",
                self.email_domain_whitelist.join(","),
            ),
            (
                "EmailAliasRestrictionEnabled",
                self.email_alias_restriction_enabled.to_string(),
            ),
            ("QuotaForNewUser", r.quota_for_new_user.to_string()),
            ("QuotaForInviter", r.quota_for_inviter.to_string()),
            ("QuotaForInvitee", r.quota_for_invitee.to_string()),
            ("GroupRatio", to_json(&g.ratios)),
            ("UserUsableGroups", to_json(&g.usable)),
            ("GroupGroupRatio", to_json(&g.group_group_ratio)),
            ("GroupSpecialUsableGroup", to_json(&g.special_usable)),
            ("AutoGroups", to_json(&g.auto_groups)),
            ("GroupModels", to_json(&g.models)),
            (
                "AdminMintQuotaDailyLimit",
                self.admin_mint_quota_daily_limit.to_string(),
            ),
            ("AffRewardDailyLimit", r.aff_reward_daily_limit.to_string()),
            (
                "RevokeAccessTokenOnPasswordChange",
                self.revoke_access_token_on_password_change.to_string(),
            ),
        ]
    }

    /// Applies one textual value, validating it; `self` is unchanged on error.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), OptionError> {
        let mut next = self.clone();
        match key {
            "RegisterEnabled" => next.registration.register_enabled = parse_bool(key, value)?,
            "PasswordRegisterEnabled" => {
                next.registration.password_register_enabled = parse_bool(key, value)?;
            }
            "PasswordLoginEnabled" => {
                next.registration.password_login_enabled = parse_bool(key, value)?
            }
            "EmailVerificationEnabled" => {
                if parse_bool(key, value)? {
                    return Err(OptionError::NotAvailable(key.to_owned()));
                }
                next.email_verification_enabled = false;
            }
            "EmailDomainRestrictionEnabled" => {
                next.email_domain_restriction_enabled = parse_bool(key, value)?;
            }
            "EmailDomainWhitelist" => {
                let domains: Vec<String> = value
                    .split(',')
                    .map(|d| d.trim().to_lowercase())
                    .filter(|d| !d.is_empty())
                    .collect();
                for d in &domains {
                    let ok = d.len() <= 253
                        && d.contains('.')
                        && d.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
                    if !ok {
                        return Err(invalid(key, format!("{d} is not a domain name")));
                    }
                }
                next.email_domain_whitelist = domains;
            }
            "EmailAliasRestrictionEnabled" => {
                next.email_alias_restriction_enabled = parse_bool(key, value)?;
            }
            "QuotaForNewUser" => next.registration.quota_for_new_user = parse_quota(key, value)?,
            "QuotaForInviter" => next.registration.quota_for_inviter = parse_quota(key, value)?,
            "QuotaForInvitee" => next.registration.quota_for_invitee = parse_quota(key, value)?,
            "GroupRatio" => next.groups.ratios = parse_json(key, value)?,
            "UserUsableGroups" => next.groups.usable = parse_json(key, value)?,
            "GroupGroupRatio" => next.groups.group_group_ratio = parse_json(key, value)?,
            "GroupSpecialUsableGroup" => next.groups.special_usable = parse_json(key, value)?,
            "AutoGroups" => next.groups.auto_groups = parse_json(key, value)?,
            "GroupModels" => next.groups.models = parse_json(key, value)?,
            "AdminMintQuotaDailyLimit" => {
                next.admin_mint_quota_daily_limit = parse_quota(key, value)?;
            }
            "AffRewardDailyLimit" => {
                next.registration.aff_reward_daily_limit = parse_count(key, value)?;
            }
            "RevokeAccessTokenOnPasswordChange" => {
                next.revoke_access_token_on_password_change = parse_bool(key, value)?;
            }
            other => match next.payments.set(other, value) {
                Some(outcome) => outcome?,
                None => match next.turnstile.set(other, value) {
                    Some(outcome) => outcome?,
                    None => match next.site.set(other, value) {
                        Some(outcome) => outcome?,
                        None => return Err(OptionError::UnknownKey(other.to_owned())),
                    },
                },
            },
        }
        next.groups
            .validate()
            .map_err(|e| invalid(key, e.to_string()))?;
        *self = next;
        Ok(())
    }

    /// `defaults` overlaid with stored values. A stored value that no longer validates is
    /// skipped (and reported), so one bad row cannot take the service down.
    pub fn overlay(defaults: &Self, stored: &BTreeMap<String, String>) -> (Self, Vec<OptionError>) {
        let mut options = defaults.clone();
        let mut errors = Vec::new();
        let site_keys = SITE_KEYS.into_iter().filter(|k| *k != SITE_DERIVED_KEY);
        for key in KEYS
            .into_iter()
            .chain(PAYMENT_KEYS)
            .chain(TURNSTILE_KEYS)
            .chain(site_keys)
        {
            if let Some(value) = stored.get(key)
                && let Err(e) = options.set(key, value)
            {
                errors.push(e);
            }
        }
        (options, errors)
    }
}

/// Where services read the current options (the database, overlaid on configuration).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OptionsSource: Send + Sync {
    async fn current(&self) -> Result<RuntimeOptions, RepoError>;
}

/// Options that never change (tests, and tools that need no database).
#[derive(Debug, Clone)]
pub struct StaticOptions(pub RuntimeOptions);

#[async_trait]
impl OptionsSource for StaticOptions {
    async fn current(&self) -> Result<RuntimeOptions, RepoError> {
        Ok(self.0.clone())
    }
}

impl StaticOptions {
    pub fn with(registration: RegistrationPolicy, groups: GroupSettings) -> Self {
        Self(RuntimeOptions {
            registration,
            email_verification_enabled: false,
            email_domain_restriction_enabled: false,
            email_domain_whitelist: Vec::new(),
            email_alias_restriction_enabled: false,
            groups,
            admin_mint_quota_daily_limit: DEFAULT_ADMIN_MINT_QUOTA_DAILY_LIMIT,
            revoke_access_token_on_password_change: true,
            payments: PaymentSettings::default(),
            turnstile: TurnstileSettings::default(),
            site: SiteSettings::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> RuntimeOptions {
        StaticOptions::with(RegistrationPolicy::default(), GroupSettings::default()).0
    }

    #[test]
    fn every_key_round_trips_through_its_text() {
        let o = defaults();
        let map = o.to_map();
        let listed: Vec<&str> = KEYS
            .iter()
            .chain(PAYMENT_KEYS.iter())
            .chain(TURNSTILE_KEYS.iter())
            .chain(SITE_KEYS.iter())
            .copied()
            .filter(|k| !is_secret(k))
            .collect();
        assert_eq!(map.iter().map(|(k, _)| *k).collect::<Vec<_>>(), listed);
        let mut copy = defaults();
        for (k, v) in &map {
            copy.set(k, v).unwrap();
        }
        assert_eq!(copy, o);
    }

    #[test]
    fn invalid_values_are_refused_and_change_nothing() {
        let mut o = defaults();
        let before = o.clone();
        let cases = [
            ("RegisterEnabled", "yes"),
            ("QuotaForNewUser", "-1"),
            ("QuotaForInviter", "1.5"),
            ("GroupRatio", r#"{"vip": -1}"#),
            ("GroupRatio", "not json"),
            ("UserUsableGroups", "[1,2]"),
            ("EmailDomainWhitelist", "gmail.com,not a domain"),
            ("GroupModels", r#"{"vip": [""]}"#),
            ("AdminMintQuotaDailyLimit", "-1"),
            ("AdminMintQuotaDailyLimit", "lots"),
            ("AffRewardDailyLimit", "-1"),
            ("AffRewardDailyLimit", "4294967296"),
            ("AffRewardDailyLimit", "2.5"),
            ("NoSuchKey", "1"),
        ];
        for (k, v) in cases {
            assert!(o.set(k, v).is_err(), "{k}={v}");
        }
        assert_eq!(o, before);
    }

    #[test]
    fn email_verification_cannot_be_turned_on_without_a_mailer() {
        let mut o = defaults();
        assert_eq!(
            o.set("EmailVerificationEnabled", "true"),
            Err(OptionError::NotAvailable("EmailVerificationEnabled".into()))
        );
        assert!(o.set("EmailVerificationEnabled", "false").is_ok());
    }

    #[test]
    fn stored_values_overlay_the_defaults_and_bad_rows_are_skipped() {
        let stored: BTreeMap<String, String> = [
            ("QuotaForNewUser".to_owned(), "500".to_owned()),
            ("RegisterEnabled".to_owned(), "false".to_owned()),
            ("GroupRatio".to_owned(), "garbage".to_owned()),
        ]
        .into();
        let (o, errors) = RuntimeOptions::overlay(&defaults(), &stored);
        assert_eq!(o.registration.quota_for_new_user, 500);
        assert!(!o.registration.register_enabled);
        assert_eq!(o.groups, GroupSettings::default());
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn the_mint_cap_is_on_and_the_invitation_cap_off_by_default() {
        let mut o = defaults();
        assert_eq!(
            o.admin_mint_quota_daily_limit,
            DEFAULT_ADMIN_MINT_QUOTA_DAILY_LIMIT
        );
        assert_eq!(o.registration.aff_reward_daily_limit, 0);
        o.set("AdminMintQuotaDailyLimit", " 0 ").unwrap();
        o.set("AffRewardDailyLimit", "5").unwrap();
        assert_eq!(
            (
                o.admin_mint_quota_daily_limit,
                o.registration.aff_reward_daily_limit
            ),
            (0, 5)
        );
    }
}
