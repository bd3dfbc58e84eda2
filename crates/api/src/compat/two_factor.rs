//! `/api/user/2fa/*` and `DELETE /api/user/{id}/2fa`: New API's two-factor endpoints (spec
//! §6.2), with its shapes and messages. The TOTP secret leaves the server only in the setup
//! reply, the backup codes only in the setup and regeneration replies.

use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tollgate_domain::UserId;
use tollgate_domain::services::{LoginInput, TwoFactorStatus};

use super::auth::{AdminAuth, UserAuth};
use super::respond::{CompatError, CompatResult, ok, ok_message, refuse};
use super::users::logged_in;
use crate::client::{ClientIp, UserAgent};
use crate::i18n::{Locale, Msg};
use crate::input::{Json, Path};
use crate::metrics::{self, Surface, TwoFactorOp};
use crate::openapi::CompatEnvelope;
use crate::state::AppState;

/// The cookie that carries a pending login's challenge from `POST /api/user/login` to
/// `POST /api/user/login/2fa`: the console sends cookies only. HttpOnly and SameSite=Strict
/// like the session cookie, scoped to the login routes, gone with the pending login.
pub const PENDING_LOGIN_COOKIE: &str = "tollgate_2fa";
const PENDING_LOGIN_PATH: &str = "/api/user/login";

/// The reply of a password login that needs the second factor (spec §3.2 step 4): no
/// session, `{success: true, message: "请输入两步验证码", data: {require_2fa: true}}`, and the
/// pending login's cookie.
pub fn second_factor_required(state: &AppState, challenge: String, locale: Locale) -> HttpResponse {
    let ttl = state.services.logins.policy().ttl_secs;
    let cookie = Cookie::build(PENDING_LOGIN_COOKIE, challenge)
        .path(PENDING_LOGIN_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.cookie.secure)
        .max_age(Duration::seconds(i64::try_from(ttl).unwrap_or(300)))
        .finish();
    HttpResponse::Ok().cookie(cookie).json(json!({
        "success": true,
        "message": Msg::TwoFactorRequired.text(locale),
        "data": {"require_2fa": true},
    }))
}

/// A `Set-Cookie` that deletes the pending login's cookie.
fn pending_cookie_removal(secure: bool) -> Cookie<'static> {
    let mut removal = Cookie::build(PENDING_LOGIN_COOKIE, "")
        .path(PENDING_LOGIN_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish();
    removal.make_removal();
    removal
}

/// `POST /api/user/login/2fa {code}` (spec §6.4): a TOTP or a backup code completes the
/// pending login of the cookie; the reply is the login's (the `session` cookie, `data` the
/// user).
#[utoipa::path(
    post,
    path = "/api/user/login/2fa",
    tag = "compat: 2fa",
    request_body = CodeBody,
    responses((status = 200, description = "`data` is the user and the `session` cookie is set, or refused", body = CompatEnvelope), (status = 429, description = "Too many requests: New API's request limits answer an empty body, login throttling and the sign-up limit a refusal; `Retry-After` says when to retry"))
)]
pub async fn login_second_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    locale: Locale,
    ip: ClientIp,
    user_agent: UserAgent,
    body: Json<CodeBody>,
) -> CompatResult {
    let challenge = req
        .cookie(PENDING_LOGIN_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let input = LoginInput {
        login: String::new(),
        password: String::new(),
        ip: ip.0,
        user_agent: user_agent.0,
    };
    let outcome = state
        .services
        .logins
        .complete(&challenge, &body.into_inner().code(), &input)
        .await;
    metrics::second_factor_login(Surface::Compat, &outcome);
    let outcome = outcome.map_err(refuse(locale, &state.info))?;
    let mut reply = logged_in(outcome, state.cookie);
    reply
        .add_cookie(&pending_cookie_removal(state.cookie.secure))
        .map_err(|e| CompatError::internal(&e, locale))?;
    Ok(reply)
}

/// `{code}` of enable, disable and regeneration. A missing code is refused by the service
/// ("参数错误"), as New API does.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct CodeBody {
    /// Six digits, or (where a route accepts one) an eight-character backup code.
    #[schema(required = true, min_length = 1)]
    pub code: Option<String>,
}

impl CodeBody {
    fn code(self) -> String {
        self.code.unwrap_or_default()
    }
}

/// `{success: true, message, data}`.
fn ok_with(message: Msg, locale: Locale, data: impl Serialize) -> HttpResponse {
    HttpResponse::Ok().json(json!({"success": true, "message": message.text(locale), "data": data}))
}

/// `data` of the status: `backup_codes_remaining` only when enabled.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatusData {
    pub enabled: bool,
    pub locked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_codes_remaining: Option<usize>,
}

impl From<TwoFactorStatus> for StatusData {
    fn from(s: TwoFactorStatus) -> Self {
        Self {
            enabled: s.enabled,
            locked: s.locked,
            backup_codes_remaining: s.backup_codes_remaining,
        }
    }
}

/// `GET /api/user/2fa/status`.
#[utoipa::path(
    get,
    path = "/api/user/2fa/status",
    tag = "compat: 2fa",
    responses((status = 200, description = "`data` is `{enabled, locked, backup_codes_remaining}`", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn status(auth: UserAuth, state: web::Data<AppState>) -> CompatResult {
    let status = state
        .services
        .two_factor
        .status(auth.user.id)
        .await
        .map_err(refuse(auth.locale, &state.info))?;
    Ok(ok(StatusData::from(status)))
}

/// `POST /api/user/2fa/setup`: `data` is `{secret, qr_code_data, qr_code_image,
/// backup_codes}`; `qr_code_data` is the `otpauth://` URL (the console draws it as a QR
/// code), `qr_code_image` the same as a PNG data URL.
#[utoipa::path(
    post,
    path = "/api/user/2fa/setup",
    tag = "compat: 2fa",
    responses((status = 200, description = "`data` is `{secret, qr_code_data, qr_code_image, backup_codes}`", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn setup(auth: UserAuth, state: web::Data<AppState>) -> CompatResult {
    let setup = state
        .services
        .two_factor
        .setup(&auth.user)
        .await
        .map_err(refuse(auth.locale, &state.info))?;
    Ok(ok_with(
        Msg::TwoFactorSetupStarted,
        auth.locale,
        json!({
            "secret": setup.secret.expose(),
            "qr_code_data": setup.provisioning_url,
            "qr_code_image": setup.qr_data_url,
            "backup_codes": setup.backup_codes,
        }),
    ))
}

/// `POST /api/user/2fa/enable {code}`: a current TOTP (not a backup code).
#[utoipa::path(
    post,
    path = "/api/user/2fa/enable",
    tag = "compat: 2fa",
    request_body = CodeBody,
    responses((status = 200, description = "Enabled, or refused", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn enable(
    ip: ClientIp,
    auth: UserAuth,
    state: web::Data<AppState>,
    body: Json<CodeBody>,
) -> CompatResult {
    state
        .services
        .two_factor
        .enable(auth.user.id, &body.into_inner().code(), ip.0)
        .await
        .inspect_err(|e| metrics::two_factor_refused(TwoFactorOp::Enable, e))
        .map_err(refuse(auth.locale, &state.info))?;
    Ok(ok_message(Msg::TwoFactorEnabled.text(auth.locale)))
}

/// `POST /api/user/2fa/disable {code}`: a current TOTP or a backup code; the user's other
/// sessions end, this one stays.
#[utoipa::path(
    post,
    path = "/api/user/2fa/disable",
    tag = "compat: 2fa",
    request_body = CodeBody,
    responses((status = 200, description = "Disabled, or refused", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn disable(
    ip: ClientIp,
    auth: UserAuth,
    state: web::Data<AppState>,
    body: Json<CodeBody>,
) -> CompatResult {
    state
        .services
        .two_factor
        .disable(
            auth.user.id,
            &body.into_inner().code(),
            auth.session_id,
            ip.0,
        )
        .await
        .inspect_err(|e| metrics::two_factor_refused(TwoFactorOp::Disable, e))
        .map_err(refuse(auth.locale, &state.info))?;
    Ok(ok_message(Msg::TwoFactorDisabled.text(auth.locale)))
}

/// `POST /api/user/2fa/backup_codes {code}`: a current TOTP; `data` is `{backup_codes}`.
#[utoipa::path(
    post,
    path = "/api/user/2fa/backup_codes",
    tag = "compat: 2fa",
    request_body = CodeBody,
    responses((status = 200, description = "`data` is `{backup_codes}`, or refused", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn backup_codes(
    ip: ClientIp,
    auth: UserAuth,
    state: web::Data<AppState>,
    body: Json<CodeBody>,
) -> CompatResult {
    let codes = state
        .services
        .two_factor
        .regenerate_backup_codes(auth.user.id, &body.into_inner().code(), ip.0)
        .await
        .inspect_err(|e| metrics::two_factor_refused(TwoFactorOp::BackupCodes, e))
        .map_err(refuse(auth.locale, &state.info))?;
    Ok(ok_with(
        Msg::TwoFactorBackupCodesRegenerated,
        auth.locale,
        json!({ "backup_codes": codes }),
    ))
}

/// `GET /api/user/2fa/stats` (admin): `{total_users, enabled_users, enabled_rate}`.
#[utoipa::path(
    get,
    path = "/api/user/2fa/stats",
    tag = "compat: 2fa",
    responses((status = 200, description = "`data` is `{total_users, enabled_users, enabled_rate}`", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn stats(auth: AdminAuth, state: web::Data<AppState>) -> CompatResult {
    let counts = state
        .services
        .two_factor
        .counts(&auth.user)
        .await
        .map_err(refuse(auth.locale, &state.info))?;
    Ok(ok(json!({
        "total_users": counts.total_users,
        "enabled_users": counts.enabled_users,
        "enabled_rate": counts.enabled_rate(),
    })))
}

/// `DELETE /api/user/{id}/2fa` (admin): turns the user's 2FA off and ends every session of
/// the user; the hierarchy applies.
#[utoipa::path(
    delete,
    path = "/api/user/{id}/2fa",
    tag = "compat: 2fa",
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "Turned off, or refused", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn admin_reset(
    ip: ClientIp,
    auth: AdminAuth,
    state: web::Data<AppState>,
    id: Path<String>,
) -> CompatResult {
    let locale = auth.locale;
    let id: i64 = id
        .into_inner()
        .parse()
        .map_err(|_| CompatError::fail(Msg::TwoFactorBadUserId, locale))?;
    state
        .services
        .two_factor
        .admin_reset(&auth.user, UserId::new(id), ip.0)
        .await
        .map_err(refuse(locale, &state.info))?;
    Ok(ok_message(Msg::TwoFactorResetDone.text(locale)))
}
