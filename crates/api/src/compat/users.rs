//! `/api/user/*` self-service handlers of the foundation slice.

use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use tollgate_domain::RedeemError;
use tollgate_domain::services::{LoginError, LoginInput, RegisterError, RegisterInput};
use tollgate_domain::user::CredentialRuleError;

use super::auth::{SESSION_COOKIE, UserAuth};
use super::dto::SelfUser;
use super::respond::{CompatError, CompatResult, locale_of, ok, ok_empty};
use crate::i18n::{Locale, Msg};
use crate::input::Json;
use crate::state::AppState;

/// Registration body. The console also sends `password2`, `wechat_verification_code` and
/// `aff_code: null`; unknown fields and nulls are accepted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RegisterBody {
    pub username: Option<String>,
    pub password: Option<String>,
    /// Accepted but not stored until it is verified (e-mail verification is not built yet),
    /// so nobody can squat an address they do not own.
    pub email: Option<String>,
    pub aff_code: Option<String>,
}

/// The compat message of a refused username or password, for every route.
pub(crate) fn credential_msg(e: &CredentialRuleError) -> Msg {
    match e {
        CredentialRuleError::UsernameLength { .. } => Msg::UsernameLength,
        CredentialRuleError::UsernameCharacters => Msg::UsernameCharacters,
        CredentialRuleError::PasswordLength { .. } => Msg::PasswordLength,
        CredentialRuleError::UsernameUnsafe => Msg::UsernameUnsafe,
    }
}

/// `POST /api/user/register` (spec §3.1). Public. Does not log the user in.
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<RegisterBody>,
) -> CompatResult {
    let locale = locale_of(&req);
    let body = body.into_inner();
    let input = RegisterInput {
        username: body.username.unwrap_or_default(),
        password: body.password.unwrap_or_default(),
        // Not stored: see `RegisterBody::email`.
        email: None,
        aff_code: body.aff_code,
        ip: crate::client::peer_ip(&req),
    };
    match state.accounts.register(input).await {
        Ok(_) => Ok(ok_empty()),
        Err(e) => Err(match e {
            RegisterError::RegistrationDisabled => CompatError::fail(Msg::RegisterDisabled, locale),
            RegisterError::PasswordRegistrationDisabled => {
                CompatError::fail(Msg::PasswordRegisterDisabled, locale)
            }
            RegisterError::InvalidInput(rule) => CompatError::fail(credential_msg(&rule), locale),
            RegisterError::UsernameTaken => CompatError::fail(Msg::UsernameTaken, locale),
            RegisterError::RateLimited { retry_after_secs } => {
                CompatError::too_many_requests(Msg::RegisterRateLimited, locale, retry_after_secs)
            }
            other => CompatError::internal(&other, locale),
        }),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginBody {
    pub username: Option<String>,
    pub password: Option<String>,
}

/// `POST /api/user/login` (spec §3.2). Sets the `session` cookie; `data` is the user.
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LoginBody>,
) -> CompatResult {
    let locale = locale_of(&req);
    let body = body.into_inner();
    let input = LoginInput {
        login: body.username.unwrap_or_default(),
        password: body.password.unwrap_or_default(),
        ip: crate::client::peer_ip(&req),
        user_agent: crate::client::user_agent(&req),
    };
    let outcome = state.accounts.login(input).await.map_err(|e| match e {
        LoginError::PasswordLoginDisabled => CompatError::fail(Msg::PasswordLoginDisabled, locale),
        LoginError::MissingCredentials => CompatError::fail(Msg::InvalidParams, locale),
        LoginError::InvalidCredentials => CompatError::fail(Msg::InvalidCredentials, locale),
        other => CompatError::internal(&other, locale),
    })?;
    let cookie = Cookie::build(SESSION_COOKIE, outcome.session_token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.cookie.secure)
        .max_age(Duration::seconds(state.cookie.max_age_secs))
        .finish();
    Ok(HttpResponse::Ok().cookie(cookie).json(serde_json::json!({
        "success": true,
        "message": "",
        "data": SelfUser::from(&outcome.user),
    })))
}

/// `GET /api/user/logout` (spec §2.1): revokes the server-side session, then clears the
/// cookie. Answers success without a session too, as New API does.
pub async fn logout(state: web::Data<AppState>, req: HttpRequest) -> CompatResult {
    if let Some(cookie) = req.cookie(SESSION_COOKIE) {
        state
            .accounts
            .logout(cookie.value(), crate::client::peer_ip(&req))
            .await
            .map_err(|e| CompatError::internal(&e, locale_of(&req)))?;
    }
    let removal = removal_cookie(state.cookie.secure);
    Ok(HttpResponse::Ok()
        .cookie(removal)
        .json(serde_json::json!({"success": true, "message": ""})))
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

/// `GET /api/user/self` (spec §3.7).
pub async fn get_self(auth: UserAuth) -> CompatResult {
    Ok(ok(SelfUser::from(&auth.user)))
}

/// `GET /api/user/token` (spec §2.3): rotates the access token and shows it this once.
pub async fn rotate_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: UserAuth,
) -> CompatResult {
    let locale = auth.locale;
    let ip = crate::client::peer_ip(&req);
    match state.accounts.rotate_access_token(auth.user.id, ip).await {
        Ok(token) => Ok(ok(token)),
        Err(tollgate_domain::services::AccessTokenError::Collision) => {
            Err(CompatError::fail(Msg::TokenGenerationFailed, locale))
        }
        Err(e) => Err(CompatError::internal(&e, locale)),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RedeemBody {
    pub key: Option<String>,
}

fn redeem_msg(e: &RedeemError) -> Option<Msg> {
    Some(match e {
        RedeemError::EmptyCode => Msg::RedeemNoCode,
        RedeemError::NotFound => Msg::RedeemInvalidCode,
        RedeemError::AlreadyUsed => Msg::RedeemUsed,
        RedeemError::Disabled => Msg::RedeemDisabled,
        RedeemError::Expired => Msg::RedeemExpired,
        RedeemError::BalanceOverflow => Msg::RedeemOverflow,
        RedeemError::AccountUnavailable => Msg::RedeemFailed,
        RedeemError::Unexpected(_) => return None,
    })
}

/// `POST /api/user/topup` (spec §3.13, §5.5): redeem a code; `data` is the quota credited.
pub async fn redeem(
    state: web::Data<AppState>,
    auth: UserAuth,
    body: Json<RedeemBody>,
) -> CompatResult {
    let key = body.into_inner().key.unwrap_or_default();
    match state.redemptions.redeem(&auth.user, &key).await {
        Ok(r) => Ok(ok(r.quota)),
        Err(e) => Err(match redeem_msg(&e) {
            Some(msg) => CompatError::fail(msg, auth.locale),
            None => CompatError::internal(&e, auth.locale),
        }),
    }
}

/// Bad JSON on the compat surface is a business refusal: 200 `无效的参数` (spec §3.1).
pub fn json_error(locale: Locale) -> CompatError {
    CompatError::fail(Msg::InvalidParams, locale)
}
