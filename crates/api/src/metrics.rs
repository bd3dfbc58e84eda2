//! Prometheus metrics (docs/operations.md "Metrics", ADR 0017): every metric's name and
//! description, the process's recorder, the HTTP middleware, the `/metrics` endpoint, and the
//! functions handlers call to count logins, second factors and payment callbacks.
//!
//! The `metrics` facade records; `metrics-exporter-prometheus` renders, without its own HTTP
//! listener (`/metrics` is an actix route) and so without its upkeep task ([`spawn_upkeep`]
//! runs it). The ledger and settlement counters are emitted where the transactions commit,
//! in `tollgate_db` ([`tollgate_db::counters`]); they are described here with the rest.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use secrecy::{ExposeSecret, SecretString};
use tollgate_db::PoolStats;
use tollgate_db::counters::{LEDGER_ENTRIES_TOTAL, LEDGER_UNITS_TOTAL, TOPUP_SETTLEMENTS_TOTAL};
use tollgate_domain::payment::PaymentProvider;
use tollgate_domain::services::{
    LoginError, LoginStep, NotifyError, NotifyOutcome, SecondFactorLoginError, TwoFactorError,
};
use tollgate_domain::topup::{SettleError, Settled};

/// Requests answered, by `method`, `route` (the route's pattern) and `status`.
pub const HTTP_REQUESTS_TOTAL: &str = "tollgate_http_requests_total";
/// Time to the reply's head, by `method`, `route` and `status` (a histogram).
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "tollgate_http_request_duration_seconds";
/// Login attempts on both surfaces, by `surface`, `step` and `outcome`.
pub const LOGINS_TOTAL: &str = "tollgate_logins_total";
/// Second-factor codes refused, by `operation` and `reason`.
pub const TWO_FACTOR_FAILURES_TOTAL: &str = "tollgate_two_factor_failures_total";
/// Payment providers' notifications (Epay notify, Stripe webhook), by `provider` and `outcome`.
pub const PAYMENT_CALLBACKS_TOTAL: &str = "tollgate_payment_callbacks_total";
/// The database pool's open connections, by `state` (`idle`, `in_use`), read at each scrape.
pub const DB_POOL_CONNECTIONS: &str = "tollgate_db_pool_connections";
/// The most connections the database pool opens.
pub const DB_POOL_MAX_CONNECTIONS: &str = "tollgate_db_pool_max_connections";

/// The `route` of a request no route matched (never the raw path: one series per scanned URL
/// would grow without bound).
pub const UNMATCHED: &str = "unmatched";

/// Upper bounds of the request-duration buckets, in seconds (Prometheus' defaults).
const HTTP_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often [`spawn_upkeep`] drains the histograms' buffers.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The Prometheus text format's media type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The process's recorder, or why it could not be installed.
static RECORDER: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// The process's recorder, installed (and every metric described) on the first call. The
/// recorder is process-global, so every later call, from every server the process starts,
/// shares the first one's handle.
///
/// # Errors
/// When another global recorder was installed first.
pub fn recorder() -> anyhow::Result<PrometheusHandle> {
    RECORDER
        .get_or_init(install)
        .clone()
        .map_err(anyhow::Error::msg)
}

fn install() -> Result<PrometheusHandle, String> {
    let handle = builder()
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|e| format!("installing the metrics recorder failed: {e}"))?;
    describe();
    Ok(handle)
}

/// The recorder's configuration.
fn builder() -> Result<PrometheusBuilder, BuildError> {
    // Buckets make the durations a real histogram, which Prometheus can aggregate over
    // instances (without them the exporter renders a summary).
    PrometheusBuilder::new().set_buckets_for_metric(
        Matcher::Full(HTTP_REQUEST_DURATION_SECONDS.into()),
        &HTTP_BUCKETS,
    )
}

/// The `# HELP` and unit of every metric.
fn describe() {
    describe_counter!(HTTP_REQUESTS_TOTAL, "HTTP requests answered.");
    describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Time from receiving a request to its reply's head."
    );
    describe_counter!(
        LOGINS_TOTAL,
        "Login attempts: the password step and the second-factor step, on both surfaces."
    );
    describe_counter!(
        TWO_FACTOR_FAILURES_TOTAL,
        "Second-factor codes refused (wrong, malformed or throttled)."
    );
    describe_counter!(
        PAYMENT_CALLBACKS_TOTAL,
        "Payment providers' notifications (Epay notify, Stripe webhook)."
    );
    describe_counter!(
        TOPUP_SETTLEMENTS_TOTAL,
        "Top-up settlement attempts (notification, reconciliation, admin)."
    );
    describe_counter!(LEDGER_ENTRIES_TOTAL, "Committed ledger entries.");
    describe_counter!(
        LEDGER_UNITS_TOTAL,
        "Quota units moved by committed ledger entries (absolute value)."
    );
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Open database connections of this instance's pool, idle or in use."
    );
    describe_gauge!(
        DB_POOL_MAX_CONNECTIONS,
        "The most connections this instance's database pool opens."
    );
}

/// Runs the exporter's upkeep every few seconds (without its HTTP listener nobody else does;
/// histogram buffers would grow between scrapes).
pub fn spawn_upkeep(handle: PrometheusHandle) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            tick.tick().await;
            handle.run_upkeep();
        }
    });
}

/// What `/metrics` serves: the recorder's handle, the optional bearer token and the pool
/// whose occupancy it reports.
pub struct MetricsEndpoint {
    handle: PrometheusHandle,
    bearer_token: Option<SecretString>,
    pool: Box<dyn Fn() -> Option<PoolStats> + Send + Sync>,
}

impl MetricsEndpoint {
    /// `/metrics` over `handle`; `pool` reads the database pool's occupancy at each scrape.
    pub fn new(
        handle: PrometheusHandle,
        bearer_token: Option<SecretString>,
        pool: impl Fn() -> Option<PoolStats> + Send + Sync + 'static,
    ) -> Self {
        Self {
            handle,
            bearer_token,
            pool: Box::new(pool),
        }
    }

    /// Whether `req` may read the metrics: always without a token, else only with
    /// `Authorization: Bearer <token>` (compared in constant time).
    fn admits(&self, req: &HttpRequest) -> bool {
        let Some(token) = &self.bearer_token else {
            return true;
        };
        let presented = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, value)| value.trim())
            .unwrap_or_default();
        tollgate_domain::compare::constant_time_eq(
            presented.as_bytes(),
            token.expose_secret().as_bytes(),
        )
    }
}

/// `GET /metrics`: every metric in Prometheus text format; 401 without the configured bearer
/// token; 404 (as any unknown path) when `metrics.enabled` is off.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    security((), ("metrics_token" = [])),
    responses(
        (status = 200, description = "Every metric, Prometheus text format 0.0.4 (docs/operations.md \"Metrics\")", body = String, content_type = "text/plain"),
        (status = 401, description = "`metrics.bearer_token` is set and the request does not carry it", body = String, content_type = "text/plain"),
        (status = 404, description = "`metrics.enabled` is off", body = crate::openapi::CompatEnvelope)
    )
)]
pub async fn scrape(
    req: HttpRequest,
    endpoint: Option<web::Data<MetricsEndpoint>>,
) -> actix_web::Result<HttpResponse> {
    let Some(endpoint) = endpoint else {
        return Ok(crate::compat::not_found(req).await?);
    };
    if !endpoint.admits(&req) {
        return Ok(HttpResponse::Unauthorized()
            .insert_header((WWW_AUTHENTICATE, "Bearer realm=\"metrics\""))
            .insert_header((CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("unauthorized\n"));
    }
    if let Some(stats) = (endpoint.pool)() {
        metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(stats.idle);
        metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "in_use").set(stats.in_use());
        metrics::gauge!(DB_POOL_MAX_CONNECTIONS).set(stats.max);
    }
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, TEXT_FORMAT))
        .body(endpoint.handle.render()))
}

/// Counts every request and its duration by method, route pattern and status. It wraps the
/// whole app, so the status is the final one (a panic's 500 included).
pub async fn record_http(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    // Before routing, actix resolves the pattern against the resource map; that is all a
    // panic's error leaves to label it with (it carries no request).
    let unrouted = req.match_pattern();
    let res = next.call(req).await;
    let (route, status) = match &res {
        // After routing: the pattern of the resource that answered.
        Ok(res) => (res.request().match_pattern(), res.status()),
        Err(e) => (unrouted, e.as_response_error().status_code()),
    };
    let labels = [
        ("method", method.to_owned()),
        ("route", route.unwrap_or_else(|| UNMATCHED.to_owned())),
        ("status", status.as_u16().to_string()),
    ];
    metrics::counter!(HTTP_REQUESTS_TOTAL, &labels).increment(1);
    metrics::histogram!(HTTP_REQUEST_DURATION_SECONDS, &labels)
        .record(started.elapsed().as_secs_f64());
    res
}

/// The `method` label: the standard methods by name, anything else as `OTHER` (a client
/// can send any token as a method).
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN
        .into_iter()
        .find(|m| *m == method.as_str())
        .unwrap_or("OTHER")
}

/// The surface a login came through (the `surface` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `/api/user/login`, `/api/user/login/2fa`.
    Compat,
    /// `/api/v1/auth/login`, `/api/v1/auth/login/2fa`.
    Rest,
}

impl Surface {
    fn as_str(self) -> &'static str {
        match self {
            Self::Compat => "compat",
            Self::Rest => "rest",
        }
    }
}

/// What a second-factor code was checked for (the `operation` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwoFactorOp {
    /// The second step of a login.
    Login,
    Enable,
    Disable,
    BackupCodes,
}

impl TwoFactorOp {
    fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Enable => "enable",
            Self::Disable => "disable",
            Self::BackupCodes => "backup_codes",
        }
    }
}

fn count_login(surface: Surface, step: &'static str, outcome: &'static str) {
    metrics::counter!(
        LOGINS_TOTAL,
        "surface" => surface.as_str(),
        "step" => step,
        "outcome" => outcome,
    )
    .increment(1);
}

/// The `outcome` of a refused login: `throttled`, `error` (the server failed) or `failure`.
fn login_refusal(e: &LoginError) -> &'static str {
    match e {
        LoginError::Throttled(_) => "throttled",
        LoginError::Unexpected(_) => "error",
        _ => "failure",
    }
}

/// Counts a password step: `success` (a session opened), `second_factor_required`,
/// `failure`, `throttled` or `error`.
pub fn password_login<T>(surface: Surface, result: &Result<LoginStep<T>, LoginError>) {
    let outcome = match result {
        Ok(LoginStep::Done(_)) => "success",
        Ok(LoginStep::SecondFactor { .. }) => "second_factor_required",
        Err(e) => login_refusal(e),
    };
    count_login(surface, "password", outcome);
}

/// Counts a login's second step (`success`, `failure`, `throttled`, `error`), and a refused
/// code as a second-factor failure too.
pub fn second_factor_login<T>(surface: Surface, result: &Result<T, SecondFactorLoginError>) {
    let outcome = match result {
        Ok(_) => "success",
        Err(SecondFactorLoginError::Code(e)) => {
            two_factor_refused(TwoFactorOp::Login, e);
            match e {
                TwoFactorError::Throttled(_) => "throttled",
                TwoFactorError::Unexpected(_) => "error",
                _ => "failure",
            }
        }
        Err(SecondFactorLoginError::Login(e)) => login_refusal(e),
        Err(SecondFactorLoginError::Unexpected(_)) => "error",
        Err(SecondFactorLoginError::MissingCode | SecondFactorLoginError::Expired) => "failure",
    };
    count_login(surface, "second_factor", outcome);
}

/// Counts a second-factor code that was checked and refused (`reason`: `wrong_code`,
/// `malformed_code`, `throttled`); other refusals (no code, 2FA not set up) check no code.
pub fn two_factor_refused(operation: TwoFactorOp, e: &TwoFactorError) {
    let reason = match e {
        TwoFactorError::WrongCode => "wrong_code",
        TwoFactorError::MalformedCode | TwoFactorError::TotpFormat(_) => "malformed_code",
        TwoFactorError::Throttled(_) => "throttled",
        _ => return,
    };
    metrics::counter!(
        TWO_FACTOR_FAILURES_TOTAL,
        "operation" => operation.as_str(),
        "reason" => reason,
    )
    .increment(1);
}

/// Counts a provider's notification: `credited`, `duplicate` (already credited), `ignored`
/// (an event we do not act on), `not_configured`, `bad_signature` (Epay), `rejected` (a
/// Stripe webhook whose signature is missing, stale or wrong, or whose payload is not an
/// event), `invalid` (a verified Epay notification we refuse: wrong merchant, not paid,
/// fields missing), `refused` (the settlement refused it: unknown order, wrong amount...) or
/// `error`.
pub fn payment_callback(provider: PaymentProvider, result: &Result<NotifyOutcome, NotifyError>) {
    let outcome = match result {
        Ok(NotifyOutcome::Settled(settled)) => match **settled {
            Settled::Credited { .. } => "credited",
            Settled::AlreadySettled { .. } => "duplicate",
        },
        Ok(NotifyOutcome::Ignored) => "ignored",
        Err(NotifyError::NotConfigured) => "not_configured",
        Err(NotifyError::BadSignature) => "bad_signature",
        Err(NotifyError::Webhook(_)) => "rejected",
        Err(
            NotifyError::WrongMerchant(_)
            | NotifyError::NotPaid(_)
            | NotifyError::Missing(_)
            | NotifyError::BadAmount(_),
        ) => "invalid",
        Err(NotifyError::Settle(SettleError::Unexpected(_)) | NotifyError::Unexpected(_)) => {
            "error"
        }
        Err(NotifyError::Settle(_)) => "refused",
    };
    metrics::counter!(
        PAYMENT_CALLBACKS_TOTAL,
        "provider" => provider.as_str(),
        "outcome" => outcome,
    )
    .increment(1);
}

#[cfg(test)]
mod tests;
