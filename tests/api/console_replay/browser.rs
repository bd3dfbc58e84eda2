//! The console as the server sees it: one axios instance with `New-API-User` (the id of
//! `localStorage.user`, or -1 when logged out) and `Cache-Control: no-store` on every request,
//! and a browser's cookie jar (same origin, so every cookie the server sets comes back).

use std::collections::BTreeMap;

use reqwest::Method;
use reqwest::header::SET_COOKIE;
use serde_json::Value;

use crate::helpers::TestApp;
use crate::reply::{Reply, send};

/// The user the console has in `localStorage.user`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub id: i64,
    pub username: String,
}

/// One browser tab of the console.
#[derive(Debug, Default)]
pub struct Browser {
    jar: BTreeMap<String, String>,
    /// `localStorage.user`: set by a login, cleared by a logout.
    pub user: Option<Stored>,
}

impl Browser {
    /// The `New-API-User` header the console sends now.
    pub fn new_api_user(&self) -> String {
        self.user
            .as_ref()
            .map_or_else(|| "-1".to_owned(), |u| u.id.to_string())
    }

    /// Sends one request as the console does and keeps the cookies the reply sets.
    pub async fn send(
        &mut self,
        app: &TestApp,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        let mut req = app
            .client
            .request(method, app.url(path))
            .header("New-API-User", self.new_api_user())
            .header("Cache-Control", "no-store");
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header("Cookie", cookies.join("; "));
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let reply = send(req).await;
        self.keep_cookies(&reply);
        reply
    }

    /// Whether the jar holds a `session` cookie.
    pub fn has_session(&self) -> bool {
        self.jar.contains_key("session")
    }

    /// Applies `Set-Cookie`: an empty value or `Max-Age=0` removes the cookie.
    fn keep_cookies(&mut self, reply: &Reply) {
        for header in reply.headers.get_all(SET_COOKIE) {
            let Ok(text) = header.to_str() else { continue };
            let mut parts = text.split(';').map(str::trim);
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let expired = parts.any(|a| a.eq_ignore_ascii_case("max-age=0"));
            if value.is_empty() || expired {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
    }
}
