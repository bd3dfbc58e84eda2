//! `/api/v1` handlers: authentication, profile and password (documented in docs/api.md).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use tollgate_domain::services::{ApiTokens, LoginInput, LoginStep, ProfileInput};
use tollgate_domain::{User, UserStatus};

use super::auth::Bearer;
use super::envelope::{RestError, refuse, respond};
use super::schema::{LoginData, RestDone, RestFailure, RestOk};
use super::time::rfc3339;
use crate::client::{ClientIp, UserAgent};
use crate::credentials::{LoginBody, RegisterBody};
use crate::i18n::{Locale, Msg};
use crate::input::Json;
use crate::metrics::{self, Surface};
use crate::state::AppState;

type RestResult = Result<HttpResponse, RestError>;

/// The user object of the REST surface (docs/api.md). `status` is 1 enabled, 0 disabled on this
/// surface.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserResponse {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub phone: String,
    pub avatar: String,
    pub status: i32,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&User> for UserResponse {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.get(),
            username: u.username.clone(),
            email: u.email.as_deref().unwrap_or_default().to_owned(),
            phone: u.phone.as_deref().unwrap_or_default().to_owned(),
            avatar: u.avatar.as_deref().unwrap_or_default().to_owned(),
            status: i32::from(u.status == UserStatus::Enabled),
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokensResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: String,
    refresh_expires_at: String,
    user: UserResponse,
}

fn tokens(t: ApiTokens) -> TokensResponse {
    TokensResponse {
        user: UserResponse::from(&t.user),
        access_token: t.access_token,
        token_type: "Bearer",
        expires_in: t.access_expires_in,
        refresh_token: t.refresh_token,
        refresh_expires_at: rfc3339(t.refresh_expires_at),
    }
}

/// `POST /api/v1/auth/register` → 201 with the new user. Does not log in.
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "rest: auth",
    params(crate::compat::doc::TurnstileQuery),
    request_body = RegisterBody,
    responses((status = 201, description = "Registered; `data` is the user", body = RestOk<UserResponse>), (status = 400, description = "A malformed body or query, or a value the rules refuse", body = RestFailure), (status = 403, description = "Registration is off", body = RestFailure), (status = 409, description = "The username is taken", body = RestFailure), (status = 429, description = "Too many requests (`Retry-After` says when to retry)", body = RestFailure))
)]
pub async fn register(
    state: web::Data<AppState>,
    locale: Locale,
    ip: ClientIp,
    body: Json<RegisterBody>,
) -> RestResult {
    let user = state
        .services
        .accounts
        .register(body.into_inner().into_input(ip))
        .await
        .map_err(refuse(locale))?;
    Ok(respond(
        StatusCode::CREATED,
        Msg::RestRegistered,
        locale,
        UserResponse::from(&user),
    ))
}

/// `POST /api/v1/auth/login` → a short-lived JWT access token and a refresh token; for a
/// user with 2FA, no token but `{require_2fa: true, challenge}` for `/auth/login/2fa`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "rest: auth",
    params(crate::compat::doc::TurnstileQuery),
    request_body = LoginBody,
    responses((status = 200, description = "The tokens, or the 2FA challenge", body = RestOk<LoginData>), (status = 400, description = "A malformed body or query, or a value the rules refuse", body = RestFailure), (status = 401, description = "Wrong username or password", body = RestFailure), (status = 403, description = "Password login is off, or the account is disabled", body = RestFailure), (status = 429, description = "Too many requests (`Retry-After` says when to retry)", body = RestFailure))
)]
pub async fn login(
    state: web::Data<AppState>,
    locale: Locale,
    ip: ClientIp,
    user_agent: UserAgent,
    body: Json<LoginBody>,
) -> RestResult {
    let step = state
        .services
        .logins
        .login_api(body.into_inner().into_input(ip, user_agent))
        .await;
    metrics::password_login(Surface::Rest, &step);
    let step = step.map_err(refuse(locale))?;
    Ok(match step {
        LoginStep::Done(t) => respond(StatusCode::OK, Msg::RestLoggedIn, locale, tokens(t)),
        LoginStep::SecondFactor { challenge } => respond(
            StatusCode::OK,
            Msg::TwoFactorRequired,
            locale,
            serde_json::json!({"require_2fa": true, "challenge": challenge}),
        ),
    })
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct SecondFactorBody {
    /// From the login's reply.
    #[schema(required = true, min_length = 1)]
    pub challenge: Option<String>,
    /// Six digits, or an eight-character backup code.
    #[schema(required = true, min_length = 1)]
    pub code: Option<String>,
}

/// `POST /api/v1/auth/login/2fa {challenge, code}` → the tokens of the login the challenge
/// started; 401 for an unknown, expired or spent challenge or a wrong code.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login/2fa",
    tag = "rest: auth",
    params(crate::compat::doc::TurnstileQuery),
    request_body = SecondFactorBody,
    responses((status = 200, description = "The tokens", body = RestOk<TokensResponse>), (status = 400, description = "A malformed body or query, or a value the rules refuse", body = RestFailure), (status = 401, description = "Unknown, expired or spent challenge, or a wrong code", body = RestFailure), (status = 429, description = "Too many requests (`Retry-After` says when to retry)", body = RestFailure))
)]
pub async fn login_second_step(
    state: web::Data<AppState>,
    locale: Locale,
    ip: ClientIp,
    user_agent: UserAgent,
    body: Json<SecondFactorBody>,
) -> RestResult {
    let body = body.into_inner();
    let input = LoginInput {
        login: String::new(),
        password: String::new(),
        ip: ip.0,
        user_agent: user_agent.0,
    };
    let t = state
        .services
        .logins
        .complete_api(
            body.challenge.as_deref().unwrap_or_default(),
            body.code.as_deref().unwrap_or_default(),
            &input,
        )
        .await;
    metrics::second_factor_login(Surface::Rest, &t);
    let t = t.map_err(refuse(locale))?;
    Ok(respond(
        StatusCode::OK,
        Msg::RestLoggedIn,
        locale,
        tokens(t),
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct RefreshBody {
    #[schema(required = true, min_length = 1)]
    pub refresh_token: Option<String>,
}

/// `POST /api/v1/auth/refresh` → a new pair; the presented refresh token stops working.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "rest: auth",
    request_body = RefreshBody,
    responses((status = 200, description = "A new pair; the old refresh token stops working", body = RestOk<TokensResponse>), (status = 400, description = "A malformed body or query, or a value the rules refuse", body = RestFailure), (status = 401, description = "Unknown, expired or reused refresh token", body = RestFailure))
)]
pub async fn refresh(
    state: web::Data<AppState>,
    locale: Locale,
    ip: ClientIp,
    body: Json<RefreshBody>,
) -> RestResult {
    let token = body.into_inner().refresh_token.unwrap_or_default();
    let t = state
        .services
        .auth
        .refresh(&token, ip.0)
        .await
        .map_err(refuse(locale))?;
    Ok(respond(
        StatusCode::OK,
        Msg::RestRefreshed,
        locale,
        tokens(t),
    ))
}

/// `POST /api/v1/auth/logout`: ends the session of the bearer token; its refresh token and
/// every access token issued for it stop working.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "rest: auth",
    responses((status = 200, description = "The session ended", body = RestDone), (status = 401, description = "No valid bearer token", body = RestFailure)),
    security(("bearer" = []))
)]
pub async fn logout(ip: ClientIp, auth: Bearer, state: web::Data<AppState>) -> RestResult {
    state
        .services
        .auth
        .logout_session(auth.session_id, auth.user.id, ip.0)
        .await
        .map_err(|e| RestError::internal(&e, auth.locale))?;
    Ok(respond(StatusCode::OK, Msg::RestLoggedOut, auth.locale, ()))
}

/// `GET /api/v1/users/profile`.
#[utoipa::path(
    get,
    path = "/api/v1/users/profile",
    tag = "rest: users",
    responses((status = 200, description = "The caller", body = RestOk<UserResponse>), (status = 401, description = "No valid bearer token", body = RestFailure), (status = 403, description = "The account is disabled", body = RestFailure)),
    security(("bearer" = []))
)]
pub async fn get_profile(auth: Bearer) -> RestResult {
    Ok(respond(
        StatusCode::OK,
        Msg::RestOk,
        auth.locale,
        UserResponse::from(&auth.user),
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ProfileBody {
    #[schema(min_length = 1, max_length = 20)]
    pub username: Option<String>,
    /// Refused while e-mail verification is not available (an empty value clears nothing).
    #[schema(max_length = 254)]
    pub email: Option<String>,
    #[schema(max_length = 32)]
    pub phone: Option<String>,
    /// A public http(s) URL.
    #[schema(max_length = 512)]
    pub avatar: Option<String>,
}

/// `PUT /api/v1/users/profile`: username, email, phone, avatar; every field validated before
/// any is changed. Other fields (`status`, `role`, `quota`, ...) are ignored.
#[utoipa::path(
    put,
    path = "/api/v1/users/profile",
    tag = "rest: users",
    request_body = ProfileBody,
    responses((status = 200, description = "The caller afterwards", body = RestOk<UserResponse>), (status = 400, description = "A malformed body or query, or a value the rules refuse", body = RestFailure), (status = 401, description = "No valid bearer token", body = RestFailure), (status = 409, description = "The username is taken", body = RestFailure)),
    security(("bearer" = []))
)]
pub async fn update_profile(
    auth: Bearer,
    state: web::Data<AppState>,
    body: Json<ProfileBody>,
) -> RestResult {
    let locale = auth.locale;
    let body = body.into_inner();
    let input = ProfileInput {
        username: body.username,
        email: body.email,
        phone: body.phone,
        avatar: body.avatar,
    };
    let user = state
        .services
        .profile
        .update_profile(&auth.user, input)
        .await
        .map_err(refuse(locale))?;
    Ok(respond(
        StatusCode::OK,
        Msg::RestUpdated,
        locale,
        UserResponse::from(&user),
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct PasswordBody {
    #[schema(required = true)]
    pub old_password: Option<String>,
    #[schema(required = true, min_length = 8, max_length = 128)]
    pub new_password: Option<String>,
    /// Equal to `new_password`.
    #[schema(required = true)]
    pub confirm_password: Option<String>,
}

/// `PUT /api/v1/users/password`: wrong old password → 401; mismatch or policy → 400; success
/// revokes every other session of the user (on both surfaces).
#[utoipa::path(
    put,
    path = "/api/v1/users/password",
    tag = "rest: users",
    request_body = PasswordBody,
    responses((status = 200, description = "Changed; the other sessions ended", body = RestDone), (status = 400, description = "A malformed body or query, or a value the rules refuse", body = RestFailure), (status = 401, description = "No valid bearer token, or a wrong old password", body = RestFailure), (status = 429, description = "Too many requests (`Retry-After` says when to retry)", body = RestFailure)),
    security(("bearer" = []))
)]
pub async fn change_password(
    ip: ClientIp,
    auth: Bearer,
    state: web::Data<AppState>,
    body: Json<PasswordBody>,
) -> RestResult {
    let locale = auth.locale;
    let body = body.into_inner();
    let (Some(old), Some(new), Some(confirm)) =
        (body.old_password, body.new_password, body.confirm_password)
    else {
        return Err(RestError::bad_request(
            locale,
            "old_password, new_password and confirm_password are required",
        ));
    };
    let session = Some(auth.session_id);
    state
        .services
        .profile
        .change_password(&auth.user, session, &old, &new, &confirm, ip.0)
        .await
        .map_err(refuse(locale))?;
    Ok(respond(
        StatusCode::OK,
        Msg::RestPasswordChanged,
        locale,
        (),
    ))
}
