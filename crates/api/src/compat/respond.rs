//! The compat envelope (docs/newapi-behaviour.md §1): HTTP 200 `{success, message, data}` for
//! business outcomes, 401 only from the auth layer, opaque 500 for failures.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::http::header::{ACCEPT_LANGUAGE, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;
use serde_json::json;

use crate::i18n::{self, Locale, Msg};
use crate::refusals::{Compat, Refuse};
use crate::state::{AppState, InstanceInfo};

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

/// `map_err` adaptor for a domain error with a refusal table:
/// `.map_err(refuse(locale, &state.info))?`.
pub fn refuse<E: Refuse>(locale: Locale, info: &InstanceInfo) -> impl FnOnce(E) -> CompatError {
    move |e| CompatError::refused(&e, locale, info)
}

/// Renders a refusal with the `QuotaPerUnit` and `QuotaDisplayType` in force now: for the
/// refusals whose message shows a quota amount (`refuse` would show the configured ones).
pub async fn refuse_now<E: Refuse>(e: E, locale: Locale, state: &AppState) -> CompatError {
    match state.info_now().await {
        Ok(info) => CompatError::refused(&e, locale, &info),
        Err(err) => CompatError::internal(&err, locale),
    }
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
    /// Seconds for a `Retry-After` header (rate-limit refusals).
    retry_after: Option<u64>,
}

impl CompatError {
    /// A business refusal: HTTP 200, `success: false`.
    pub fn fail(msg: Msg, locale: Locale) -> Self {
        Self {
            status: StatusCode::OK,
            message: Cow::Borrowed(msg.text(locale)),
            retry_after: None,
        }
    }

    /// An authentication failure of the auth layer: HTTP 401.
    pub fn unauthorized(msg: Msg, locale: Locale) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            message: Cow::Borrowed(msg.text(locale)),
            retry_after: None,
        }
    }

    /// An internal failure: logs the cause, answers an opaque 500.
    pub fn internal(cause: &dyn std::fmt::Debug, locale: Locale) -> Self {
        tracing::error!(error = ?cause, "request failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: Cow::Borrowed(Msg::DatabaseError.text(locale)),
            retry_after: None,
        }
    }

    /// A business refusal with a formatted message.
    pub fn fail_text(message: String) -> Self {
        Self {
            status: StatusCode::OK,
            message: Cow::Owned(message),
            retry_after: None,
        }
    }

    /// The rendered message (for replies outside the envelope, such as `/api/user/amount`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status of the refusal.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn not_found(locale: Locale) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: Cow::Borrowed(Msg::NotFound.text(locale)),
            retry_after: None,
        }
    }
}

impl CompatError {
    /// The compat side of a domain error's refusal table (`crate::refusals`): HTTP 200
    /// `success: false`, 429 with `Retry-After` for rate limits, or a logged opaque 500.
    /// `info` renders quotas in the configured display.
    pub fn refused<E: Refuse>(e: &E, locale: Locale, info: &InstanceInfo) -> Self {
        let Some(r) = e.refusal() else {
            return Self::internal(e, locale);
        };
        let quota = |q| {
            i18n::format_quota(
                q,
                info.quota_per_unit,
                info.quota_display_type.as_str(),
                locale,
            )
        };
        let message = match r.compat {
            Compat::Msg(msg) => Cow::Borrowed(msg.text(locale)),
            Compat::OptionValueInvalid(key) => Cow::Owned(i18n::option_value_invalid(key, locale)),
            Compat::OptionUnknown(key) => Cow::Owned(i18n::option_unknown(key, locale)),
            Compat::OptionNotAvailable(key) => Cow::Owned(i18n::option_not_available(key, locale)),
            Compat::TransferMinimum(min) => Cow::Owned(i18n::transfer_minimum(quota(min), locale)),
            Compat::MintLimitExceeded(left) => {
                Cow::Owned(i18n::mint_limit_exceeded(quota(left), locale))
            }
            Compat::TopUpMinimum(min) => Cow::Owned(i18n::top_up_minimum(min, locale)),
            Compat::TopUpMaximum(max) => Cow::Owned(i18n::top_up_maximum(max, locale)),
        };
        Self {
            status: match r.retry_after {
                Some(_) => StatusCode::TOO_MANY_REQUESTS,
                None => StatusCode::OK,
            },
            message,
            retry_after: r.retry_after,
        }
    }

    /// A rate-limit refusal (docs/newapi-behaviour.md §1): HTTP 429 with the envelope and
    /// `Retry-After`.
    pub fn too_many_requests(msg: Msg, locale: Locale, retry_after_secs: u64) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: Cow::Borrowed(msg.text(locale)),
            retry_after: Some(retry_after_secs),
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
        let mut res = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after {
            res.insert_header((RETRY_AFTER, secs.to_string()));
        }
        res.json(json!({"success": false, "message": self.message}))
    }
}

pub type CompatResult = Result<HttpResponse, CompatError>;
