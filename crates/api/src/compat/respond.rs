//! The compat envelope (spec §0.2): HTTP 200 `{success, message, data}` for business outcomes,
//! 401 only from the auth layer, opaque 500 for failures.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::http::header::ACCEPT_LANGUAGE;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;
use serde_json::json;

use crate::i18n::{Locale, Msg};
use crate::state::AppState;

/// `{success: true, message: "", data}`.
pub fn ok(data: impl Serialize) -> HttpResponse {
    HttpResponse::Ok().json(json!({"success": true, "message": "", "data": data}))
}

/// `{success: true, message}` without `data`.
pub fn ok_message(message: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({"success": true, "message": message}))
}

/// `{success: true, message: ""}` without `data`.
pub fn ok_empty() -> HttpResponse {
    HttpResponse::Ok().json(json!({"success": true, "message": ""}))
}

/// The language of a request's messages.
pub fn locale_of(req: &HttpRequest) -> Locale {
    let default = req
        .app_data::<web::Data<AppState>>()
        .map_or(Locale::ZhCn, |s| s.default_locale);
    let header = req
        .headers()
        .get(ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Locale::negotiate(header, default)
}

/// A refusal on the compat surface, already rendered in the request's language.
#[derive(Debug)]
pub struct CompatError {
    status: StatusCode,
    message: Cow<'static, str>,
}

impl CompatError {
    /// A business refusal: HTTP 200, `success: false`.
    pub fn fail(msg: Msg, locale: Locale) -> Self {
        Self {
            status: StatusCode::OK,
            message: Cow::Borrowed(msg.text(locale)),
        }
    }

    /// An authentication failure of the auth layer: HTTP 401.
    pub fn unauthorized(msg: Msg, locale: Locale) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            message: Cow::Borrowed(msg.text(locale)),
        }
    }

    /// An internal failure: logs the cause, answers an opaque 500.
    pub fn internal(cause: &dyn std::fmt::Debug, locale: Locale) -> Self {
        tracing::error!(error = ?cause, "request failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: Cow::Borrowed(Msg::DatabaseError.text(locale)),
        }
    }

    /// A business refusal with a formatted message.
    pub fn fail_text(message: String) -> Self {
        Self {
            status: StatusCode::OK,
            message: Cow::Owned(message),
        }
    }

    pub fn not_found(locale: Locale) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: Cow::Borrowed(Msg::NotFound.text(locale)),
        }
    }
}

impl std::fmt::Display for CompatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl ResponseError for CompatError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(json!({"success": false, "message": self.message}))
    }
}

pub type CompatResult = Result<HttpResponse, CompatError>;
