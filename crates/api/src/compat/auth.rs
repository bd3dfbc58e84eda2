//! Authentication of the compat surface (docs/newapi-behaviour.md §3.2), minus New API's
//! defects: sessions are server-side and the user's role and status are read live on every
//! request, so disabling or demoting a user takes effect at once.
//!
//! Order: session cookie, else access token (401 when neither); then `New-Api-User` must
//! equal the user's id (401); then status (200 "banned") and role (200 "insufficient").

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use tollgate_domain::services::{AuthError, AuthService, Authenticated};
use tollgate_domain::{Role, SessionId, User};

use super::respond::{CompatError, locale_of};
use crate::i18n::{Locale, Msg};
use crate::state::AppState;

/// Name of the session cookie (New API's).
pub const SESSION_COOKIE: &str = "session";
/// The header New API's console sends on every request as an anti-CSRF measure.
pub const NEW_API_USER: &str = "New-Api-User";

/// The minimum role of a route.
pub trait MinRole {
    const ROLE: Role;
}
pub struct AnyUser;
pub struct AdminRole;
pub struct RootRole;
impl MinRole for AnyUser {
    const ROLE: Role = Role::User;
}
impl MinRole for AdminRole {
    const ROLE: Role = Role::Admin;
}
impl MinRole for RootRole {
    const ROLE: Role = Role::Root;
}

/// An authenticated, enabled user whose role is at least `R::ROLE`.
pub struct Authed<R: MinRole> {
    pub user: User,
    /// The cookie session that authenticated the request (`None` for an access token).
    pub session_id: Option<SessionId>,
    /// When that session logged in (`None` for an access token).
    pub session_created_at: Option<i64>,
    pub locale: Locale,
    _role: PhantomData<R>,
}

pub type UserAuth = Authed<AnyUser>;
pub type AdminAuth = Authed<AdminRole>;
pub type RootAuth = Authed<RootRole>;

impl<R: MinRole> FromRequest for Authed<R> {
    type Error = CompatError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Bodies, queries and paths wait until this finishes (`crate::input::AuthGate`).
        let gate = crate::input::AuthGate::close(req);
        let req = req.clone();
        Box::pin(async move {
            let _gate = gate;
            let locale = locale_of(&req);
            let auth = authenticate(&req, R::ROLE, locale).await?;
            Ok(Self {
                user: auth.user,
                session_id: auth.session_id,
                session_created_at: auth.session_created_at,
                locale,
                _role: PhantomData,
            })
        })
    }
}

fn internal(e: &AuthError, locale: Locale) -> CompatError {
    CompatError::internal(e, locale)
}

async fn authenticate(
    req: &HttpRequest,
    min: Role,
    locale: Locale,
) -> Result<Authenticated, CompatError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| CompatError::internal(&"application state missing", locale))?;
    let service = &state.services.auth;

    let mut user = None;
    if let Some(cookie) = req.cookie(SESSION_COOKIE) {
        match service.authenticate_session(cookie.value()).await {
            Ok(u) => user = Some(u),
            // A stale cookie is no session: fall through to the access token.
            Err(AuthError::NoSession | AuthError::UserDeleted) => {}
            Err(e) => return Err(internal(&e, locale)),
        }
    }
    let auth = match user {
        Some(u) => u,
        None => {
            let token = access_token(req)
                .ok_or_else(|| CompatError::unauthorized(Msg::NotLoggedIn, locale))?;
            match service.authenticate_access_token(token).await {
                Ok(u) => u,
                Err(AuthError::InvalidAccessToken) => {
                    return Err(CompatError::fail(Msg::InvalidAccessToken, locale));
                }
                Err(e) => return Err(internal(&e, locale)),
            }
        }
    };

    check_new_api_user(req, &auth.user, locale)?;

    AuthService::authorize(&auth.user, min).map_err(|e| match e {
        AuthError::Disabled => CompatError::fail(Msg::UserBanned, locale),
        AuthError::UserDeleted => CompatError::fail(Msg::UserDeleted, locale),
        AuthError::Forbidden => CompatError::fail(Msg::InsufficientPrivileges, locale),
        other => internal(&other, locale),
    })?;
    Ok(auth)
}

/// The user of a valid session cookie, if any: for public routes that adapt to a logged-in
/// caller without requiring one.
pub async fn optional_session_user(req: &HttpRequest) -> Option<User> {
    let state = req.app_data::<web::Data<AppState>>()?;
    let cookie = req.cookie(SESSION_COOKIE)?;
    let auth = state
        .services
        .auth
        .authenticate_session(cookie.value())
        .await
        .ok()?;
    auth.user.is_enabled().then_some(auth.user)
}

/// The token of `Authorization: Bearer <t>` or `Authorization: <t>`. Only a leading `Bearer ` is
/// stripped (New API removed the first occurrence anywhere, docs/newapi-behaviour.md §11.3).
fn access_token(req: &HttpRequest) -> Option<&str> {
    let raw = req.headers().get(AUTHORIZATION)?.to_str().ok()?.trim();
    let token = match raw.get(..6) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer") => {
            match raw[6..].strip_prefix(char::is_whitespace) {
                Some(rest) => rest.trim_start(),
                None if raw.len() == 6 => "",
                None => raw,
            }
        }
        _ => raw,
    };
    (!token.is_empty()).then_some(token)
}

fn check_new_api_user(req: &HttpRequest, user: &User, locale: Locale) -> Result<(), CompatError> {
    let header = req
        .headers()
        .get(NEW_API_USER)
        .ok_or_else(|| CompatError::unauthorized(Msg::NewApiUserMissing, locale))?;
    let id: i64 = header
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| CompatError::unauthorized(Msg::NewApiUserMalformed, locale))?;
    if id != user.id.get() {
        return Err(CompatError::unauthorized(Msg::NewApiUserMismatch, locale));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn bearer_prefix_is_optional_and_only_stripped_at_the_start() {
        let token = |v: &str| {
            let req = TestRequest::default()
                .insert_header((AUTHORIZATION, v))
                .to_http_request();
            access_token(&req).map(str::to_owned)
        };
        assert_eq!(token("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(token("bearer abc").as_deref(), Some("abc"));
        assert_eq!(token("abc").as_deref(), Some("abc"));
        assert_eq!(token("xBearer abc").as_deref(), Some("xBearer abc"));
        assert_eq!(token("Bearer ").as_deref(), None);
        assert_eq!(token("Bearer").as_deref(), None);
        assert_eq!(token("Bearerabc").as_deref(), Some("Bearerabc"));
        assert_eq!(token("   ").as_deref(), None);
    }
}
