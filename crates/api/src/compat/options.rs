//! `GET /api/option/` and `PUT /api/option/` (root): the user module's runtime options.

use actix_web::{HttpRequest, web};
use serde::Deserialize;
use serde_json::{Value, json};
use tollgate_domain::options::OptionError;
use tollgate_domain::services::OptionsError;

use super::auth::RootAuth;
use super::respond::{CompatError, CompatResult, ok, ok_empty};
use crate::i18n::{self, Locale, Msg};
use crate::input::Json;
use crate::state::AppState;

/// `GET /api/option/`: `data` is `[{key, value}]`, New API's shape. None of these options is
/// a secret; secret options (payment, OAuth) will be shown masked when they exist.
pub async fn get(auth: RootAuth, state: web::Data<AppState>) -> CompatResult {
    let options = state.options.get(&auth.user).await.map_err(|e| match e {
        OptionsError::Forbidden => CompatError::fail(Msg::InsufficientPrivileges, auth.locale),
        other => CompatError::internal(&other, auth.locale),
    })?;
    let data: Vec<Value> = options
        .into_iter()
        .map(|(key, value)| json!({"key": key, "value": value}))
        .collect();
    Ok(ok(data))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OptionBody {
    pub key: Option<String>,
    /// A string, a boolean, a number, or JSON (stored as its text).
    pub value: Option<Value>,
}

/// Option values are often multi-line text (the console's JSON and list editors), so `value`
/// may carry tabs and line breaks; no other control character, and none in `key`.
pub struct MultilineValue;

impl crate::input::Controls for MultilineValue {
    const MULTILINE: &'static [&'static str] = &["value"];
}

/// `PUT /api/option/ {key, value}`: validated; a bad value is refused and changes nothing;
/// the next request (on any instance) sees a good one.
pub async fn update(
    req: HttpRequest,
    auth: RootAuth,
    state: web::Data<AppState>,
    body: Json<OptionBody, MultilineValue>,
) -> CompatResult {
    let locale = auth.locale;
    let body = body.into_inner();
    let (Some(key), Some(value)) = (body.key, body.value) else {
        return Err(CompatError::fail(Msg::InvalidParams, locale));
    };
    let value = match value {
        Value::String(s) => s,
        other => other.to_string(),
    };
    let ip = crate::client::peer_ip(&req);
    match state.options.update(&auth.user, &[(key, value)], ip).await {
        Ok(_) => Ok(ok_empty()),
        Err(OptionsError::Forbidden) => Err(CompatError::fail(Msg::InsufficientPrivileges, locale)),
        Err(OptionsError::Invalid(e)) => Err(CompatError::fail_text(option_msg(&e, locale))),
        Err(other) => Err(CompatError::internal(&other, locale)),
    }
}

/// The refusal of an option value, whole in the caller's language: it names the option; the
/// domain's (English) reason is not glued onto a Chinese message.
fn option_msg(e: &OptionError, locale: Locale) -> String {
    match e {
        OptionError::UnknownKey(key) => i18n::option_unknown(key, locale),
        OptionError::InvalidValue { key, .. } => i18n::option_value_invalid(key, locale),
        OptionError::NotAvailable(key) => i18n::option_not_available(key, locale),
    }
}
