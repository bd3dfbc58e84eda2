//! Facts about the calling client, as extractors: its language, address and user agent.

use std::convert::Infallible;
use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header::USER_AGENT;
use actix_web::{FromRequest, HttpRequest};

use crate::compat::respond::locale_of;
use crate::i18n::Locale;

/// Longest user agent stored with a session.
const USER_AGENT_MAX_CHARS: usize = 512;

/// The socket peer's address. `X-Forwarded-For` is not trusted: without a configured trusted
/// proxy anyone can set it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientIp(pub Option<String>);

/// The `User-Agent` header, truncated to [`USER_AGENT_MAX_CHARS`] characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserAgent(pub Option<String>);

/// The socket peer's address.
pub fn peer_ip(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}

fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(USER_AGENT_MAX_CHARS).collect())
}

impl FromRequest for ClientIp {
    type Error = Infallible;
    type Future = Ready<Result<Self, Infallible>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self(peer_ip(req))))
    }
}

impl FromRequest for UserAgent {
    type Error = Infallible;
    type Future = Ready<Result<Self, Infallible>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self(user_agent(req))))
    }
}

/// The request's language: `Accept-Language`, else the configured default.
impl FromRequest for Locale {
    type Error = Infallible;
    type Future = Ready<Result<Self, Infallible>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(locale_of(req)))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[actix_web::test]
    async fn user_agent_is_truncated_and_locale_negotiated() {
        let long = "a".repeat(USER_AGENT_MAX_CHARS + 10);
        let req = TestRequest::default()
            .insert_header((USER_AGENT, long.as_str()))
            .insert_header(("Accept-Language", "en-US"))
            .to_http_request();
        let ua = UserAgent::extract(&req).await.unwrap();
        assert_eq!(ua.0.map(|s| s.chars().count()), Some(USER_AGENT_MAX_CHARS));
        assert_eq!(Locale::extract(&req).await.unwrap(), Locale::En);
        assert_eq!(ClientIp::extract(&req).await.unwrap(), ClientIp(None));
    }
}
