//! The REST envelope: `{code, message, data, timestamp}` on success, `{code, message, error,
//! timestamp}` on failure; `code` is the HTTP status.

use actix_web::http::StatusCode;
use actix_web::http::header::RETRY_AFTER;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::json;

use super::time::now_rfc3339;
use crate::i18n::{Locale, Msg};
use crate::refusals::{Detail, Refuse};

pub fn respond(status: StatusCode, msg: Msg, locale: Locale, data: impl Serialize) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "code": status.as_u16(),
        "message": msg.text(locale),
        "data": data,
        "timestamp": now_rfc3339(),
    }))
}

/// `map_err` adaptor for a domain error with a refusal table: `.map_err(refuse(locale))?`.
pub fn refuse<E: Refuse>(locale: Locale) -> impl FnOnce(E) -> RestError {
    move |e| RestError::refused(&e, locale)
}

/// A failure of the REST surface, already rendered in the request's language. `error` is a
/// short English detail for developers; it never carries secrets or internal errors.
#[derive(Debug)]
pub struct RestError {
    status: StatusCode,
    message: &'static str,
    error: String,
    /// Seconds for a `Retry-After` header (rate-limit refusals).
    retry_after: Option<u64>,
}

impl RestError {
    pub fn new(status: StatusCode, msg: Msg, locale: Locale, error: impl Into<String>) -> Self {
        Self {
            status,
            message: msg.text(locale),
            error: error.into(),
            retry_after: None,
        }
    }

    /// A rate-limit refusal: HTTP 429 with `Retry-After`.
    pub fn too_many_requests(
        msg: Msg,
        locale: Locale,
        error: impl Into<String>,
        retry_after_secs: u64,
    ) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, msg, locale, error)
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

    /// The REST side of a domain error's refusal table (`crate::refusals`), or a logged
    /// opaque 500.
    pub fn refused<E: Refuse>(e: &E, locale: Locale) -> Self {
        let Some(r) = e.refusal() else {
            return Self::internal(e, locale);
        };
        let error = match r.error {
            Detail::Text(text) => text.into_owned(),
            Detail::Msg(msg) => msg.text(locale).to_owned(),
        };
        Self {
            retry_after: r.retry_after,
            ..Self::new(r.status, r.rest, locale, error)
        }
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
        let mut res = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after {
            res.insert_header((RETRY_AFTER, secs.to_string()));
        }
        res.json(json!({
            "code": self.status.as_u16(),
            "message": self.message,
            "error": self.error,
            "timestamp": now_rfc3339(),
        }))
    }
}
