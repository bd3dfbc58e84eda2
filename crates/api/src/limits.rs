//! New API's request rate limits (spec §8.1) as route middleware, keyed by the client address
//! (`crate::client::client_ip`, which honours `server.trusted_proxies`):
//!
//! - [`global_api`] (`GA`, 180 per 180 s by default) wraps the `/api` and `/api/v1` scopes:
//!   one count per address over both surfaces. The payment providers' callbacks are not
//!   counted: they come from the provider's few addresses, are verified by signature, and a
//!   refused one only delays a customer's credit.
//! - The critical limit (`CT`, 20 per 1200 s) wraps single routes, counted per route group
//!   ([`Critical`]) and address. New API shares one bucket across all of them, so 20 redeem
//!   attempts locked the address out of login (spec §10 item 26); here they do not.
//! - [`email_verification`] (`EV`, 2 per 30 s) is for `GET /api/verification`, which comes
//!   with e-mail delivery.
//!
//! Replies (spec §0.2): on the compat surface HTTP 429 with an empty body (the e-mail limit:
//! New API's JSON message), on `/api/v1` the REST envelope with 429; always `Retry-After`.
//! The counting is [`tollgate_domain::rate_limit::WindowLimiter`] over the key-value store,
//! which lets requests through when the store fails.

use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::RETRY_AFTER;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};
use tollgate_domain::rate_limit::{Decision, RateLimiter, address_key};

use crate::compat::respond::locale_of;
use crate::i18n::{Locale, Msg, email_send_too_frequent};
use crate::rest::RestError;
use crate::state::AppState;

/// The limiters of the HTTP routes, one per New API limit.
pub struct RouteLimits {
    pub global_api: Arc<dyn RateLimiter>,
    pub critical: Arc<dyn RateLimiter>,
    pub email_verification: Arc<dyn RateLimiter>,
}

/// The route groups of the critical limit; each counts apart. Both surfaces share a group
/// (a login is a login, compat or REST).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Critical {
    /// Login and its second-factor step.
    Login,
    Register,
    /// Redemption codes (`POST /api/user/topup`).
    Redeem,
    /// Creating payment orders (`/pay`, `/stripe/pay`).
    Pay,
}

impl Critical {
    fn key(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Register => "register",
            Self::Redeem => "redeem",
            Self::Pay => "pay",
        }
    }
}

/// Which limit refused, for the reply's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Request,
    Email,
}

/// Paths the global limit does not count: the payment providers' callbacks.
const UNCOUNTED: [&str; 2] = ["/api/user/epay/notify", "/api/stripe/webhook"];

/// `GA`: every `/api/*` request of one address, both surfaces together.
pub async fn global_api<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    if UNCOUNTED.contains(&req.path()) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    limited(req, next, |l| &l.global_api, "ga".into(), Kind::Request).await
}

/// `CT` for login and its second-factor step.
pub async fn critical_login<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    critical(Critical::Login, req, next).await
}

/// `CT` for registration.
pub async fn critical_register<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    critical(Critical::Register, req, next).await
}

/// `CT` for redeeming codes.
pub async fn critical_redeem<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    critical(Critical::Redeem, req, next).await
}

/// `CT` for creating payment orders.
pub async fn critical_pay<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    critical(Critical::Pay, req, next).await
}

/// `EV`: e-mail verification codes (for `GET /api/verification`, not routed yet).
pub async fn email_verification<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    limited(
        req,
        next,
        |l| &l.email_verification,
        "ev".into(),
        Kind::Email,
    )
    .await
}

async fn critical<B: MessageBody + 'static>(
    group: Critical,
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    limited(
        req,
        next,
        |l| &l.critical,
        group.key().into(),
        Kind::Request,
    )
    .await
}

/// Counts the request under `scope` and the client's address with the limiter `pick` chooses;
/// refuses it with 429, or passes it on.
async fn limited<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
    pick: fn(&RouteLimits) -> &Arc<dyn RateLimiter>,
    scope: String,
    kind: Kind,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let ip = crate::client::client_ip(req.request());
    let key = format!("{scope}:{}", address_key(ip.as_deref()));
    let decision = match pick(&state.services.route_limits).check(&key).await {
        Ok(decision) => decision,
        // The domain's limiter already lets a failing store through; this is for any other.
        Err(e) => {
            tracing::warn!(error = %e, "rate limiter failed; the request is let through");
            Decision::Allow
        }
    };
    match decision {
        Decision::Allow => Ok(next.call(req).await?.map_into_left_body()),
        Decision::Deny { retry_after_secs } => {
            let rest = is_rest(req.path());
            let reply = too_many(kind, rest, locale_of(req.request()), retry_after_secs);
            Ok(req.into_response(reply).map_into_right_body())
        }
    }
}

fn is_rest(path: &str) -> bool {
    path == "/api/v1" || path.starts_with("/api/v1/")
}

/// The 429 of a refused request, in the surface's shape, with `Retry-After`.
fn too_many(kind: Kind, rest: bool, locale: Locale, retry_after_secs: u64) -> HttpResponse {
    if rest {
        return RestError::too_many_requests(
            Msg::RateLimited,
            locale,
            "rate limit exceeded",
            retry_after_secs,
        )
        .error_response();
    }
    let mut reply = HttpResponse::build(StatusCode::TOO_MANY_REQUESTS);
    reply.insert_header((RETRY_AFTER, retry_after_secs.to_string()));
    match kind {
        // New API: an empty body.
        Kind::Request => reply.finish(),
        Kind::Email => reply.json(serde_json::json!({
            "success": false,
            "message": email_send_too_frequent(retry_after_secs, locale),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parts(res: HttpResponse) -> (u16, Option<String>, String) {
        let status = res.status().as_u16();
        let retry = res
            .headers()
            .get(RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = actix_web::body::to_bytes(res.into_body()).await.unwrap();
        (status, retry, String::from_utf8(body.to_vec()).unwrap())
    }

    #[actix_web::test]
    async fn refusals_take_each_surfaces_shape_with_retry_after() {
        let (status, retry, body) = parts(too_many(Kind::Request, false, Locale::En, 7)).await;
        assert_eq!(
            (status, retry.as_deref(), body.as_str()),
            (429, Some("7"), "")
        );

        let (status, retry, body) = parts(too_many(Kind::Email, false, Locale::ZhCn, 12)).await;
        assert_eq!((status, retry.as_deref()), (429, Some("12")));
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"success": false, "message": "发送过于频繁，请等待 12 秒后再试"})
        );

        let (status, retry, body) = parts(too_many(Kind::Request, true, Locale::En, 3)).await;
        assert_eq!((status, retry.as_deref()), (429, Some("3")));
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], 429);
        assert_eq!(body["message"], "Too many requests, please try again later");
        assert_eq!(body["error"], "rate limit exceeded");
        assert!(body["timestamp"].is_string());
    }

    #[test]
    fn only_the_v1_prefix_is_the_rest_surface() {
        assert!(is_rest("/api/v1/auth/login"));
        assert!(is_rest("/api/v1"));
        assert!(!is_rest("/api/v10/x"));
        assert!(!is_rest("/api/user/login"));
    }

    #[test]
    fn critical_groups_count_apart() {
        let keys = [
            Critical::Login,
            Critical::Register,
            Critical::Redeem,
            Critical::Pay,
        ]
        .map(Critical::key);
        let unique: std::collections::BTreeSet<_> = keys.iter().collect();
        assert_eq!(unique.len(), keys.len());
    }
}
