//! Bearer-JWT authentication for `/api/v1`: signature, algorithm, issuer, audience and expiry
//! are checked by the codec; the token's session must still be active and the user live and
//! enabled, so revocation takes effect on the next request.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use tollgate_domain::services::{AuthError, AuthService};
use tollgate_domain::{SessionId, User};

use super::envelope::RestError;
use crate::compat::auth::{AdminRole, AnyUser, MinRole};
use crate::compat::respond::locale_of;
use crate::i18n::{Locale, Msg};
use crate::state::AppState;

/// An authenticated, enabled user of the REST surface whose role is at least `R::ROLE`, and
/// the session of its token. Roles as on the compat surface (`crate::compat::auth::MinRole`).
pub struct Bearer<R: MinRole = AnyUser> {
    pub user: User,
    pub session_id: SessionId,
    pub locale: Locale,
    _role: PhantomData<R>,
}

/// A bearer with the admin role (403 "admin role required" below it).
pub type AdminBearer = Bearer<AdminRole>;

impl<R: MinRole> FromRequest for Bearer<R> {
    type Error = RestError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Bodies, queries and paths wait until this finishes (`crate::input::AuthGate`).
        let gate = crate::input::AuthGate::close(req);
        let req = req.clone();
        Box::pin(async move {
            let _gate = gate;
            let locale = locale_of(&req);
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| RestError::internal(&"application state missing", locale))?;
            let token = bearer_token(&req).ok_or_else(|| RestError::unauthenticated(locale))?;
            let auth = state
                .services
                .auth
                .authenticate_jwt(token)
                .await
                .map_err(|e| match e {
                    AuthError::Unexpected(e) => RestError::internal(&e, locale),
                    _ => RestError::unauthenticated(locale),
                })?;
            AuthService::authorize(&auth.user, R::ROLE).map_err(|e| match e {
                AuthError::Disabled => RestError::new(
                    StatusCode::FORBIDDEN,
                    Msg::RestAccountDisabled,
                    locale,
                    "account disabled",
                ),
                AuthError::Forbidden => RestError::new(
                    StatusCode::FORBIDDEN,
                    Msg::RestForbidden,
                    locale,
                    "admin role required",
                ),
                _ => RestError::unauthenticated(locale),
            })?;
            Ok(Self {
                user: auth.user,
                // A JWT is always bound to its session.
                session_id: auth
                    .session_id
                    .ok_or_else(|| RestError::unauthenticated(locale))?,
                locale,
                _role: PhantomData,
            })
        })
    }
}

/// The token of `Authorization: Bearer <jwt>` (the scheme is required here).
fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let raw = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = raw.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
