//! `/api/user/*` self-service handlers of the foundation slice.

use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use tollgate_domain::services::{LoginOutcome, LoginStep, RegisterInput};

use super::auth::{SESSION_COOKIE, UserAuth};
use super::doc::TurnstileQuery;
use super::dto::SelfUser;
use super::respond::{CompatError, CompatResult, ok, ok_empty, refuse};
use crate::client::{ClientIp, UserAgent};
use crate::credentials::{LoginBody, RegisterBody};
use crate::i18n::{Locale, Msg};
use crate::input::Json;
use crate::metrics::{self, Surface};
use crate::openapi::CompatEnvelope;
use crate::state::{AppState, CookiePolicy};

/// `POST /api/user/register`. Public. Does not log the user in.
#[utoipa::path(
    post,
    path = "/api/user/register",
    tag = "compat: account",
    params(TurnstileQuery),
    request_body = crate::credentials::RegisterBody,
    responses((status = 200, description = "Registered (`data` absent), or refused with `success: false`", body = CompatEnvelope), (status = 429, description = "Too many requests: New API's request limits answer an empty body, login throttling and the sign-up limit a refusal; `Retry-After` says when to retry"))
)]
pub async fn register(
    state: web::Data<AppState>,
    locale: Locale,
    ip: ClientIp,
    body: Json<RegisterBody>,
) -> CompatResult {
    let input = RegisterInput {
        // Not checked on this surface, and never stored: see `RegisterBody::email`.
        email: None,
        ..body.into_inner().into_input(ip)
    };
    state
        .services
        .accounts
        .register(input)
        .await
        .map_err(refuse(locale, &state.info))?;
    Ok(ok_empty())
}

/// `POST /api/user/login`. Sets the `session` cookie; `data` is the user. A user with 2FA
/// gets no session: `data` is `{require_2fa: true}` and the pending login's cookie is set
/// for `POST /api/user/login/2fa` (`super::two_factor::login_second_step`).
#[utoipa::path(
    post,
    path = "/api/user/login",
    tag = "compat: account",
    params(TurnstileQuery),
    request_body = crate::credentials::LoginBody,
    responses((status = 200, description = "`data` is the user and the `session` cookie is set; with 2FA `data` is `{require_2fa: true}`; or refused", body = CompatEnvelope), (status = 429, description = "Too many requests: New API's request limits answer an empty body, login throttling and the sign-up limit a refusal; `Retry-After` says when to retry"))
)]
pub async fn login(
    state: web::Data<AppState>,
    locale: Locale,
    ip: ClientIp,
    user_agent: UserAgent,
    body: Json<LoginBody>,
) -> CompatResult {
    let step = state
        .services
        .logins
        .login(body.into_inner().into_input(ip, user_agent))
        .await;
    metrics::password_login(Surface::Compat, &step);
    let step = step.map_err(refuse(locale, &state.info))?;
    match step {
        LoginStep::Done(outcome) => Ok(logged_in(outcome, state.cookie)),
        LoginStep::SecondFactor { challenge } => Ok(super::two_factor::second_factor_required(
            &state, challenge, locale,
        )),
    }
}

/// The reply of a login that opened a session: the `session` cookie and the user.
pub fn logged_in(outcome: LoginOutcome, policy: CookiePolicy) -> HttpResponse {
    let cookie = session_cookie(outcome.session_token, policy);
    HttpResponse::Ok().cookie(cookie).json(serde_json::json!({
        "success": true,
        "message": "",
        "data": SelfUser::from(&outcome.user),
    }))
}

/// `GET /api/user/logout` (docs/newapi-behaviour.md §3.1): revokes the server-side session, then
/// clears the cookie. Answers success without a session too, as New API does.
#[utoipa::path(
    get,
    path = "/api/user/logout",
    tag = "compat: account",
    responses((status = 200, description = "The session ended (also without one)", body = CompatEnvelope))
)]
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    locale: Locale,
    ip: ClientIp,
) -> CompatResult {
    if let Some(cookie) = req.cookie(SESSION_COOKIE) {
        state
            .services
            .auth
            .logout(cookie.value(), ip.0)
            .await
            .map_err(|e| CompatError::internal(&e, locale))?;
    }
    let removal = removal_cookie(state.cookie.secure);
    Ok(HttpResponse::Ok()
        .cookie(removal)
        .json(serde_json::json!({"success": true, "message": ""})))
}

/// The `session` cookie of a new login.
fn session_cookie(token: String, policy: CookiePolicy) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(policy.secure)
        .max_age(Duration::seconds(policy.max_age_secs))
        .finish()
}

/// A `Set-Cookie` that deletes the session cookie in the browser.
pub fn removal_cookie(secure: bool) -> Cookie<'static> {
    let mut removal = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish();
    removal.make_removal();
    removal
}

/// `GET /api/user/self` (docs/newapi-behaviour.md §5.1).
#[utoipa::path(
    get,
    path = "/api/user/self",
    tag = "compat: account",
    responses((status = 200, description = "`data` is the caller", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn get_self(auth: UserAuth) -> CompatResult {
    Ok(ok(SelfUser::from(&auth.user)))
}

/// `GET /api/user/token`: rotates the access token and shows it this once.
#[utoipa::path(
    get,
    path = "/api/user/token",
    tag = "compat: account",
    responses((status = 200, description = "`data` is the new access token (shown once); the old one stops working", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn rotate_token(
    state: web::Data<AppState>,
    auth: UserAuth,
    ip: ClientIp,
) -> CompatResult {
    let token = state
        .services
        .auth
        .rotate_access_token(auth.user.id, ip.0)
        .await
        .map_err(refuse(auth.locale, &state.info))?;
    Ok(ok(token))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct RedeemBody {
    pub key: Option<String>,
}

/// `POST /api/user/topup`: redeem a code; `data` is the quota credited.
#[utoipa::path(
    post,
    path = "/api/user/topup",
    tag = "compat: quota",
    request_body = RedeemBody,
    responses((status = 200, description = "`data` is the quota credited, or refused", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope), (status = 429, description = "Too many requests: New API's request limits answer an empty body, login throttling and the sign-up limit a refusal; `Retry-After` says when to retry")),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn redeem(
    state: web::Data<AppState>,
    auth: UserAuth,
    body: Json<RedeemBody>,
) -> CompatResult {
    let key = body.into_inner().key.unwrap_or_default();
    let redeemed = state
        .services
        .redemptions
        .redeem(&auth.user, &key)
        .await
        .map_err(refuse(auth.locale, &state.info))?;
    Ok(ok(redeemed.quota))
}

/// Bad JSON on the compat surface is a business refusal: 200 `无效的参数` (docs/newapi-behaviour.md
/// §4.1).
pub fn json_error(locale: Locale) -> CompatError {
    CompatError::fail(Msg::InvalidParams, locale)
}
