//! The REST envelope: `{code, message, data, timestamp}` on success, `{code, message, error,
//! timestamp}` on failure; `code` is the HTTP status.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::json;

use super::time::now_rfc3339;
use crate::i18n::{Locale, Msg};

pub fn respond(status: StatusCode, msg: Msg, locale: Locale, data: impl Serialize) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "code": status.as_u16(),
        "message": msg.text(locale),
        "data": data,
        "timestamp": now_rfc3339(),
    }))
}

/// A failure of the REST surface, already rendered in the request's language. `error` is a
/// short English detail for developers; it never carries secrets or internal errors.
#[derive(Debug)]
pub struct RestError {
    status: StatusCode,
    message: &'static str,
    error: String,
}

impl RestError {
    pub fn new(status: StatusCode, msg: Msg, locale: Locale, error: impl Into<String>) -> Self {
        Self {
            status,
            message: msg.text(locale),
            error: error.into(),
        }
    }

    pub fn bad_request(locale: Locale, error: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Msg::RestBadRequest, locale, error)
    }

    pub fn unauthenticated(locale: Locale) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            Msg::RestUnauthenticated,
            locale,
            "Invalid or expired token",
        )
    }

    /// Logs the cause; the client sees an opaque 500.
    pub fn internal(cause: &dyn std::fmt::Debug, locale: Locale) -> Self {
        tracing::error!(error = ?cause, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Msg::Internal,
            locale,
            "internal error",
        )
    }
}

impl std::fmt::Display for RestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.message, self.error)
    }
}

impl ResponseError for RestError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(json!({
            "code": self.status.as_u16(),
            "message": self.message,
            "error": self.error,
            "timestamp": now_rfc3339(),
        }))
    }
}
