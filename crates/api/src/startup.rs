//! The composition root: the only place that names concrete adapters.

use std::net::TcpListener;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{
    CACHE_CONTROL, HeaderName, HeaderValue, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS,
};
use actix_web::middleware::{Logger, Next, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use base64::Engine as _;
use futures_util::FutureExt;
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use tollgate_auth::{Argon2Hasher, JwtCodec, OsSecrets, SystemClock, TotpRs};
use tollgate_db::{
    SeaAuditRepository, SeaLedgerRepository, SeaOptionsRepository, SeaReadiness,
    SeaRedemptionRepository, SeaSessionRepository, SeaTopUpRepository, SeaTwoFactorRepository,
    SeaUserRepository,
};
use tollgate_domain::audit::retention_cutoff;
use tollgate_domain::kv::KeyValueStore;
use tollgate_domain::options::{OptionsSource, StaticOptions};
use tollgate_domain::ports::{
    AuditRepository, Clock, LedgerRepository, Readiness, SessionRepository,
};
use tollgate_domain::rate_limit::{RateLimit, RateLimiter, WindowLimiter};
use tollgate_domain::services::{
    AccountService, AdminService, AffiliateService, AuthService, BootstrapOutcome, CorePorts,
    FailedLoginAudit, LoginFlow, OptionsService, ProfileService, RedemptionService, SessionTtl,
    StoredOptions, TopUpPorts, TopUpService, TwoFactorPorts, TwoFactorService,
};
use tollgate_domain::site::SiteService;
use tollgate_domain::throttle::LoginThrottle;
use tollgate_domain::turnstile::HumanCheck;
use tollgate_notify::{DnsResolver, TurnstileClient};
use tollgate_payments::{EpayClient, StripeClient};

use crate::config::Settings;
use crate::limits::RouteLimits;
use crate::openapi::Collector;
use crate::state::{AppState, CookiePolicy, InstanceInfo};
use crate::{compat, ops, rest};

/// Name of the JWT signing key in the database's shared secrets.
const JWT_SECRET_NAME: &str = "jwt_hs256";

/// How often expired and revoked sessions are deleted.
const SESSION_PURGE_INTERVAL: Duration = Duration::from_secs(3600);
/// How long revoked or expired sessions are kept before they are purged.
const SESSION_RETENTION_SECS: i64 = 7 * 86_400;
/// How often audit entries past their retention are deleted.
const AUDIT_PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// Every route of the service, each registered through `collector` from its OpenAPI
/// annotation (`crate::openapi`).
pub fn configure_surfaces(cfg: &mut web::ServiceConfig, collector: &Collector) {
    ops::configure(cfg, collector);
    // `/api/v1` before `/api`: scopes match in registration order.
    rest::configure(cfg, collector);
    compat::configure(cfg, collector);
}

/// Opens the database and, when configured, migrates it.
pub async fn open_database(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    let db = tollgate_db::connect(
        settings.database_url.expose_secret(),
        settings.database_max_connections,
    )
    .await?;
    if settings.auto_migrate {
        tollgate_db::migrate_up(&db).await?;
    }
    Ok(db)
}

/// The ledger over `db`: all `check-ledger` needs (no hasher, JWT key or services).
pub fn ledger(db: &DatabaseConnection) -> Arc<dyn LedgerRepository> {
    Arc::new(SeaLedgerRepository::new(db.clone()))
}

/// The services of one instance, over one database.
pub struct Services {
    pub auth: Arc<AuthService>,
    /// Password logins on both surfaces, with the second step of users who have 2FA.
    pub logins: LoginFlow,
    pub accounts: AccountService,
    pub admin: AdminService,
    pub options: OptionsService,
    pub profile: ProfileService,
    pub affiliate: AffiliateService,
    pub redemptions: RedemptionService,
    pub topups: Arc<TopUpService>,
    pub two_factor: Arc<TwoFactorService>,
    pub sessions: Arc<dyn SessionRepository>,
    pub ledger: Arc<dyn LedgerRepository>,
    pub readiness: Arc<dyn Readiness>,
    pub clock: Arc<dyn Clock>,
    /// New API's request limits (`GA`, `CT`, `EV`) of the HTTP routes.
    pub route_limits: RouteLimits,
    /// The Turnstile check of login, registration and the second-factor step.
    pub human: HumanCheck,
    /// The site's name, texts and quota display (`/api/status`, `/api/notice`, ...).
    pub site: SiteService,
    pub audit: Arc<dyn AuditRepository>,
    /// Counters, one-time values and invalidation messages (in process, or Redis shared by
    /// every instance).
    pub kv: Arc<dyn KeyValueStore>,
    /// The shared key-value store's health for `/readyz` (`None`: in process, always up).
    pub kv_readiness: Option<Arc<dyn Readiness>>,
    /// Throttles every credential check (passwords, second factors).
    pub throttle: Arc<LoginThrottle>,
}

/// What the services share: the core ports, the runtime options and the JWT codec.
struct Core {
    ports: CorePorts,
    options_repo: Arc<SeaOptionsRepository>,
    options: Arc<dyn OptionsSource>,
    codec: Arc<JwtCodec>,
}

async fn core(db: &DatabaseConnection, settings: &Settings) -> anyhow::Result<Core> {
    let ports = CorePorts {
        users: Arc::new(SeaUserRepository::new(db.clone())),
        sessions: Arc::new(SeaSessionRepository::new(db.clone())),
        hasher: Arc::new(Argon2Hasher::new().context("initialising the password hasher")?),
        secrets: Arc::new(OsSecrets),
        clock: Arc::new(SystemClock),
        audit: Arc::new(SeaAuditRepository::new(db.clone())),
    };
    // Runtime options: the configuration's values, overlaid with what root stored.
    let options_repo = Arc::new(SeaOptionsRepository::new(db.clone()));
    let mut defaults =
        StaticOptions::with(settings.registration_policy(), settings.groups.clone()).0;
    defaults.site = settings.site_defaults()?;
    let options: Arc<dyn OptionsSource> =
        Arc::new(StoredOptions::new(options_repo.clone(), defaults));
    let jwt_key = jwt_secret(db, settings).await?;
    let codec = JwtCodec::new(
        jwt_key.as_bytes(),
        &settings.jwt.issuer,
        &settings.jwt.audience,
        settings.jwt.access_ttl_secs,
        settings.jwt.leeway_secs,
    )
    .context("initialising the JWT codec")?;
    Ok(Core {
        ports,
        options_repo,
        options,
        codec: Arc::new(codec),
    })
}

fn account_service(core: &Core) -> AccountService {
    AccountService::new(&core.ports, core.options.clone())
}

/// The account service alone, for the CLI's `create-root` and `reset-password`: no rate
/// limiter and no other service.
pub async fn build_accounts(
    db: &DatabaseConnection,
    settings: &Settings,
) -> anyhow::Result<AccountService> {
    Ok(account_service(&core(db, settings).await?))
}

pub async fn build_services(
    db: &DatabaseConnection,
    settings: &Settings,
) -> anyhow::Result<Services> {
    let core = core(db, settings).await?;
    let ports = core.ports.clone();
    let redis_url = settings
        .kv
        .redis_url
        .as_ref()
        .map(ExposeSecret::expose_secret);
    let tollgate_kv::Kv {
        store: kv,
        readiness: kv_readiness,
    } = tollgate_kv::open(redis_url, &settings.kv.key_prefix, ports.clock.clone()).await?;
    let users = ports.users.clone();
    let sessions = ports.sessions.clone();
    let secrets = ports.secrets.clone();
    let clock = ports.clock.clone();
    let options = core.options.clone();
    let admin = AdminService::new(
        users.clone(),
        ports.audit.clone(),
        ports.hasher.clone(),
        secrets.clone(),
        clock.clone(),
        options.clone(),
    );
    let options_service =
        OptionsService::new(options.clone(), core.options_repo.clone(), clock.clone());
    // Every limit counts in the key-value store (ADR 0016).
    let limiter = |name: &str, limit: RateLimit| -> Arc<dyn RateLimiter> {
        Arc::new(WindowLimiter::new(name, limit, kv.clone(), clock.clone()))
    };
    let register_limit = RateLimit::per_hour(settings.rate_limits.register_per_ip_per_hour);
    let failed_login_limit = RateLimit::per_hour(settings.audit.failed_login_records_per_hour);
    let limits = &settings.rate_limits;
    let route_limits = RouteLimits {
        global_api: limiter("ga", limits.global_api.limit()),
        critical: limiter("ct", limits.critical.limit()),
        email_verification: limiter("ev", limits.email_verification.limit()),
    };
    let accounts = account_service(&core).with_register_limiter(limiter("reg", register_limit));
    let ttl = SessionTtl {
        web_secs: settings.session_ttl_secs(),
        refresh_secs: settings.refresh_ttl_secs(),
    };
    let throttle = Arc::new(LoginThrottle::new(
        kv.clone(),
        clock.clone(),
        secrets.clone(),
        settings.login_throttle.policy(),
    ));
    let auth = AuthService::new(ports.clone(), core.codec.clone(), options.clone(), ttl)
        .with_failed_login_audit(FailedLoginAudit::new(
            limiter("audit-login", failed_login_limit),
            failed_login_limit.period_secs,
        ))
        .with_throttle(throttle.clone());
    let auth = Arc::new(auth);
    let audit = ports.audit.clone();
    let two_factor = Arc::new(
        TwoFactorService::new(TwoFactorPorts {
            repo: Arc::new(SeaTwoFactorRepository::new(db.clone())),
            engine: Arc::new(TotpRs),
            hasher: ports.hasher.clone(),
            users: users.clone(),
            clock: clock.clone(),
            issuer: settings.system_name.clone(),
        })
        .with_throttle(throttle.clone()),
    );
    let logins = LoginFlow::new(
        auth.clone(),
        two_factor.clone(),
        kv.clone(),
        secrets.clone(),
        settings.two_factor.policy(),
    );
    let profile = ProfileService::new(ports, Arc::new(DnsResolver::default()), options.clone())
        .with_throttle(throttle.clone());
    let affiliate = AffiliateService::new(users, secrets.clone(), clock.clone(), options.clone());
    let site = SiteService::new(options.clone());
    let topups = Arc::new(topup_service(db, settings, &core, audit.clone())?);
    let turnstile_url = url::Url::parse(&settings.turnstile.verify_url)
        .context("turnstile.verify_url is not a URL")?;
    let turnstile_timeout = Duration::from_secs(settings.turnstile.timeout_secs.max(1));
    let human = HumanCheck::new(
        Arc::new(
            TurnstileClient::new(turnstile_url, turnstile_timeout)
                .context("initialising the Turnstile client")?,
        ),
        options.clone(),
    );
    let redemptions = RedemptionService::new(
        Arc::new(SeaRedemptionRepository::new(db.clone())),
        secrets,
        clock.clone(),
        options,
    );
    Ok(Services {
        auth,
        logins,
        accounts,
        admin,
        options: options_service,
        profile,
        affiliate,
        redemptions,
        topups,
        two_factor,
        sessions,
        ledger: ledger(db),
        readiness: Arc::new(SeaReadiness::new(db.clone())),
        clock,
        route_limits,
        human,
        site,
        audit,
        kv,
        kv_readiness,
        throttle,
    })
}

/// The top-up service alone, for the CLI's `reconcile-payments`.
pub async fn build_topups(
    db: &DatabaseConnection,
    settings: &Settings,
) -> anyhow::Result<TopUpService> {
    let core = core(db, settings).await?;
    let audit = core.ports.audit.clone();
    topup_service(db, settings, &core, audit)
}

/// Top-up orders over `db`, with the HTTP clients of Epay and Stripe.
fn topup_service(
    db: &DatabaseConnection,
    settings: &Settings,
    core: &Core,
    audit: Arc<dyn AuditRepository>,
) -> anyhow::Result<TopUpService> {
    tollgate_payments::install_crypto_provider();
    let timeout = Duration::from_secs(settings.payments.http_timeout_secs.max(1));
    let stripe_base = url::Url::parse(&settings.payments.stripe_api_base)
        .context("payments.stripe_api_base is not a URL")?;
    Ok(TopUpService::new(TopUpPorts {
        orders: Arc::new(SeaTopUpRepository::new(db.clone())),
        options: core.options.clone(),
        epay: Arc::new(EpayClient::new(timeout).context("initialising the Epay client")?),
        stripe: Arc::new(
            StripeClient::new(stripe_base, timeout).context("initialising the Stripe client")?,
        ),
        audit,
        clock: core.ports.clock.clone(),
        secrets: core.ports.secrets.clone(),
    }))
}

/// Every `interval_secs`, settles or closes pending orders the providers know about
/// (`payments.reconcile_interval_secs`; 0 = off). Safe on many instances: settlement is
/// exactly once whoever runs it.
fn spawn_reconcile(topups: Arc<TopUpService>, settings: &crate::config::PaymentsSettings) {
    if settings.reconcile_interval_secs == 0 {
        return;
    }
    let every = Duration::from_secs(settings.reconcile_interval_secs);
    let min_age = i64::try_from(settings.reconcile_min_age_secs).unwrap_or(i64::MAX);
    let batch = settings.reconcile_batch;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match topups.reconcile(min_age, batch).await {
                Ok(r) if r.checked == 0 => {}
                Ok(r) => tracing::info!(?r, "payment reconciliation"),
                Err(e) => tracing::warn!(error = %e, "payment reconciliation failed"),
            }
        }
    });
}

/// The configured JWT key, else the installation's generated one (shared by all instances
/// through the database, so tokens survive restarts and verify everywhere).
async fn jwt_secret(db: &DatabaseConnection, settings: &Settings) -> anyhow::Result<String> {
    if let Some(secret) = &settings.jwt.secret {
        return Ok(secret.expose_secret().to_owned());
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("os rng failed: {e}"))?;
    let candidate = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    tollgate_db::shared_secret(db, JWT_SECRET_NAME, &candidate).await
}

/// A built server, bound and ready to run.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        // Checked before anything is opened: a misspelt folder stops the start.
        let console = match settings.server.static_dir() {
            Some(dir) => Some(web::Data::new(crate::static_files::StaticSite::open(dir)?)),
            None => None,
        };
        let db = open_database(&settings).await?;
        let services = build_services(&db, &settings).await?;
        if settings.bootstrap_root {
            bootstrap_root(&services.accounts, &settings).await?;
        } else if !services.accounts.is_set_up().await? {
            tracing::warn!(
                "no root user and bootstrap_root = false: the first visitor of the console's \
                 setup page (POST /api/setup) becomes root"
            );
        }
        spawn_session_purge(services.sessions.clone(), services.clock.clone());
        spawn_reconcile(services.topups.clone(), &settings.payments);
        spawn_audit_purge(
            services.audit.clone(),
            services.clock.clone(),
            settings.audit.retention_days,
        );

        let state = web::Data::new(AppState {
            info: InstanceInfo {
                system_name: settings.system_name.clone(),
                server_address: settings.server_address.clone(),
                version: env!("CARGO_PKG_VERSION"),
                start_time: services.clock.now(),
                quota_per_unit: settings.quota.per_unit,
                quota_display_type: settings.quota.display_type,
                database_type: settings.database_type(),
            },
            cookie: CookiePolicy {
                secure: settings.session.cookie_secure,
                max_age_secs: settings.session_ttl_secs(),
            },
            default_locale: settings.locale(),
            services,
        });

        let listener = TcpListener::bind(&settings.addr)
            .with_context(|| format!("binding {}", settings.addr))?;
        let local = listener.local_addr()?;
        let port = local.port();
        if exposed_without_secure_cookies(local.ip(), settings.session.cookie_secure) {
            tracing::warn!(
                addr = %settings.addr,
                "listening on a non-loopback address with session.cookie_secure off: session \
                 cookies travel without the Secure flag and HSTS is not sent; serve HTTPS and \
                 set session.cookie_secure = true"
            );
        }
        let metrics = metrics_endpoint(&settings, &db)?;
        // The client address extractor reads it (`crate::client::ClientIp`).
        let trusted_proxies = web::Data::new(settings.server.trusted_proxies.clone());
        if !trusted_proxies.is_empty() {
            tracing::info!(trusted = ?trusted_proxies, "X-Forwarded-For is read from these proxies");
        }
        // Built once: every worker registers the same routes.
        let doc = crate::openapi::document();
        if let Some(site) = &console {
            tracing::info!(dir = %site.root().display(), "serving the console");
        }
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(trusted_proxies.clone())
                .configure(|cfg| {
                    if let Some(metrics) = &metrics {
                        cfg.app_data(metrics.clone());
                    }
                    // The console's folder, when configured (`crate::static_files`).
                    if let Some(site) = &console {
                        cfg.app_data(site.clone());
                    }
                })
                .wrap(from_fn(catch_panic))
                // Outside the panic handler, so its 500 is hardened too.
                .wrap(from_fn(security_headers))
                // Outside both: the final status, a panic's 500 included.
                .wrap(from_fn(crate::metrics::record_http))
                // Every log line of the request, and the reply, carry its id.
                .wrap(from_fn(crate::request_id::tag))
                // Path only: query strings may carry codes or signatures. The client address
                // is the one the limits use (`%{r}a` would believe any `X-Forwarded-For`).
                .wrap(
                    Logger::new(
                        "%{client}xi \"%{method}xi %U\" %s %b %Dms request_id=%{x-request-id}o",
                    )
                    .custom_request_replace("client", |req| {
                        crate::client::client_ip(req.request()).unwrap_or_else(|| "-".into())
                    })
                    .custom_request_replace("method", |req| req.method().to_string()),
                )
                .configure(|cfg| crate::openapi::configure(cfg, doc.clone()))
                .configure(|cfg| configure_surfaces(cfg, &Collector::new()))
                // Unmatched paths: the console's files and pages when `server.static_dir` is
                // set; the compat 404 JSON otherwise and always under `/api`.
                .default_service(web::to(crate::static_files::serve))
        })
        .listen(listener)?
        .shutdown_timeout(30)
        .run();
        tracing::info!(addr = %settings.addr, port, "tollgate listening");
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs until SIGTERM or ctrl-c, then drains in-flight requests (graceful shutdown).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// `/metrics`' data when `metrics.enabled`: the process's recorder (installed by the first
/// server the process builds), with its upkeep, and this server's database pool.
fn metrics_endpoint(
    settings: &Settings,
    db: &DatabaseConnection,
) -> anyhow::Result<Option<web::Data<crate::metrics::MetricsEndpoint>>> {
    if !settings.metrics.enabled {
        return Ok(None);
    }
    let handle = crate::metrics::recorder()?;
    crate::metrics::spawn_upkeep(handle.clone());
    let db = db.clone();
    Ok(Some(web::Data::new(crate::metrics::MetricsEndpoint::new(
        handle,
        settings.metrics.bearer_token.clone(),
        move || tollgate_db::pool_stats(&db),
    ))))
}

/// Creates the first root user when none exists (there is no default password: docs/operations.md).
async fn bootstrap_root(accounts: &AccountService, settings: &Settings) -> anyhow::Result<()> {
    match accounts
        .bootstrap_root(settings.root_credentials())
        .await
        .context("creating the root user")?
    {
        BootstrapOutcome::AlreadySetUp => {}
        BootstrapOutcome::Created {
            username,
            generated_password: None,
        } => tracing::info!(%username, "root user created from configuration"),
        BootstrapOutcome::Created {
            username,
            generated_password: Some(password),
        } => {
            tracing::warn!(%username, "root user created with a generated password (see stderr)");
            // Printed once, to stderr only, never through the log pipeline.
            eprintln!(
                "\n==== Tollgate: root user created ====\n  username: {username}\n  password: {password}\n\
                 Store it now; it is not shown again. Change it with `tollgate reset-password`.\n"
            );
        }
    }
    Ok(())
}

fn spawn_session_purge(sessions: Arc<dyn SessionRepository>, clock: Arc<dyn Clock>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SESSION_PURGE_INTERVAL);
        loop {
            tick.tick().await;
            match sessions.purge(clock.now() - SESSION_RETENTION_SECS).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "old sessions purged"),
                Err(e) => tracing::warn!(error = %e, "session purge failed"),
            }
        }
    });
}

/// Deletes audit entries past their retention; does nothing when it is 0 (keep forever).
fn spawn_audit_purge(audit: Arc<dyn AuditRepository>, clock: Arc<dyn Clock>, retention_days: u32) {
    if retention_days == 0 {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(AUDIT_PURGE_INTERVAL);
        loop {
            tick.tick().await;
            let Some(cutoff) = retention_cutoff(clock.now(), retention_days) else {
                continue;
            };
            match audit.purge(cutoff).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, retention_days, "old audit entries purged"),
                Err(e) => tracing::warn!(error = %e, "audit purge failed"),
            }
        }
    });
}

/// Whether the server is reachable beyond this machine while session cookies lack `Secure`
/// (then it warns at startup: cookies and tokens would cross the network in clear text unless
/// a TLS proxy sits in front, and HSTS is off).
pub fn exposed_without_secure_cookies(ip: std::net::IpAddr, cookie_secure: bool) -> bool {
    !cookie_secure && !ip.is_loopback()
}

/// `Strict-Transport-Security` when cookies are secure (HTTPS deployments): one year, this
/// host only (other hosts of the domain may not serve HTTPS).
const HSTS: &str = "max-age=31536000";

/// The hardening headers of a reply to `path` (issue 7.10): never sniff a content type, never
/// send a referrer (an API has no page whose links need one), HSTS when `hsts`, and
/// `Cache-Control: no-store` on every `/api/` reply — the simplest rule that covers every
/// reply that can carry a secret (logins, token rotation, refresh, registration, settings).
pub fn hardening_headers(path: &str, hsts: bool) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = vec![
        (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    ];
    if path == "/api" || path.starts_with("/api/") {
        headers.push((CACHE_CONTROL, HeaderValue::from_static("no-store")));
    }
    if hsts {
        headers.push((STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS)));
    }
    headers
}

/// Adds [`hardening_headers`] to every reply, errors included (a header a handler set itself
/// is kept).
async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let hsts = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.cookie.secure);
    let headers = hardening_headers(req.path(), hsts);
    let add = |map: &mut actix_web::http::header::HeaderMap| {
        for (name, value) in headers {
            if !map.contains_key(&name) {
                map.insert(name, value);
            }
        }
    };
    match next.call(req).await {
        Ok(mut res) => {
            add(res.headers_mut());
            Ok(res)
        }
        // A middleware's error (the panic handler's 500) is rendered later by the server;
        // render it here to harden it, keeping its status and body.
        Err(e) => {
            let mut res = e.error_response();
            add(res.headers_mut());
            Err(actix_web::error::InternalError::from_response(e.to_string(), res).into())
        }
    }
}

/// A panic in a handler becomes an opaque 500 and a log line, not a dropped connection.
/// (The request is not cloned up front: routing needs the only reference to it.) This one
/// wraps the whole app and answers the compat envelope; the REST scope wraps its routes in
/// [`crate::rest::catch_panic`], which answers the REST envelope through [`catch_panic_with`].
async fn catch_panic(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    catch_panic_with(req, next, |locale| {
        let message = crate::i18n::Msg::Internal.text(locale);
        HttpResponse::InternalServerError()
            .json(serde_json::json!({"success": false, "message": message}))
    })
    .await
}

/// Runs the rest of the chain, turning a panic into `reply(locale)` (a 500) and a log line.
pub(crate) async fn catch_panic_with(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    reply: fn(crate::i18n::Locale) -> HttpResponse,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let path = req.path().to_owned();
    let locale = crate::compat::respond::locale_of(req.request());
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(res) => res,
        Err(_) => {
            tracing::error!(%path, "handler panicked");
            Err(
                actix_web::error::InternalError::from_response("handler panicked", reply(locale))
                    .into(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::{App, test, web};

    use super::*;

    async fn boom() -> HttpResponse {
        panic!("secret detail")
    }

    async fn error_body(err: actix_web::Error) -> (u16, serde_json::Value) {
        let res = err.error_response();
        let status = res.status().as_u16();
        let bytes = actix_web::body::to_bytes(res.into_body()).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[actix_web::test]
    async fn a_panic_under_the_rest_scope_answers_the_rest_envelope() {
        let app = test::init_service(
            App::new()
                .wrap(from_fn(catch_panic))
                // The real REST scope, plus one panicking route.
                .service(crate::rest::scope(Collector::new()).route("/boom", web::get().to(boom)))
                .route("/api/boom", web::get().to(boom)),
        )
        .await;
        let req = test::TestRequest::get()
            .uri("/api/v1/boom")
            .insert_header(("Accept-Language", "en"))
            .to_request();
        let Err(err) = test::try_call_service(&app, req).await else {
            panic!("the panic was not turned into an error");
        };
        let (status, body) = error_body(err).await;
        assert_eq!(status, 500);
        assert_eq!(body["code"], 500, "{body}");
        assert_eq!(body["message"], "Internal server error", "{body}");
        assert_eq!(body["error"], "internal error", "{body}");
        assert!(body["timestamp"].is_string(), "{body}");
        assert!(body.get("success").is_none(), "{body}");
        assert!(!body.to_string().contains("secret detail"), "{body}");
        // The compat surface keeps its own envelope.
        let req = test::TestRequest::get().uri("/api/boom").to_request();
        let Err(err) = test::try_call_service(&app, req).await else {
            panic!("the panic was not turned into an error");
        };
        let (_, body) = error_body(err).await;
        assert_eq!(
            body,
            serde_json::json!({"success": false, "message": "服务器内部错误"})
        );
    }

    #[actix_web::test]
    async fn the_startup_warning_is_for_non_loopback_addresses_without_secure_cookies() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        for (addr, secure, warn) in [
            ("127.0.0.1", false, false),
            ("127.0.0.2", false, false),
            ("::1", false, false),
            ("0.0.0.0", false, true),
            ("::", false, true),
            ("192.168.1.10", false, true),
            ("203.0.113.7", false, true),
            ("0.0.0.0", true, false),
            ("203.0.113.7", true, false),
        ] {
            assert_eq!(
                exposed_without_secure_cookies(ip(addr), secure),
                warn,
                "{addr} secure={secure}"
            );
        }
    }

    #[actix_web::test]
    async fn a_panics_500_carries_the_hardening_headers() {
        let app = test::init_service(
            App::new()
                .wrap(from_fn(catch_panic))
                .wrap(from_fn(security_headers))
                .route("/api/boom", web::get().to(boom)),
        )
        .await;
        let req = test::TestRequest::get().uri("/api/boom").to_request();
        let Err(err) = test::try_call_service(&app, req).await else {
            panic!("the panic was not turned into an error");
        };
        let res = err.error_response();
        assert_eq!(res.status(), 500);
        assert_eq!(
            res.headers().get(X_CONTENT_TYPE_OPTIONS).unwrap(),
            "nosniff"
        );
        assert_eq!(res.headers().get(CACHE_CONTROL).unwrap(), "no-store");
        assert_eq!(res.headers().get(REFERRER_POLICY).unwrap(), "no-referrer");
        // The body and status survive the re-rendering.
        let bytes = actix_web::body::to_bytes(res.into_body()).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["success"], false);
    }

    #[actix_web::test]
    async fn a_panicking_handler_becomes_an_opaque_localised_500() {
        let app = test::init_service(
            App::new()
                .wrap(from_fn(catch_panic))
                .route("/boom", web::get().to(boom)),
        )
        .await;
        let req = test::TestRequest::get()
            .uri("/boom")
            .insert_header(("Accept-Language", "en"))
            .to_request();
        // The server's dispatcher renders a service error with `error_response`; so does this.
        let err = match test::try_call_service(&app, req).await {
            Ok(_) => panic!("the panic was not turned into an error"),
            Err(e) => e,
        };
        let res = err.error_response();
        assert_eq!(res.status(), 500);
        let bytes = actix_web::body::to_bytes(res.into_body()).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"success": false, "message": "Internal server error"})
        );
    }
}
