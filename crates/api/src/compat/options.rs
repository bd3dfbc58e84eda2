//! `GET /api/option/` and `PUT /api/option/` (root): the user module's runtime options.

use actix_web::web;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::RootAuth;
use super::respond::{CompatError, CompatResult, ok, ok_empty, refuse};
use crate::client::ClientIp;
use crate::i18n::Msg;
use crate::input::Json;
use crate::openapi::CompatEnvelope;
use crate::state::AppState;

/// `GET /api/option/`: `data` is `[{key, value}]`, New API's shape. Secret options (the payment
/// keys, `TurnstileSecretKey`) are not listed.
#[utoipa::path(
    get,
    path = "/api/option/",
    tag = "compat: options",
    responses((status = 200, description = "`data` is `[{key, value}]` (secrets never listed)", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn get(auth: RootAuth, state: web::Data<AppState>) -> CompatResult {
    let options = state
        .services
        .options
        .get(&auth.user)
        .await
        .map_err(refuse(auth.locale, &state.info))?;
    let data: Vec<Value> = options
        .into_iter()
        .map(|(key, value)| json!({"key": key, "value": value}))
        .collect();
    Ok(ok(data))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
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
#[utoipa::path(
    put,
    path = "/api/option/",
    tag = "compat: options",
    request_body = OptionBody,
    responses((status = 200, description = "Saved, or refused (nothing changed)", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn update(
    ip: ClientIp,
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
    state
        .services
        .options
        .update(&auth.user, &[(key, value)], ip.0)
        .await
        .map_err(refuse(locale, &state.info))?;
    Ok(ok_empty())
}
