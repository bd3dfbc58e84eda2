//! The Turnstile guard (spec §8.2) as route middleware: while root has `TurnstileCheckEnabled`
//! on, the wrapped routes need `?turnstile=<token>`, which the domain's
//! [`HumanCheck`](tollgate_domain::turnstile::HumanCheck) redeems with Cloudflare, from the
//! client address of [`crate::client::client_ip`]. Every request needs its own token (no
//! session whitelist, unlike New API).
//!
//! Wraps: compat `POST /api/user/register` and `/api/user/login`, REST
//! `POST /api/v1/auth/register` and `/api/v1/auth/login` (and the second-factor steps, where
//! they are registered). Refusals come from the refusal table of `HumanCheckError`: New API's
//! `{success:false, message}` on the compat surface, 400/403/503 envelopes on `/api/v1`.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};
use tollgate_domain::turnstile::HumanCheckError;

use crate::compat::respond::{CompatError, locale_of};
use crate::rest::RestError;
use crate::state::AppState;

/// The query parameter that carries the widget's token (New API's name).
const TOKEN_PARAM: &str = "turnstile";

/// The first `turnstile` value of a query string.
fn token(query: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == TOKEN_PARAM)
        .map(|(_, v)| v.into_owned())
}

/// Passes the request on when the check is off or the token is good; else answers the
/// refusal in the surface's shape.
pub async fn required<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let token = token(req.query_string());
    let ip = crate::client::client_ip(req.request());
    let outcome = state
        .services
        .human
        .check(token.as_deref(), ip.as_deref())
        .await;
    let Err(e) = outcome else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    if let HumanCheckError::Unavailable(cause) = &e {
        tracing::warn!(error = %cause, "Turnstile siteverify unavailable; request refused");
    }
    let locale = locale_of(req.request());
    let reply = if req.path().starts_with("/api/v1/") {
        RestError::refused(&e, locale).error_response()
    } else {
        CompatError::refused(&e, locale, &state.info).error_response()
    };
    Ok(req.into_response(reply).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_the_first_turnstile_parameter_decoded() {
        assert_eq!(token("turnstile=abc%2Fd+e"), Some("abc/d e".into()));
        assert_eq!(token("x=1&turnstile=a&turnstile=b"), Some("a".into()));
        assert_eq!(token("turnstile="), Some(String::new()));
        assert_eq!(token("turnstil=a"), None);
        assert_eq!(token(""), None);
    }
}
