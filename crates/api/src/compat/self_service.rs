//! `/api/user/*` self-service: profile, deletion, groups, models, invitations, settings
//! (docs/newapi-behaviour.md §5, §9.3).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tollgate_domain::groups::{AUTO_RATIO_LABEL, GroupRatio, GroupView};
use tollgate_domain::services::{OwnerProof, PasswordChange};
use tollgate_domain::user_settings::NotificationSettingsInput;

use super::auth::{UserAuth, optional_session_user};
use super::doc::{DeleteSelfBody, SelfUpdateBody, UserSettingsBody as SettingsBodyDoc};
use super::respond::{
    CompatError, CompatResult, locale_of, ok, ok_empty, ok_message, refuse, refuse_now,
};
use crate::client::ClientIp;
use crate::i18n::{Locale, Msg};
use crate::input::{self, Json};
use crate::openapi::CompatEnvelope;
use crate::state::AppState;

/// `PUT /api/user/self` (docs/newapi-behaviour.md §5.2). With `sidebar_modules` (a JSON string) it
/// stores a validated sidebar. Otherwise only `display_name` and `password` (with
/// `original_password`) are writable; every other field (`role`, `quota`, `group`, `status`,
/// `username`, `aff_*`, `access_token`, ...) is ignored, never applied.
#[utoipa::path(
    put,
    path = "/api/user/self",
    tag = "compat: account",
    request_body = SelfUpdateBody,
    responses((status = 200, description = "Updated, or refused", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn update_self(
    ip: ClientIp,
    auth: UserAuth,
    state: web::Data<AppState>,
    body: Json<Value>,
) -> CompatResult {
    let locale = auth.locale;
    let update = SelfUpdate::parse(body.into_inner()).map_err(|m| CompatError::fail(m, locale))?;
    let profile = &state.services.profile;
    match update {
        SelfUpdate::Sidebar(raw) => {
            profile
                .set_sidebar(&auth.user, &raw)
                .await
                .map_err(refuse(locale, &state.info))?;
            Ok(ok_message(Msg::SidebarUpdated.text(locale)))
        }
        SelfUpdate::Profile {
            display_name,
            password,
        } => {
            let session = auth.session_id;
            profile
                .update_self(&auth.user, session, display_name.as_deref(), password, ip.0)
                .await
                .map_err(refuse(locale, &state.info))?;
            Ok(ok_empty())
        }
    }
}

/// What a `PUT /api/user/self` body asks for.
enum SelfUpdate {
    /// `sidebar_modules`, a JSON string (the rest of the body is then ignored).
    Sidebar(String),
    Profile {
        display_name: Option<String>,
        password: Option<PasswordChange>,
    },
}

impl SelfUpdate {
    /// The request, or the message that refuses it.
    fn parse(body: Value) -> Result<Self, Msg> {
        let Value::Object(body) = body else {
            return Err(Msg::InvalidParams);
        };
        if let Some(sidebar) = body.get("sidebar_modules") {
            let Value::String(raw) = sidebar else {
                return Err(Msg::InvalidSidebar);
            };
            return Ok(Self::Sidebar(raw.clone()));
        }
        let text = |key: &str| match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Msg::InvalidParams),
        };
        let display_name = text("display_name")?;
        let password = text("password")?.map(|new| PasswordChange {
            current: body
                .get("original_password")
                .and_then(Value::as_str)
                .map(str::to_owned),
            new,
        });
        Ok(Self::Profile {
            display_name,
            password,
        })
    }
}

/// The owner proof of `DELETE /api/user/self`: its cookie session's login time and an
/// optional `password` in a JSON object body (issue 7.11). The console sends no body, so a
/// missing or empty body is no password; anything else must be a JSON object whose
/// `password` is a string or null, with no control character (the edge's shared check).
fn owner_proof(auth: &UserAuth, body: &[u8]) -> Result<OwnerProof, CompatError> {
    let invalid = || CompatError::fail(Msg::InvalidParams, auth.locale);
    let password = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let value = serde_json::from_slice::<Value>(body).map_err(|_| invalid())?;
        input::check_value(&value).map_err(|_| invalid())?;
        match value {
            Value::Object(map) => match map.get("password") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) => Some(p.clone()),
                Some(_) => return Err(invalid()),
            },
            Value::Null => None,
            _ => return Err(invalid()),
        }
    };
    Ok(OwnerProof {
        password,
        session_created_at: auth.session_created_at,
    })
}

/// The body of `PUT /api/user/setting`: the settings, plus the current `password` when the
/// caller proves ownership that way (issue 7.11).
#[derive(Debug, Deserialize)]
pub struct SettingsBody {
    #[serde(flatten)]
    settings: NotificationSettingsInput,
    #[serde(default)]
    password: Option<String>,
}

/// `DELETE /api/user/self` (docs/newapi-behaviour.md §5.3): soft delete; sessions and access token
/// revoked at once; the cookie is cleared. Needs the current password (`{"password": ...}`) or a
/// login within the last 10 minutes: an access token alone, or an old session, is not enough.
#[utoipa::path(
    delete,
    path = "/api/user/self",
    tag = "compat: account",
    request_body = DeleteSelfBody,
    responses((status = 200, description = "Deleted; sessions and the access token end", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn delete_self(
    auth: UserAuth,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> CompatResult {
    let proof = owner_proof(&auth, &body)?;
    state
        .services
        .profile
        .confirm_owner(&auth.user, &proof)
        .await
        .map_err(refuse(auth.locale, &state.info))?;
    state
        .services
        .profile
        .delete_self(&auth.user)
        .await
        .map_err(refuse(auth.locale, &state.info))?;
    Ok(HttpResponse::Ok()
        .cookie(super::users::removal_cookie(state.cookie.secure))
        .json(json!({"success": true, "message": ""})))
}

/// `{name: {ratio, desc}}` with `auto`'s ratio as the string the console expects.
fn groups_body(groups: &[GroupView]) -> Value {
    let mut map = Map::new();
    for g in groups {
        let ratio = match g.ratio {
            GroupRatio::Number(r) => json!(r),
            GroupRatio::Auto => json!(AUTO_RATIO_LABEL),
        };
        map.insert(g.name.clone(), json!({"ratio": ratio, "desc": g.desc}));
    }
    Value::Object(map)
}

/// `GET /api/user/groups` (public, docs/newapi-behaviour.md §9.3): for a logged-in caller (valid
/// session cookie) the view of their group, otherwise the anonymous view. New API always answered
/// the anonymous view here (docs/newapi-behaviour.md §11.11).
#[utoipa::path(
    get,
    path = "/api/user/groups",
    tag = "compat: groups",
    responses((status = 200, description = "`data` maps group names to `{ratio, desc}`", body = CompatEnvelope))
)]
pub async fn public_groups(req: HttpRequest, state: web::Data<AppState>) -> CompatResult {
    let group = optional_session_user(&req)
        .await
        .map(|u| u.group)
        .unwrap_or_default();
    let groups = state
        .services
        .profile
        .groups(&group)
        .await
        .map_err(|e| CompatError::internal(&e, locale_of(&req)))?;
    Ok(ok(groups_body(&groups)))
}

/// `GET /api/user/self/groups`: the groups the user may use, with ratios.
#[utoipa::path(
    get,
    path = "/api/user/self/groups",
    tag = "compat: groups",
    responses((status = 200, description = "`data` maps usable group names to `{ratio, desc}`", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn self_groups(auth: UserAuth, state: web::Data<AppState>) -> CompatResult {
    let groups = state
        .services
        .profile
        .groups(&auth.user.group)
        .await
        .map_err(|e| CompatError::internal(&e, auth.locale))?;
    Ok(ok(groups_body(&groups)))
}

/// `GET /api/user/models` (docs/newapi-behaviour.md §5.4): the models of the user's usable groups,
/// sorted.
#[utoipa::path(
    get,
    path = "/api/user/models",
    tag = "compat: groups",
    responses((status = 200, description = "`data` is the model names the caller may use", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn models(auth: UserAuth, state: web::Data<AppState>) -> CompatResult {
    let models = state
        .services
        .profile
        .models(&auth.user)
        .await
        .map_err(|e| CompatError::internal(&e, auth.locale))?;
    Ok(ok(models))
}

/// `GET /api/user/aff` (docs/newapi-behaviour.md §5.5): the invitation code, created on first
/// request.
#[utoipa::path(
    get,
    path = "/api/user/aff",
    tag = "compat: quota",
    responses((status = 200, description = "`data` is the invitation code", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn aff_code(auth: UserAuth, state: web::Data<AppState>) -> CompatResult {
    match state.services.affiliate.aff_code(&auth.user).await {
        Ok(code) => Ok(ok(code)),
        Err(e) => Err(CompatError::internal(&e, auth.locale)),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct TransferBody {
    /// Any JSON; only an integer is accepted.
    pub quota: Option<Value>,
}

/// `POST /api/user/aff_transfer` (docs/newapi-behaviour.md §5.6).
#[utoipa::path(
    post,
    path = "/api/user/aff_transfer",
    tag = "compat: quota",
    request_body = TransferBody,
    responses((status = 200, description = "Transferred, or refused", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn aff_transfer(
    auth: UserAuth,
    state: web::Data<AppState>,
    body: Json<TransferBody>,
) -> CompatResult {
    let locale = auth.locale;
    let amount = body
        .into_inner()
        .quota
        .as_ref()
        .and_then(Value::as_i64)
        .ok_or_else(|| CompatError::fail(Msg::InvalidParams, locale))?;
    // The minimum is one current `QuotaPerUnit`, shown in the current display.
    let done = match state.services.affiliate.transfer(&auth.user, amount).await {
        Ok(done) => done,
        Err(e) => return Err(refuse_now(e, locale, &state).await),
    };
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "message": Msg::TransferSucceeded.text(locale),
        "data": {"quota": done.quota, "aff_quota": done.aff_quota},
    })))
}

/// `PUT /api/user/setting` (docs/newapi-behaviour.md §5.7): validated; keeps the sidebar, language
/// and stored secrets the request does not send (docs/newapi-behaviour.md §11.7); URLs must be
/// public http(s). Changing where notifications go also needs `password` in the body or a login
/// within the last 10 minutes (issue 7.11).
#[utoipa::path(
    put,
    path = "/api/user/setting",
    tag = "compat: account",
    request_body = SettingsBodyDoc,
    responses((status = 200, description = "Saved, or refused", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn update_setting(
    locale: Locale,
    auth: UserAuth,
    state: web::Data<AppState>,
    body: Json<SettingsBody>,
) -> CompatResult {
    let SettingsBody { settings, password } = body.into_inner();
    let proof = OwnerProof {
        password,
        session_created_at: auth.session_created_at,
    };
    state
        .services
        .profile
        .update_notification_settings(&auth.user, settings, &proof)
        .await
        .map_err(refuse(locale, &state.info))?;
    Ok(ok_message(Msg::SettingsUpdated.text(locale)))
}
