//! `/api/user/2fa/*` and `DELETE /api/user/{id}/2fa`: New API's two-factor endpoints (spec
//! §6.2), with its shapes and messages. The TOTP secret leaves the server only in the setup
//! reply, the backup codes only in the setup and regeneration replies.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tollgate_domain::UserId;
use tollgate_domain::services::TwoFactorStatus;

use super::auth::{AdminAuth, UserAuth};
use super::respond::{CompatError, CompatResult, ok, ok_message, refuse};
use crate::client::ClientIp;
use crate::i18n::{Locale, Msg};
use crate::input::{Json, Path};
use crate::state::AppState;

/// `{code}` of enable, disable and regeneration. A missing code is refused by the service
/// ("参数错误"), as New API does.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CodeBody {
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
#[derive(Debug, Serialize)]
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
        .map_err(refuse(auth.locale, &state.info))?;
    Ok(ok_message(Msg::TwoFactorEnabled.text(auth.locale)))
}

/// `POST /api/user/2fa/disable {code}`: a current TOTP or a backup code; the user's other
/// sessions end, this one stays.
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
        .map_err(refuse(auth.locale, &state.info))?;
    Ok(ok_message(Msg::TwoFactorDisabled.text(auth.locale)))
}

/// `POST /api/user/2fa/backup_codes {code}`: a current TOTP; `data` is `{backup_codes}`.
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
        .map_err(refuse(auth.locale, &state.info))?;
    Ok(ok_with(
        Msg::TwoFactorBackupCodesRegenerated,
        auth.locale,
        json!({ "backup_codes": codes }),
    ))
}

/// `GET /api/user/2fa/stats` (admin): `{total_users, enabled_users, enabled_rate}`.
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
