//! The REST surface, `/api/v1/*` (the second half of docs/api.md): real HTTP status codes and the
//! envelope `{code, message, data, timestamp}` (plus `error` on failures). JWT bearer
//! authentication.

mod admin;
mod auth;
mod envelope;
mod handlers;
mod time;
mod two_factor;

pub use time::rfc3339;

use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, web};

use crate::compat::respond::locale_of;
use crate::i18n::Msg;
use crate::input;
use crate::{limits, turnstile};
pub use envelope::RestError;

const JSON_LIMIT: usize = 64 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(scope());
}

/// The `/api/v1` scope with its routes, extractor configuration and panic envelope.
pub(crate) fn scope() -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    // Bodies, queries and paths go through `crate::input` (control characters refused,
    // authentication first); its errors, and the JSON reader's, are 400 envelopes whose
    // `error` names the field and a fixed reason, never the parser's text.
    let json = web::JsonConfig::default()
        .limit(JSON_LIMIT)
        .error_handler(|err, req| input::reject(&input::InputError::from_payload(&err), req));
    web::scope("/api/v1")
        .wrap(from_fn(catch_panic))
        // The same per-address limits as the compat surface, one count for both (`crate::limits`).
        .wrap(from_fn(limits::global_api))
        .app_data(json)
        .app_data(input::InputErrorHandler(|err, req| {
            RestError::bad_request(locale_of(req), err.to_string()).into()
        }))
        .app_data(web::PathConfig::default().error_handler(|_, req| {
            RestError::new(
                actix_web::http::StatusCode::NOT_FOUND,
                Msg::RestNotFound,
                locale_of(req),
                "no such resource",
            )
            .into()
        }))
        .route(
            "/auth/register",
            web::post()
                .to(handlers::register)
                .wrap(from_fn(turnstile::required))
                .wrap(from_fn(limits::critical_register)),
        )
        .route(
            "/auth/login",
            web::post()
                .to(handlers::login)
                .wrap(from_fn(turnstile::required))
                .wrap(from_fn(limits::critical_login)),
        )
        .route(
            "/auth/login/2fa",
            web::post()
                .to(handlers::login_second_step)
                .wrap(from_fn(turnstile::required))
                .wrap(from_fn(limits::critical_login)),
        )
        .route("/auth/refresh", web::post().to(handlers::refresh))
        .route("/auth/logout", web::post().to(handlers::logout))
        .route("/users/profile", web::get().to(handlers::get_profile))
        .route("/users/profile", web::put().to(handlers::update_profile))
        .route("/users/password", web::put().to(handlers::change_password))
        .route("/admin/users", web::get().to(admin::list_users))
        .route("/admin/users/{id}/status", web::put().to(admin::set_status))
        .route("/admin/audit", web::get().to(admin::audit))
        .route("/users/2fa/status", web::get().to(two_factor::status))
        .route("/users/2fa/setup", web::post().to(two_factor::setup))
        .route("/users/2fa/enable", web::post().to(two_factor::enable))
        .route("/users/2fa/disable", web::post().to(two_factor::disable))
        .route(
            "/users/2fa/backup-codes",
            web::post().to(two_factor::backup_codes),
        )
        .route("/admin/users/2fa/stats", web::get().to(two_factor::stats))
        .route(
            "/admin/users/{id}/2fa",
            web::delete().to(two_factor::admin_reset),
        )
        .default_service(web::to(not_found))
}

/// A panic under `/api/v1` answers the REST envelope (an opaque 500), not the compat one.
pub async fn catch_panic(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    crate::startup::catch_panic_with(req, next, |locale| {
        actix_web::ResponseError::error_response(&RestError::new(
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            Msg::Internal,
            locale,
            "internal error",
        ))
    })
    .await
}

async fn not_found(req: HttpRequest) -> Result<actix_web::HttpResponse, RestError> {
    Err(RestError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        Msg::RestNotFound,
        locale_of(&req),
        "no such endpoint",
    ))
}
