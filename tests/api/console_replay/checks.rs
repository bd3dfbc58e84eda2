//! Field checks on one reply: each finding names the field (`data.items.0.DeletedAt`) and what
//! was wrong, so the driver can report it under the call's label.

use serde_json::Value;

use crate::reply::Reply;

/// The message of New API's 404 JSON.
pub const NOT_FOUND: &str = "未找到该接口";

/// The findings on one reply.
pub struct Checks<'r> {
    /// The reply body checked.
    pub body: &'r Value,
    /// What was wrong, one line each.
    pub found: Vec<String>,
}

/// `data.items.0.id` → the value there; `None` when a key is missing.
pub fn at<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    if path.is_empty() {
        return Some(v);
    }
    let pointer = format!("/{}", path.replace('.', "/"));
    v.pointer(&pointer)
}

/// A value for a finding, shortened.
fn show(v: Option<&Value>) -> String {
    v.map_or_else(
        || "nothing (key missing)".to_owned(),
        |v| {
            let s = v.to_string();
            if s.len() > 160 {
                format!("{}…", &s[..s.floor_char_boundary(160)])
            } else {
                s
            }
        },
    )
}

impl<'r> Checks<'r> {
    /// No findings yet on `body`.
    pub fn new(body: &'r Value) -> Self {
        Self {
            body,
            found: Vec::new(),
        }
    }

    /// Records a finding.
    pub fn fail(&mut self, what: impl Into<String>) {
        self.found.push(what.into());
    }

    fn kind(&mut self, path: &str, want: &str, ok: fn(&Value) -> bool) -> Option<&'r Value> {
        let v = at(self.body, path);
        match v {
            Some(x) if ok(x) => Some(x),
            other => {
                self.fail(format!("{path}: expected {want}, got {}", show(other)));
                None
            }
        }
    }

    /// The string at `path`, or a finding.
    pub fn string(&mut self, path: &str) -> Option<&'r str> {
        self.kind(path, "a string", Value::is_string)
            .and_then(Value::as_str)
    }

    /// The integer at `path`, or a finding.
    pub fn int(&mut self, path: &str) -> Option<i64> {
        self.kind(path, "an integer", |v| v.is_i64() || v.is_u64())
            .and_then(Value::as_i64)
    }

    /// A number (integer or not) at `path`, or a finding.
    pub fn number(&mut self, path: &str) {
        self.kind(path, "a number", Value::is_number);
    }

    /// The boolean at `path`, or a finding.
    pub fn bool(&mut self, path: &str) -> Option<bool> {
        self.kind(path, "a boolean", Value::is_boolean)
            .and_then(Value::as_bool)
    }

    /// The array at `path` (empty after a finding when it is none).
    pub fn array(&mut self, path: &str) -> &'r [Value] {
        self.kind(path, "an array", Value::is_array)
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// The object at `path`, or a finding.
    pub fn object(&mut self, path: &str) -> Option<&'r serde_json::Map<String, Value>> {
        self.kind(path, "an object", Value::is_object)
            .and_then(Value::as_object)
    }

    /// The key must be present (any value, `null` included).
    pub fn present(&mut self, path: &str) -> Option<&'r Value> {
        let v = at(self.body, path);
        if v.is_none() {
            self.fail(format!("{path}: missing"));
        }
        v
    }

    /// The value at `path` equals `expected`, or a finding.
    pub fn eq(&mut self, path: &str, expected: &Value) {
        let v = at(self.body, path);
        if v != Some(expected) {
            self.fail(format!("{path}: expected {expected}, got {}", show(v)));
        }
    }

    /// HTTP status, JSON content type and `{success: bool, message: string}`. A wrong status,
    /// type or `success` is one finding naming the whole reply, and returns false: the caller
    /// then skips the field checks, which would only repeat it.
    pub fn envelope(&mut self, reply: &Reply, status: u16, success: bool) -> bool {
        let got = format!("HTTP {} {}", reply.status, show(Some(&reply.body)));
        if reply.status == 401 {
            self.fail(format!("{got}: a 401 logs the console out"));
            return false;
        }
        if reply.status != status || self.body["success"] != success {
            self.fail(format!(
                "expected HTTP {status} with success {success}, got {got}"
            ));
            return false;
        }
        if !reply.content_type.starts_with("application/json") {
            self.fail(format!(
                "content type: expected JSON, got {:?}",
                reply.content_type
            ));
            return false;
        }
        self.string("message").is_some()
    }
}
