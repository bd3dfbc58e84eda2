//! Configuration: an optional TOML file, then `TOLLGATE_*` environment variables (nested keys
//! with `__`, e.g. `TOLLGATE_SESSION__TTL_DAYS`). Every key has a default that lets
//! `cargo run --release` work on a fresh machine; `config/tollgate.example.toml` lists them.

use std::path::{Path, PathBuf};

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tollgate_domain::groups::GroupSettings;
use tollgate_domain::rate_limit::RateLimit;
use tollgate_domain::services::{PendingLoginPolicy, RegistrationPolicy};
/// How the console renders quota (New API's `QuotaDisplayType`): the domain's type, spelled
/// `USD`, `CNY`, `TOKENS` or `CUSTOM` in the configuration.
pub use tollgate_domain::site::QuotaDisplay;
use tollgate_domain::site::SiteSettings;
use tollgate_domain::throttle::ThrottlePolicy;

use crate::i18n::Locale;
use crate::proxies::TrustedProxies;

/// The file read when neither `--config` nor `TOLLGATE_CONFIG` names one (optional).
pub const DEFAULT_CONFIG_FILE: &str = "tollgate.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Listen address.
    pub addr: String,
    /// `sqlite://`, `postgres://` or `mysql://` URL. May hold a password: never logged.
    pub database_url: SecretString,
    pub database_max_connections: u32,
    /// Run pending migrations when `serve` starts.
    pub auto_migrate: bool,
    /// The initial `SystemName` option (shown by `/api/status`, and the 2FA issuer).
    pub system_name: String,
    /// The public base URL of this installation.
    pub server_address: String,
    /// Language of messages when `Accept-Language` names none we have (`zh-CN` or `en`;
    /// parsed when the configuration loads).
    #[serde(deserialize_with = "locale")]
    pub default_locale: Locale,
    /// First-start root account; when unset, `root` with a random password is created.
    pub root_username: Option<String>,
    pub root_password: Option<SecretString>,
    /// Create the first root at start-up when none exists (the default). `false` leaves the
    /// installation unset until the console's first-run setup (`POST /api/setup`) or
    /// `tollgate create-root` creates it: until then whoever reaches the server first may
    /// become root (docs/security.md).
    pub bootstrap_root: bool,
    pub log: LogSettings,
    pub server: ServerSettings,
    pub session: SessionSettings,
    pub registration: RegistrationSettings,
    pub quota: QuotaSettings,
    pub jwt: JwtSettings,
    /// Groups, their ratios, the groups users may pick, and the models of each group.
    pub groups: GroupSettings,
    pub rate_limits: RateLimitSettings,
    pub audit: AuditSettings,
    /// Login throttling and lockout (docs/security.md).
    pub login_throttle: LoginThrottleSettings,
    pub payments: PaymentsSettings,
    pub kv: KvSettings,
    pub turnstile: TurnstileSettings,
    /// Two-factor authentication: the pending login between password and code.
    pub two_factor: TwoFactorSettings,
    /// `/metrics` (Prometheus text format) and who may read it.
    pub metrics: MetricsSettings,
}

/// The Prometheus endpoint `/metrics` (docs/operations.md "Metrics").
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct MetricsSettings {
    /// Serve `/metrics`; when off the path answers 404 like any unknown one.
    pub enabled: bool,
    /// When set, `/metrics` answers 401 unless the request carries `Authorization: Bearer
    /// <token>`. Never logged.
    pub bearer_token: Option<SecretString>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            bearer_token: None,
        }
    }
}

/// The pending login of a user with 2FA, between the password and the code.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct TwoFactorSettings {
    /// How long the code may be entered after the password.
    pub pending_login_ttl_secs: u64,
    /// Wrong codes one pending login takes before it is gone.
    pub pending_login_max_wrong_codes: u32,
}

impl Default for TwoFactorSettings {
    fn default() -> Self {
        let p = PendingLoginPolicy::default();
        Self {
            pending_login_ttl_secs: p.ttl_secs,
            pending_login_max_wrong_codes: p.max_wrong_codes,
        }
    }
}

impl TwoFactorSettings {
    /// The domain's policy (at least 1 s and 1 code).
    pub fn policy(&self) -> PendingLoginPolicy {
        PendingLoginPolicy {
            ttl_secs: self.pending_login_ttl_secs.max(1),
            max_wrong_codes: self.pending_login_max_wrong_codes.max(1),
        }
    }
}

/// Where counters, one-time values and invalidation messages live: in this process, or in a
/// Redis that every instance shares.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct KvSettings {
    /// `redis://[user:password@]host[:port][/db]`; unset keeps them in process (one instance
    /// only). May hold a password: never logged.
    pub redis_url: Option<SecretString>,
    /// Prefix of every Redis key and channel, so installations can share one Redis.
    pub key_prefix: String,
}

impl Default for KvSettings {
    fn default() -> Self {
        Self {
            redis_url: None,
            key_prefix: "tollgate:".into(),
        }
    }
}

/// How the HTTP server sees its clients.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    /// Reverse proxies (CIDR blocks or addresses) whose `X-Forwarded-For` names the client.
    /// Empty: the socket peer is the client and the header is ignored.
    pub trusted_proxies: TrustedProxies,
    /// A built single-page console (New API's `web/dist`) served same-origin from this
    /// folder; unset serves none. A folder that does not exist stops the start.
    pub static_dir: Option<PathBuf>,
}

impl ServerSettings {
    /// The console folder, when one is configured (an empty value counts as none).
    pub fn static_dir(&self) -> Option<&Path> {
        self.static_dir
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty())
    }
}

/// Where Turnstile tokens are verified. The switch and the keys are runtime options
/// (`TurnstileCheckEnabled`, `TurnstileSiteKey`, `TurnstileSecretKey`), not configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct TurnstileSettings {
    /// Cloudflare's `siteverify` URL (tests point it at a local fake).
    pub verify_url: String,
    /// Timeout of one verification, in seconds.
    pub timeout_secs: u64,
}

impl Default for TurnstileSettings {
    fn default() -> Self {
        Self {
            verify_url: tollgate_notify::DEFAULT_VERIFY_URL.into(),
            timeout_secs: 10,
        }
    }
}

/// The payment providers' endpoints and the reconciliation task. Merchant ids, keys and
/// prices are runtime options (`PUT /api/option/`), not configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PaymentsSettings {
    /// The Stripe API's base URL (tests point it at a local fake).
    pub stripe_api_base: String,
    /// Timeout of every call to a payment provider, in seconds.
    pub http_timeout_secs: u64,
    /// How often the reconciliation task runs, in seconds; 0 turns it off.
    pub reconcile_interval_secs: u64,
    /// Reconciliation asks about pending orders at least this old, in seconds.
    pub reconcile_min_age_secs: u64,
    /// At most this many orders per reconciliation run.
    pub reconcile_batch: u64,
}

impl Default for PaymentsSettings {
    fn default() -> Self {
        Self {
            stripe_api_base: "https://api.stripe.com".into(),
            http_timeout_secs: 10,
            reconcile_interval_secs: 0,
            reconcile_min_age_secs: 600,
            reconcile_batch: 200,
        }
    }
}

/// Per-client limits, counted in the key-value store (shared by every instance on Redis).
/// A limit given in part (`[rate_limits.critical] max = 50`) keeps the defaults of the rest.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "RawRateLimits")]
pub struct RateLimitSettings {
    /// Self-service registrations per client address (IPv6: per /64) per hour, on both
    /// surfaces together; 0 turns the limit off.
    pub register_per_ip_per_hour: u32,
    /// New API's `GA`: requests per client address to every `/api/*` route.
    pub global_api: LimitSettings,
    /// New API's `CT`: requests per client address to the critical routes (login, register,
    /// redeem, payments), counted per route group (docs/security.md).
    pub critical: LimitSettings,
    /// New API's `EV`: e-mail verification codes sent per client address.
    pub email_verification: LimitSettings,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            register_per_ip_per_hour: 10,
            global_api: LimitSettings::new(180, 180),
            critical: LimitSettings::new(20, 1200),
            email_verification: LimitSettings::new(2, 30),
        }
    }
}

/// One configurable limit: at most `max` requests per `period_secs` per client address.
#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    pub enabled: bool,
    pub max: u32,
    pub period_secs: u64,
}

/// What the file and the environment give; missing keys keep [`RateLimitSettings`]' defaults.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawRateLimits {
    register_per_ip_per_hour: Option<u32>,
    global_api: PartialLimit,
    critical: PartialLimit,
    email_verification: PartialLimit,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PartialLimit {
    enabled: Option<bool>,
    max: Option<u32>,
    period_secs: Option<u64>,
}

impl PartialLimit {
    fn over(self, d: LimitSettings) -> LimitSettings {
        LimitSettings {
            enabled: self.enabled.unwrap_or(d.enabled),
            max: self.max.unwrap_or(d.max),
            period_secs: self.period_secs.unwrap_or(d.period_secs),
        }
    }
}

impl From<RawRateLimits> for RateLimitSettings {
    fn from(raw: RawRateLimits) -> Self {
        let d = Self::default();
        Self {
            register_per_ip_per_hour: raw
                .register_per_ip_per_hour
                .unwrap_or(d.register_per_ip_per_hour),
            global_api: raw.global_api.over(d.global_api),
            critical: raw.critical.over(d.critical),
            email_verification: raw.email_verification.over(d.email_verification),
        }
    }
}

impl LimitSettings {
    const fn new(max: u32, period_secs: u64) -> Self {
        Self {
            enabled: true,
            max,
            period_secs,
        }
    }

    /// The domain's rule; off when disabled.
    pub fn limit(&self) -> RateLimit {
        if self.enabled {
            RateLimit {
                max: self.max,
                period_secs: self.period_secs,
            }
        } else {
            RateLimit::UNLIMITED
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct JwtSettings {
    /// HS256 signing key (at least 32 bytes). When unset, a random key is generated once and
    /// kept in the database, shared by every instance.
    pub secret: Option<SecretString>,
    pub issuer: String,
    pub audience: String,
    /// Lifetime of an access token.
    pub access_ttl_secs: i64,
    /// Lifetime of a refresh token (each refresh starts it again).
    pub refresh_ttl_days: u32,
    /// Clock skew tolerated when checking `exp` and `iat`.
    pub leeway_secs: i64,
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            secret: None,
            issuer: "tollgate".into(),
            audience: "tollgate-api".into(),
            access_ttl_secs: 900,
            refresh_ttl_days: 30,
            leeway_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A tracing filter (`info`, `tollgate_api=debug,info`); `RUST_LOG` overrides it.
    pub filter: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SessionSettings {
    pub ttl_days: u32,
    /// Set `Secure` on the session cookie; turn on behind HTTPS.
    pub cookie_secure: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RegistrationSettings {
    pub enabled: bool,
    pub password_register_enabled: bool,
    pub password_login_enabled: bool,
    /// Quota units granted to each new account (through the ledger).
    pub quota_for_new_user: i64,
    /// Credited to an inviter's invitation balance per invitee (`QuotaForInviter`).
    pub quota_for_inviter: i64,
    /// Credited to a new user who registers with an invitation code (`QuotaForInvitee`).
    pub quota_for_invitee: i64,
    /// Invitations that reward one inviter per rolling 24 h (`AffRewardDailyLimit`); 0 = no
    /// limit.
    pub aff_reward_daily_limit: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct QuotaSettings {
    /// Quota units per USD (New API's `QuotaPerUnit`).
    pub per_unit: i64,
    /// `USD`, `CNY`, `TOKENS` or `CUSTOM`: how the console renders quota.
    pub display_type: QuotaDisplay,
}

/// `default_locale`: a language tag whose primary subtag is one we have (`zh-CN`, `en`, ...).
fn locale<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Locale, D::Error> {
    let tag = String::deserialize(d)?;
    Locale::parse(&tag)
        .ok_or_else(|| serde::de::Error::custom("default_locale must be zh-CN or en"))
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:3000".into(),
            database_url: SecretString::from("sqlite://./data/tollgate.db?mode=rwc"),
            database_max_connections: 8,
            auto_migrate: true,
            system_name: "Tollgate".into(),
            server_address: "http://localhost:3000".into(),
            default_locale: Locale::ZhCn,
            root_username: None,
            root_password: None,
            bootstrap_root: true,
            log: LogSettings::default(),
            server: ServerSettings::default(),
            session: SessionSettings::default(),
            registration: RegistrationSettings::default(),
            quota: QuotaSettings::default(),
            jwt: JwtSettings::default(),
            groups: GroupSettings::default(),
            rate_limits: RateLimitSettings::default(),
            audit: AuditSettings::default(),
            login_throttle: LoginThrottleSettings::default(),
            payments: PaymentsSettings::default(),
            kv: KvSettings::default(),
            turnstile: TurnstileSettings::default(),
            two_factor: TwoFactorSettings::default(),
            metrics: MetricsSettings::default(),
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            filter: "info".into(),
        }
    }
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            ttl_days: 30,
            cookie_secure: false,
        }
    }
}

impl Default for RegistrationSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            password_register_enabled: true,
            password_login_enabled: true,
            quota_for_new_user: 0,
            quota_for_inviter: 0,
            quota_for_invitee: 0,
            aff_reward_daily_limit: 0,
        }
    }
}

impl Default for QuotaSettings {
    fn default() -> Self {
        Self {
            per_unit: 500_000,
            display_type: QuotaDisplay::Usd,
        }
    }
}

/// The audit log's retention and the limit on rows anonymous clients cause (issue 7.8).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LoginThrottleSettings {
    /// Consecutive failures of one account that cost no delay.
    pub free_failures: u32,
    /// The delay after the last free failure, doubled by each further failure.
    pub first_delay_secs: u64,
    /// The longest delay.
    pub max_delay_secs: u64,
    /// A streak of failures is forgotten this long after it started.
    pub reset_after_secs: u64,
    /// Credential checks of one account per clock hour (successes included); 0 = no cap.
    pub max_checks_per_hour: u32,
    /// Failed checks from one client address per hour, over all accounts; 0 = no limit.
    pub ip_failures_per_hour: u32,
    /// `false` turns throttling off (never in production).
    pub enabled: bool,
}

impl Default for LoginThrottleSettings {
    fn default() -> Self {
        let p = ThrottlePolicy::default();
        Self {
            free_failures: p.free_failures,
            first_delay_secs: p.first_delay_secs,
            max_delay_secs: p.max_delay_secs,
            reset_after_secs: p.reset_after_secs,
            max_checks_per_hour: p.max_checks_per_hour,
            ip_failures_per_hour: p.ip_failures_per_hour,
            enabled: true,
        }
    }
}

impl LoginThrottleSettings {
    /// The domain's policy; `free_failures` is at least 1 (0 would lock every account).
    pub fn policy(&self) -> ThrottlePolicy {
        if !self.enabled {
            return ThrottlePolicy::OFF;
        }
        ThrottlePolicy {
            free_failures: self.free_failures.max(1),
            first_delay_secs: self.first_delay_secs.max(1),
            max_delay_secs: self.max_delay_secs.max(self.first_delay_secs.max(1)),
            reset_after_secs: self.reset_after_secs.max(1),
            max_checks_per_hour: self.max_checks_per_hour,
            ip_failures_per_hour: self.ip_failures_per_hour,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AuditSettings {
    /// Entries older than this many days are deleted by a periodic task; 0 keeps them forever.
    pub retention_days: u32,
    /// Failed-login rows written per client address per hour (a burst of this many, then one
    /// every hour/N); beyond it the login is still refused but not recorded. 0 = no limit.
    pub failed_login_records_per_hour: u32,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            retention_days: 400,
            failed_login_records_per_hour: 120,
        }
    }
}

/// The `TOLLGATE_*` environment variables, `__` between nested keys.
fn environment() -> config::Environment {
    config::Environment::with_prefix("TOLLGATE")
        .prefix_separator("_")
        .separator("__")
        .try_parsing(true)
}

impl Settings {
    /// Loads the file (`explicit` path, else `TOLLGATE_CONFIG`, else `./tollgate.toml` when it
    /// exists), then the environment, then validates.
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<Self> {
        let from_env = std::env::var_os("TOLLGATE_CONFIG").map(PathBuf::from);
        let mut builder = config::Config::builder();
        match explicit.map(Path::to_path_buf).or(from_env) {
            Some(path) => {
                anyhow::ensure!(path.is_file(), "config file {} not found", path.display());
                builder = builder.add_source(config::File::from(path));
            }
            None => {
                builder = builder
                    .add_source(config::File::with_name(DEFAULT_CONFIG_FILE).required(false));
            }
        }
        let settings: Settings = builder
            .add_source(environment())
            .build()
            .context("reading configuration")?
            .try_deserialize()
            .context("invalid configuration")?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        let url = self.database_url.expose_secret();
        anyhow::ensure!(
            ["sqlite:", "postgres:", "postgresql:", "mysql:", "mariadb:"]
                .iter()
                .any(|p| url.starts_with(p)),
            "database_url must be a sqlite://, postgres:// or mysql:// URL"
        );
        anyhow::ensure!(
            self.database_max_connections >= 1,
            "database_max_connections must be at least 1"
        );
        anyhow::ensure!(
            self.session.ttl_days >= 1,
            "session.ttl_days must be at least 1"
        );
        for (key, value) in [
            ("quota_for_new_user", self.registration.quota_for_new_user),
            ("quota_for_inviter", self.registration.quota_for_inviter),
            ("quota_for_invitee", self.registration.quota_for_invitee),
        ] {
            anyhow::ensure!(value >= 0, "registration.{key} must not be negative");
        }
        anyhow::ensure!(
            self.jwt.access_ttl_secs >= 60 && self.jwt.access_ttl_secs <= 86_400,
            "jwt.access_ttl_secs must be 60 to 86400"
        );
        anyhow::ensure!(
            self.jwt.refresh_ttl_days >= 1,
            "jwt.refresh_ttl_days must be at least 1"
        );
        anyhow::ensure!(
            (0..=300).contains(&self.jwt.leeway_secs),
            "jwt.leeway_secs must be 0 to 300"
        );
        if let Some(secret) = &self.jwt.secret {
            anyhow::ensure!(
                secret.expose_secret().len() >= 32,
                "jwt.secret must be at least 32 bytes"
            );
        }
        self.groups
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid groups configuration: {e}"))?;
        anyhow::ensure!(self.quota.per_unit > 0, "quota.per_unit must be positive");
        self.site_defaults()?;
        if let Some(url) = &self.kv.redis_url {
            anyhow::ensure!(
                ["redis://", "redis+unix://", "unix://"]
                    .iter()
                    .any(|p| url.expose_secret().starts_with(p)),
                "kv.redis_url must be a redis:// URL (rediss:// is not supported)"
            );
        }
        let verify = url::Url::parse(&self.turnstile.verify_url).ok();
        anyhow::ensure!(
            verify.is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host()),
            "turnstile.verify_url must be an http(s) URL"
        );
        for (key, limit) in [
            ("global_api", self.rate_limits.global_api),
            ("critical", self.rate_limits.critical),
            ("email_verification", self.rate_limits.email_verification),
        ] {
            anyhow::ensure!(
                !limit.enabled || (limit.max >= 1 && limit.period_secs >= 1),
                "rate_limits.{key}: max and period_secs must be at least 1 (or enabled = false)"
            );
        }
        if let Some(token) = &self.metrics.bearer_token {
            anyhow::ensure!(
                !token.expose_secret().trim().is_empty(),
                "metrics.bearer_token must not be empty (leave it unset for no token)"
            );
        }
        anyhow::ensure!(
            self.root_username.is_some() == self.root_password.is_some(),
            "root_username and root_password must be set together"
        );
        anyhow::ensure!(
            self.bootstrap_root || self.root_username.is_none(),
            "root_username and root_password need bootstrap_root = true"
        );
        Ok(())
    }

    /// The initial site options (`SystemName`, `QuotaPerUnit`, `QuotaDisplayType`), checked
    /// by the rules a root's change meets.
    pub fn site_defaults(&self) -> anyhow::Result<SiteSettings> {
        SiteSettings::configured(
            &self.system_name,
            self.quota.per_unit,
            self.quota.display_type,
        )
        .map_err(|e| match e {
            tollgate_domain::options::OptionError::InvalidValue { key, reason } => {
                let name = if key == "SystemName" {
                    "system_name"
                } else {
                    "quota.per_unit"
                };
                anyhow::anyhow!("{name} {reason}")
            }
            other => anyhow::anyhow!("invalid site configuration: {other}"),
        })
    }

    /// `sqlite`, `postgres` or `mysql`: what the first-run setup page shows.
    pub fn database_type(&self) -> &'static str {
        let url = self.database_url.expose_secret();
        if url.starts_with("postgres") {
            "postgres"
        } else if url.starts_with("mysql") || url.starts_with("mariadb") {
            "mysql"
        } else {
            "sqlite"
        }
    }

    pub fn registration_policy(&self) -> RegistrationPolicy {
        RegistrationPolicy {
            register_enabled: self.registration.enabled,
            password_register_enabled: self.registration.password_register_enabled,
            password_login_enabled: self.registration.password_login_enabled,
            quota_for_new_user: self.registration.quota_for_new_user,
            quota_for_inviter: self.registration.quota_for_inviter,
            quota_for_invitee: self.registration.quota_for_invitee,
            aff_reward_daily_limit: self.registration.aff_reward_daily_limit,
        }
    }

    pub fn session_ttl_secs(&self) -> i64 {
        i64::from(self.session.ttl_days) * 86_400
    }

    pub fn refresh_ttl_secs(&self) -> i64 {
        i64::from(self.jwt.refresh_ttl_days) * 86_400
    }

    pub fn locale(&self) -> Locale {
        self.default_locale
    }

    /// The bootstrap root credentials, when configured.
    pub fn root_credentials(&self) -> Option<(String, String)> {
        match (&self.root_username, &self.root_password) {
            (Some(u), Some(p)) => Some((u.clone(), p.expose_secret().to_owned())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_point_at_the_embedded_database() {
        let s = Settings::default();
        s.validate().unwrap();
        assert_eq!(s.addr, "127.0.0.1:3000");
        assert!(
            s.database_url
                .expose_secret()
                .contains("./data/tollgate.db")
        );
        assert_eq!(s.session_ttl_secs(), 30 * 86_400);
        // Registrations are limited per address out of the box; invitation rewards are not.
        assert_eq!(s.rate_limits.register_per_ip_per_hour, 10);
        // New API's limits and numbers (spec §8.1).
        let limits = &s.rate_limits;
        assert_eq!(
            [
                limits.global_api.limit(),
                limits.critical.limit(),
                limits.email_verification.limit()
            ],
            [
                RateLimit {
                    max: 180,
                    period_secs: 180
                },
                RateLimit {
                    max: 20,
                    period_secs: 1200
                },
                RateLimit {
                    max: 2,
                    period_secs: 30
                },
            ]
        );
        assert_eq!(s.registration_policy().aff_reward_daily_limit, 0);
    }

    #[test]
    fn the_kv_store_is_in_process_unless_a_redis_url_is_given() {
        let s = Settings::default();
        assert!(s.kv.redis_url.is_none());
        assert_eq!(s.kv.key_prefix, "tollgate:");
        let s: Settings = config::Config::builder()
            .add_source(config::File::from_str(
                "[kv]\nredis_url = \"redis://cache:6379/2\"\nkey_prefix = \"shop-a:\"",
                config::FileFormat::Toml,
            ))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        s.validate().unwrap();
        let url = s.kv.redis_url.as_ref().map(|u| u.expose_secret());
        assert_eq!(url, Some("redis://cache:6379/2"));
        assert_eq!(s.kv.key_prefix, "shop-a:");
    }

    #[test]
    fn a_toml_file_configures_groups_models_and_rewards() {
        let dir = std::env::temp_dir().join(format!("tollgate-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.toml");
        std::fs::write(
            &path,
            r#"
[registration]
quota_for_inviter = 300
[groups.ratios]
default = 1
vip = 0.8
[groups.usable]
default = "Default"
vip = "VIP"
[groups.models]
default = ["gpt-4o-mini"]
vip = ["gpt-4o", "claude-3-5-sonnet"]
"#,
        )
        .unwrap();
        let s = Settings::load(Some(&path)).unwrap();
        assert_eq!(s.registration.quota_for_inviter, 300);
        assert_eq!(s.groups.ratios.get("vip"), Some(&0.8));
        assert_eq!(
            s.groups.models_for("vip"),
            ["claude-3-5-sonnet", "gpt-4o", "gpt-4o-mini"]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_example_configuration_loads_and_equals_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/tollgate.example.toml");
        let example = Settings::load(Some(&path)).unwrap();
        let defaults = Settings::default();
        assert_eq!(format!("{example:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn trusted_proxies_come_from_the_file_or_a_comma_separated_variable() {
        let from_env = |value: &str| {
            let vars = [(
                "TOLLGATE_SERVER__TRUSTED_PROXIES".to_owned(),
                value.to_owned(),
            )];
            config::Config::builder()
                .add_source(environment().source(Some(vars.into_iter().collect())))
                .build()
                .unwrap()
                .try_deserialize::<Settings>()
        };
        let s = from_env("10.0.0.0/8, 127.0.0.1").unwrap();
        assert_eq!(
            s.server.trusted_proxies,
            TrustedProxies::parse(&["10.0.0.0/8", "127.0.0.1/32"]).unwrap()
        );
        let err = from_env("10.0.0.0/8,proxy.local").unwrap_err().to_string();
        assert!(err.contains("trusted_proxies"), "{err}");
        let file = config::Config::builder()
            .add_source(config::File::from_str(
                "[server]\ntrusted_proxies = [\"fd00::/8\"]",
                config::FileFormat::Toml,
            ))
            .build()
            .unwrap()
            .try_deserialize::<Settings>()
            .unwrap();
        assert!(
            file.server
                .trusted_proxies
                .contains("fd00::1".parse().unwrap())
        );
        assert!(Settings::default().server.trusted_proxies.is_empty());
    }

    #[test]
    fn request_limits_and_the_turnstile_url_come_from_the_environment() {
        let vars = [
            ("TOLLGATE_RATE_LIMITS__CRITICAL__ENABLED", "false"),
            ("TOLLGATE_RATE_LIMITS__GLOBAL_API__MAX", "600"),
            (
                "TOLLGATE_TURNSTILE__VERIFY_URL",
                "http://127.0.0.1:9/siteverify",
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let s = config::Config::builder()
            .add_source(environment().source(Some(vars.into_iter().collect())))
            .build()
            .unwrap()
            .try_deserialize::<Settings>()
            .unwrap();
        s.validate().unwrap();
        assert!(s.rate_limits.critical.limit().is_unlimited());
        assert_eq!(
            s.rate_limits.global_api.limit(),
            RateLimit {
                max: 600,
                period_secs: 180
            }
        );
        assert_eq!(s.turnstile.verify_url, "http://127.0.0.1:9/siteverify");
        // The same from a file: the keys not given keep their defaults.
        let file = config::Config::builder()
            .add_source(config::File::from_str(
                "[rate_limits.critical]\nmax = 50",
                config::FileFormat::Toml,
            ))
            .build()
            .unwrap()
            .try_deserialize::<Settings>()
            .unwrap();
        assert_eq!(
            file.rate_limits.critical.limit(),
            RateLimit {
                max: 50,
                period_secs: 1200
            }
        );
        assert_eq!(file.rate_limits.register_per_ip_per_hour, 10);
        let mut bad = s.clone();
        bad.turnstile.verify_url = "siteverify".into();
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("turnstile.verify_url")
        );
    }

    #[test]
    fn the_console_folder_comes_from_the_environment_and_the_database_type_from_the_url() {
        assert!(Settings::default().server.static_dir().is_none());
        let vars = [(
            "TOLLGATE_SERVER__STATIC_DIR".to_owned(),
            "/srv/new-api/web/dist".to_owned(),
        )];
        let s = config::Config::builder()
            .add_source(environment().source(Some(vars.into_iter().collect())))
            .build()
            .unwrap()
            .try_deserialize::<Settings>()
            .unwrap();
        assert_eq!(
            s.server.static_dir(),
            Some(Path::new("/srv/new-api/web/dist"))
        );
        let empty = ServerSettings {
            static_dir: Some(PathBuf::new()),
            ..ServerSettings::default()
        };
        assert!(empty.static_dir().is_none());
        for (url, kind) in [
            ("sqlite://./data/t.db?mode=rwc", "sqlite"),
            ("postgres://u:p@db/x", "postgres"),
            ("postgresql://u:p@db/x", "postgres"),
            ("mysql://u:p@db/x", "mysql"),
            ("mariadb://u:p@db/x", "mysql"),
        ] {
            let s = Settings {
                database_url: SecretString::from(url),
                ..Settings::default()
            };
            assert_eq!(s.database_type(), kind, "{url}");
        }
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let s = Settings {
            database_url: SecretString::from("postgres://u:hunter2@db/x"),
            root_username: Some("root".into()),
            root_password: Some(SecretString::from("s3cret-pass")),
            kv: KvSettings {
                redis_url: Some(SecretString::from("redis://:kv-pass@cache/0")),
                ..KvSettings::default()
            },
            metrics: MetricsSettings {
                enabled: true,
                bearer_token: Some(SecretString::from("scrape-token-42")),
            },
            ..Settings::default()
        };
        let dbg = format!("{s:?}");
        for secret in ["hunter2", "s3cret-pass", "kv-pass", "scrape-token-42"] {
            assert!(!dbg.contains(secret), "{dbg}");
        }
    }

    #[test]
    fn the_metrics_token_comes_from_the_environment_and_must_not_be_empty() {
        let from_env = |vars: &[(&str, &str)]| {
            let vars = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
            config::Config::builder()
                .add_source(environment().source(Some(vars.collect())))
                .build()
                .unwrap()
                .try_deserialize::<Settings>()
                .unwrap()
        };
        let s = from_env(&[("TOLLGATE_METRICS__BEARER_TOKEN", "scrape-token-42")]);
        s.validate().unwrap();
        assert!(s.metrics.enabled);
        assert_eq!(
            s.metrics.bearer_token.as_ref().map(|t| t.expose_secret()),
            Some("scrape-token-42")
        );
        let off = from_env(&[("TOLLGATE_METRICS__ENABLED", "false")]);
        assert!(!off.metrics.enabled && off.metrics.bearer_token.is_none());
        let empty = from_env(&[("TOLLGATE_METRICS__BEARER_TOKEN", " ")]);
        let err = empty.validate().unwrap_err().to_string();
        assert!(err.contains("metrics.bearer_token"), "{err}");
    }

    #[test]
    fn locale_and_quota_display_are_parsed_when_loading() {
        let parse = |toml: &str| {
            config::Config::builder()
                .add_source(config::File::from_str(toml, config::FileFormat::Toml))
                .build()
                .unwrap()
                .try_deserialize::<Settings>()
        };
        let s = parse("default_locale = \"en-US\"\n[quota]\ndisplay_type = \"TOKENS\"").unwrap();
        assert_eq!(s.default_locale, Locale::En);
        assert_eq!(s.quota.display_type, QuotaDisplay::Tokens);
        assert_eq!(s.quota.display_type.as_str(), "TOKENS");
        let bad_locale = parse("default_locale = \"fr\"").unwrap_err().to_string();
        assert!(bad_locale.contains("default_locale"), "{bad_locale}");
        assert!(parse("[quota]\ndisplay_type = \"usd\"").is_err());
    }

    #[test]
    fn invalid_values_are_refused_with_the_key_named() {
        let bad_url = Settings {
            database_url: SecretString::from("redis://x"),
            ..Settings::default()
        };
        assert!(
            bad_url
                .validate()
                .unwrap_err()
                .to_string()
                .contains("database_url")
        );
        let half_root = Settings {
            root_username: Some("root".into()),
            ..Settings::default()
        };
        assert!(half_root.validate().is_err());
        let mut negative = Settings::default();
        negative.registration.quota_for_inviter = -1;
        assert!(
            negative
                .validate()
                .unwrap_err()
                .to_string()
                .contains("quota_for_inviter")
        );
        let mut weak = Settings::default();
        weak.jwt.secret = Some(SecretString::from("short"));
        assert!(
            weak.validate()
                .unwrap_err()
                .to_string()
                .contains("jwt.secret")
        );
        let mut tls = Settings::default();
        tls.kv.redis_url = Some(SecretString::from("rediss://:kv-pass@cache:6380"));
        let refused = tls.validate().unwrap_err().to_string();
        assert!(
            refused.contains("kv.redis_url") && !refused.contains("kv-pass"),
            "{refused}"
        );
        let mut limit = Settings::default();
        limit.rate_limits.critical.max = 0;
        assert!(
            limit
                .validate()
                .unwrap_err()
                .to_string()
                .contains("rate_limits.critical")
        );
        limit.rate_limits.critical.enabled = false;
        limit.validate().unwrap();
        assert!(limit.rate_limits.critical.limit().is_unlimited());
        let mut unset = Settings {
            bootstrap_root: false,
            root_username: Some("root".into()),
            root_password: Some(SecretString::from("s3cret-pass")),
            ..Settings::default()
        };
        assert!(
            unset
                .validate()
                .unwrap_err()
                .to_string()
                .contains("bootstrap_root")
        );
        unset.root_username = None;
        unset.root_password = None;
        unset.validate().unwrap();
        for (name, per_unit, key) in [("", 500_000, "system_name"), ("Shop", 0, "quota.per_unit")] {
            let site = Settings {
                system_name: name.into(),
                quota: QuotaSettings {
                    per_unit,
                    ..QuotaSettings::default()
                },
                ..Settings::default()
            };
            let refused = site.validate().unwrap_err().to_string();
            assert!(refused.contains(key), "{refused}");
        }
        let mut groups = Settings::default();
        groups.groups.ratios.insert("vip".into(), -1.0);
        assert!(
            groups
                .validate()
                .unwrap_err()
                .to_string()
                .contains("groups")
        );
    }
}
