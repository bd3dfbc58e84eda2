//! `/api/v1/users/2fa/*` and `/api/v1/admin/users/.../2fa` (docs/api.md "Two-factor
//! authentication"): the compat surface's 2FA management with real status codes.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;
use tollgate_domain::UserId;

use super::auth::{AdminBearer, Bearer};
use super::envelope::{RestError, refuse, respond};
use super::schema::{RestDone, RestFailure, RestOk};
use crate::client::ClientIp;
use crate::compat::two_factor::{CodeBody, StatusData};
use crate::i18n::Msg;
use crate::input::{Json, Path};
use crate::metrics::{self, TwoFactorOp};
use crate::state::AppState;

type RestResult = Result<HttpResponse, RestError>;

/// `GET /api/v1/users/2fa/status` → `{enabled, locked, backup_codes_remaining?}`.
#[utoipa::path(
    get,
    path = "/api/v1/users/2fa/status",
    tag = "rest: 2fa",
    responses((status = 200, description = "`backup_codes_remaining` only when enabled", body = RestOk<StatusData>), (status = 401, description = "No valid bearer token", body = RestFailure)),
    security(("bearer" = []))
)]
pub async fn status(auth: Bearer, state: web::Data<AppState>) -> RestResult {
    let status = state
        .services
        .two_factor
        .status(auth.user.id)
        .await
        .map_err(refuse(auth.locale))?;
    Ok(respond(
        StatusCode::OK,
        Msg::RestOk,
        auth.locale,
        StatusData::from(status),
    ))
}

/// `POST /api/v1/users/2fa/setup` → 201 `{secret, otpauth_url, qr_code_image,
/// backup_codes}`, shown this once; 409 while enabled.
#[utoipa::path(
    post,
    path = "/api/v1/users/2fa/setup",
    tag = "rest: 2fa",
    responses((status = 201, description = "The secret and backup codes, shown this once", body = RestOk<super::schema::TwoFactorSetup>), (status = 401, description = "No valid bearer token", body = RestFailure), (status = 409, description = "2FA is already enabled", body = RestFailure)),
    security(("bearer" = []))
)]
pub async fn setup(auth: Bearer, state: web::Data<AppState>) -> RestResult {
    let setup = state
        .services
        .two_factor
        .setup(&auth.user)
        .await
        .map_err(refuse(auth.locale))?;
    Ok(respond(
        StatusCode::CREATED,
        Msg::TwoFactorSetupStarted,
        auth.locale,
        json!({
            "secret": setup.secret.expose(),
            "otpauth_url": setup.provisioning_url,
            "qr_code_image": setup.qr_data_url,
            "backup_codes": setup.backup_codes,
        }),
    ))
}

/// `POST /api/v1/users/2fa/enable {code}` (a current TOTP).
#[utoipa::path(
    post,
    path = "/api/v1/users/2fa/enable",
    tag = "rest: 2fa",
    request_body = CodeBody,
    responses((status = 200, description = "Enabled", body = RestDone), (status = 400, description = "A malformed body or query, or a value the rules refuse", body = RestFailure), (status = 401, description = "No valid bearer token, or a wrong code", body = RestFailure), (status = 409, description = "Not set up, or already enabled", body = RestFailure), (status = 429, description = "Too many requests (`Retry-After` says when to retry)", body = RestFailure)),
    security(("bearer" = []))
)]
pub async fn enable(
    ip: ClientIp,
    auth: Bearer,
    state: web::Data<AppState>,
    body: Json<CodeBody>,
) -> RestResult {
    let code = body.into_inner().code.unwrap_or_default();
    state
        .services
        .two_factor
        .enable(auth.user.id, &code, ip.0)
        .await
        .inspect_err(|e| metrics::two_factor_refused(TwoFactorOp::Enable, e))
        .map_err(refuse(auth.locale))?;
    Ok(respond(
        StatusCode::OK,
        Msg::TwoFactorEnabled,
        auth.locale,
        (),
    ))
}

/// `POST /api/v1/users/2fa/disable {code}` (a TOTP or a backup code): the user's other
/// sessions end, the bearer's stays.
#[utoipa::path(
    post,
    path = "/api/v1/users/2fa/disable",
    tag = "rest: 2fa",
    request_body = CodeBody,
    responses((status = 200, description = "Disabled; the other sessions ended", body = RestDone), (status = 400, description = "A malformed body or query, or a value the rules refuse", body = RestFailure), (status = 401, description = "No valid bearer token, or a wrong code", body = RestFailure), (status = 409, description = "2FA is not enabled", body = RestFailure), (status = 429, description = "Too many requests (`Retry-After` says when to retry)", body = RestFailure)),
    security(("bearer" = []))
)]
pub async fn disable(
    ip: ClientIp,
    auth: Bearer,
    state: web::Data<AppState>,
    body: Json<CodeBody>,
) -> RestResult {
    let code = body.into_inner().code.unwrap_or_default();
    state
        .services
        .two_factor
        .disable(auth.user.id, &code, Some(auth.session_id), ip.0)
        .await
        .inspect_err(|e| metrics::two_factor_refused(TwoFactorOp::Disable, e))
        .map_err(refuse(auth.locale))?;
    Ok(respond(
        StatusCode::OK,
        Msg::TwoFactorDisabled,
        auth.locale,
        (),
    ))
}

/// `POST /api/v1/users/2fa/backup-codes {code}` (a current TOTP) → `{backup_codes}`.
#[utoipa::path(
    post,
    path = "/api/v1/users/2fa/backup-codes",
    tag = "rest: 2fa",
    request_body = CodeBody,
    responses((status = 200, description = "New backup codes; the old ones stop working", body = RestOk<super::schema::BackupCodes>), (status = 400, description = "A malformed body or query, or a value the rules refuse", body = RestFailure), (status = 401, description = "No valid bearer token, or a wrong code", body = RestFailure), (status = 409, description = "2FA is not enabled", body = RestFailure), (status = 429, description = "Too many requests (`Retry-After` says when to retry)", body = RestFailure)),
    security(("bearer" = []))
)]
pub async fn backup_codes(
    ip: ClientIp,
    auth: Bearer,
    state: web::Data<AppState>,
    body: Json<CodeBody>,
) -> RestResult {
    let code = body.into_inner().code.unwrap_or_default();
    let codes = state
        .services
        .two_factor
        .regenerate_backup_codes(auth.user.id, &code, ip.0)
        .await
        .inspect_err(|e| metrics::two_factor_refused(TwoFactorOp::BackupCodes, e))
        .map_err(refuse(auth.locale))?;
    Ok(respond(
        StatusCode::OK,
        Msg::TwoFactorBackupCodesRegenerated,
        auth.locale,
        json!({ "backup_codes": codes }),
    ))
}

/// `GET /api/v1/admin/users/2fa/stats` (admin) → `{total_users, enabled_users,
/// enabled_rate}`.
#[utoipa::path(
    get,
    path = "/api/v1/admin/users/2fa/stats",
    tag = "rest: 2fa",
    responses((status = 200, description = "How many users have 2FA", body = RestOk<super::schema::TwoFactorStats>), (status = 401, description = "No valid bearer token", body = RestFailure), (status = 403, description = "Not an admin, or the hierarchy forbids it", body = RestFailure)),
    security(("bearer" = []))
)]
pub async fn stats(auth: AdminBearer, state: web::Data<AppState>) -> RestResult {
    let counts = state
        .services
        .two_factor
        .counts(&auth.user)
        .await
        .map_err(refuse(auth.locale))?;
    Ok(respond(
        StatusCode::OK,
        Msg::RestOk,
        auth.locale,
        json!({
            "total_users": counts.total_users,
            "enabled_users": counts.enabled_users,
            "enabled_rate": counts.enabled_rate(),
        }),
    ))
}

/// `DELETE /api/v1/admin/users/{id}/2fa` (admin): turns the user's 2FA off and ends all of
/// its sessions; 403 unless the user's role is below the admin's, 409 when 2FA is off.
#[utoipa::path(
    delete,
    path = "/api/v1/admin/users/{id}/2fa",
    tag = "rest: 2fa",
    params(("id" = i64, Path, description = "The user's id")),
    responses((status = 200, description = "Turned off; the user's sessions ended", body = RestDone), (status = 401, description = "No valid bearer token", body = RestFailure), (status = 403, description = "Not an admin, or the hierarchy forbids it", body = RestFailure), (status = 404, description = "No such user", body = RestFailure), (status = 409, description = "2FA is not enabled", body = RestFailure)),
    security(("bearer" = []))
)]
pub async fn admin_reset(
    ip: ClientIp,
    auth: AdminBearer,
    state: web::Data<AppState>,
    id: Path<i64>,
) -> RestResult {
    state
        .services
        .two_factor
        .admin_reset(&auth.user, UserId::new(id.into_inner()), ip.0)
        .await
        .map_err(refuse(auth.locale))?;
    Ok(respond(
        StatusCode::OK,
        Msg::TwoFactorResetDone,
        auth.locale,
        (),
    ))
}
