//! Request ids (docs/operations.md "Request ids"): every reply carries `X-Request-Id`, and
//! every log line written while the request is served carries the same id as the
//! `request_id` field of its `request` span.
//!
//! The id is a new UUID v4, unless the peer is a trusted proxy (`server.trusted_proxies`,
//! [`crate::proxies`]) that sent a well-formed `X-Request-Id` of its own: then that one is
//! kept, so the proxy's logs and ours name the request alike. A client's own value is never
//! believed (it could forge another request's id into our logs), and a proxy's value that is
//! not 1 to [`MAX_LEN`] characters of `[A-Za-z0-9._-]` is replaced.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use tracing::Instrument as _;

use crate::proxies::TrustedProxies;

/// The header in both directions.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest id taken from a proxy.
pub const MAX_LEN: usize = 64;

/// Whether `id` may be taken from a trusted proxy: 1 to [`MAX_LEN`] characters of
/// `[A-Za-z0-9._-]` (nothing that could break a log line or a header).
pub fn is_valid(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The id of `req`: a trusted proxy's valid `X-Request-Id`, else a new UUID v4.
fn request_id(req: &ServiceRequest) -> String {
    let from_trusted_proxy = req
        .peer_addr()
        .zip(req.app_data::<web::Data<TrustedProxies>>())
        .is_some_and(|(peer, trusted)| trusted.contains(peer.ip()));
    let forwarded = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| from_trusted_proxy && is_valid(id));
    match forwarded {
        Some(id) => id.to_owned(),
        None => uuid::Uuid::new_v4().to_string(),
    }
}

/// Serves the request inside a `request` span with its `request_id`, and sets
/// `X-Request-Id` on the reply, errors included (the access log prints that header).
pub async fn tag(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request_id(&req);
    // At ERROR level so that no log filter keeps a line and drops its request's id.
    let span = tracing::error_span!("request", request_id = %id);
    // Valid by construction: a UUID, or checked by `is_valid`.
    let value = HeaderValue::from_str(&id).ok();
    let set = |headers: &mut actix_web::http::header::HeaderMap| {
        if let Some(value) = value {
            headers.insert(X_REQUEST_ID, value);
        }
    };
    match next.call(req).instrument(span).await {
        Ok(mut res) => {
            set(res.headers_mut());
            Ok(res)
        }
        // A middleware's error (a panic's 500) is rendered later by the server; render it
        // here to tag it, keeping its status and body (as `startup::security_headers` does).
        Err(e) => {
            let mut res = e.error_response();
            set(res.headers_mut());
            Err(actix_web::error::InternalError::from_response(e.to_string(), res).into())
        }
    }
}

#[cfg(test)]
mod tests;
