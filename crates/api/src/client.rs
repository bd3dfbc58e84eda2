//! Facts about the calling client, for sessions and the audit log.

use actix_web::HttpRequest;
use actix_web::http::header::USER_AGENT;

/// Longest user agent stored with a session.
const USER_AGENT_MAX_CHARS: usize = 512;

/// The socket peer's address. `X-Forwarded-For` is not trusted: without a configured trusted
/// proxy anyone can set it (spec §8.1).
pub fn peer_ip(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}

/// The `User-Agent` header, truncated.
pub fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(USER_AGENT_MAX_CHARS).collect())
}
