//! One reply type for both HTTP surfaces, and [`send`], which reads any request into one.

use reqwest::RequestBuilder;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::rest_helpers::{now_unix, parse_rfc3339};

/// How far an envelope's `timestamp` may be from this machine's clock.
const CLOCK_SLACK_SECS: i64 = 120;

/// One reply of either surface: HTTP status, headers and the JSON body (`Null` when the reply
/// was not JSON). The compat surface's checks are [`Reply::success`] and
/// [`Reply::refused_with`]; the REST surface's are [`Reply::ok`] and [`Reply::err`]. Indexing
/// a reply indexes its body (`reply["data"]`).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    // ---- the compat surface: `{success, message, data}` ----

    /// Asserts a compat success: HTTP 200 and `success: true`. Returns `data`.
    #[track_caller]
    pub fn success(&self) -> Value {
        assert_eq!(self.status, 200, "HTTP status of a success: {self}");
        assert_eq!(self.body["success"], true, "not a success: {self}");
        self.data().clone()
    }

    /// Asserts a compat refusal: the body is exactly `{"success": false, "message": message}`.
    #[track_caller]
    pub fn refused_with(&self, message: &str) {
        assert_eq!(self.body, refusal(message), "HTTP {}", self.status);
    }

    /// The `data` member of the body (`Null` when absent).
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    // ---- the REST surface: `{code, message, data | error, timestamp}` ----

    /// Asserts a success envelope: HTTP `status`, `code` equal to it, `message`, a current
    /// RFC 3339 `timestamp`, `data` present and no `error`. Returns `data`.
    #[track_caller]
    pub fn ok(&self, status: u16, message: &str) -> Value {
        match self.check_ok(status, message) {
            Ok(data) => data,
            Err(e) => panic!("{e}"),
        }
    }

    /// Asserts a failure envelope: HTTP `status`, `code` equal to it, `message`, a current
    /// RFC 3339 `timestamp`, a non-empty string `error` and no `data`. Returns `error`.
    #[track_caller]
    pub fn err(&self, status: u16, message: &str) -> String {
        match self.check_err(status, message) {
            Ok(error) => error,
            Err(e) => panic!("{e}"),
        }
    }

    /// The one refusal of a missing or bad bearer token.
    #[track_caller]
    pub fn unauthenticated(&self) {
        if let Err(e) = self.check_unauthenticated() {
            panic!("{e}");
        }
    }

    /// The refusal of a valid token whose account is disabled.
    #[track_caller]
    pub fn disabled(&self) {
        let error = self.err(403, "账户已被禁用");
        assert_eq!(error, "account disabled", "{}", self.body);
    }

    /// [`Self::ok`] without panicking.
    pub fn check_ok(&self, status: u16, message: &str) -> Result<Value, String> {
        let obj = self.check_common(status, message)?;
        if !obj.contains_key("data") || obj.contains_key("error") {
            return Err(format!("not a success envelope: {}", self.body));
        }
        Ok(self.body["data"].clone())
    }

    /// [`Self::err`] without panicking.
    pub fn check_err(&self, status: u16, message: &str) -> Result<String, String> {
        let obj = self.check_common(status, message)?;
        match obj.get("error") {
            Some(Value::String(e)) if !e.is_empty() && !obj.contains_key("data") => Ok(e.clone()),
            _ => Err(format!("not a failure envelope: {}", self.body)),
        }
    }

    /// [`Self::unauthenticated`] without panicking.
    pub fn check_unauthenticated(&self) -> Result<(), String> {
        let error = self.check_err(401, "未认证")?;
        if error == "Invalid or expired token" {
            Ok(())
        } else {
            Err(format!("unexpected error detail: {}", self.body))
        }
    }

    fn check_common(
        &self,
        status: u16,
        message: &str,
    ) -> Result<&serde_json::Map<String, Value>, String> {
        let b = &self.body;
        let fail = |what: &str| {
            Err(format!(
                "{what}: expected HTTP {status} {message:?}; got HTTP {} ({}) {b}",
                self.status, self.content_type
            ))
        };
        if self.status != status {
            return fail("HTTP status");
        }
        if !self.content_type.starts_with("application/json") {
            return fail("content type");
        }
        let Some(obj) = b.as_object() else {
            return fail("body is no JSON object");
        };
        if b["code"] != status {
            return fail("code must equal the HTTP status");
        }
        if b["message"] != message {
            return fail("message");
        }
        let Some(ts) = b["timestamp"].as_str() else {
            return fail("no timestamp");
        };
        match parse_rfc3339(ts) {
            Some(at) if (at - now_unix()).abs() <= CLOCK_SLACK_SECS => Ok(obj),
            Some(_) => fail("timestamp is not now"),
            None => fail("timestamp is not RFC 3339"),
        }
    }
}

impl std::ops::Index<&str> for Reply {
    type Output = Value;

    fn index(&self, key: &str) -> &Value {
        &self.body[key]
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {} {}", self.status, self.body)
    }
}

impl PartialEq<Value> for Reply {
    /// A reply equals a JSON value when its body does.
    fn eq(&self, other: &Value) -> bool {
        self.body == *other
    }
}

/// The body of a compat refusal: `{"success": false, "message": message}`.
pub fn refusal(message: &str) -> Value {
    json!({"success": false, "message": message})
}

/// Sends a request and reads the reply; a body that is not JSON is kept as `Null` (and then
/// fails every envelope check).
pub async fn send(req: RequestBuilder) -> Reply {
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        content_type,
        headers,
        body,
    }
}
