//! Facts about the calling client, as extractors: its language, address and user agent.

use std::convert::Infallible;
use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header::USER_AGENT;
use actix_web::{FromRequest, HttpRequest, web};

use crate::compat::respond::locale_of;
use crate::i18n::Locale;
use crate::proxies::{TrustedProxies, X_FORWARDED_FOR};

/// Longest user agent stored with a session.
const USER_AGENT_MAX_CHARS: usize = 512;

/// The client's address: the socket peer, or, when the peer is one of the configured trusted
/// proxies (`server.trusted_proxies`), the address it forwarded in `X-Forwarded-For`
/// ([`TrustedProxies::client_ip`]). Without trusted proxies the header is never read: anyone
/// can set it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientIp(pub Option<String>);

/// The `User-Agent` header, truncated to [`USER_AGENT_MAX_CHARS`] characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserAgent(pub Option<String>);

/// The client's address as [`ClientIp`] describes it; the trusted networks come from the
/// app data `web::Data<TrustedProxies>` (none registered: the peer).
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    let peer = req.peer_addr()?.ip();
    let ip = match req.app_data::<web::Data<TrustedProxies>>() {
        Some(trusted) if !trusted.is_empty() => {
            let forwarded = req
                .headers()
                .get_all(X_FORWARDED_FOR)
                // A value that is not visible ASCII is malformed: it stops the walk.
                .map(|v| v.to_str().unwrap_or("?"))
                .collect::<Vec<_>>();
            trusted.client_ip(peer, forwarded.into_iter())
        }
        _ => peer.to_canonical(),
    };
    Some(ip.to_string())
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
        ready(Ok(Self(client_ip(req))))
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

    #[actix_web::test]
    async fn the_forwarded_address_is_used_only_from_a_trusted_peer() {
        let trusted = web::Data::new(TrustedProxies::parse(&["127.0.0.0/8"]).unwrap());
        let request = |peer: &str, with_trust: bool| {
            let mut req = TestRequest::default()
                .peer_addr(peer.parse().unwrap())
                .insert_header((X_FORWARDED_FOR, "203.0.113.5"));
            if with_trust {
                req = req.app_data(trusted.clone());
            }
            req.to_http_request()
        };
        let ip = |req: HttpRequest| async move { ClientIp::extract(&req).await.unwrap().0 };
        assert_eq!(
            ip(request("127.0.0.1:5000", true)).await.as_deref(),
            Some("203.0.113.5")
        );
        // An untrusted peer, or no trusted list at all: the peer, whatever the header says.
        assert_eq!(
            ip(request("198.51.100.7:5000", true)).await.as_deref(),
            Some("198.51.100.7")
        );
        assert_eq!(
            ip(request("127.0.0.1:5000", false)).await.as_deref(),
            Some("127.0.0.1")
        );
        // A header that is not text stops the walk at the proxy.
        let req = TestRequest::default()
            .peer_addr("127.0.0.1:5000".parse().unwrap())
            .insert_header((
                X_FORWARDED_FOR,
                actix_web::http::header::HeaderValue::from_bytes(b"\xff1.2.3.4").unwrap(),
            ))
            .app_data(trusted.clone())
            .to_http_request();
        assert_eq!(ip(req).await.as_deref(), Some("127.0.0.1"));
    }
}
