//! The REST surface, `/api/v1/*` (the second half of docs/api.md): real HTTP status codes and the
//! envelope `{code, message, data, timestamp}` (plus `error` on failures). JWT bearer
//! authentication.

mod admin;
mod auth;
mod envelope;
mod handlers;
mod schema;
mod time;
mod two_factor;

pub use time::rfc3339;

use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, web};

use crate::compat::respond::locale_of;
use crate::i18n::Msg;
use crate::input;
use crate::openapi::{Collector, Routes, TrailingSlash};
use crate::{limits, turnstile};
pub use envelope::RestError;

const JSON_LIMIT: usize = 64 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig, doc: &Collector) {
    cfg.service(scope(doc.clone()));
}

/// The `/api/v1` scope with its routes (each at the path and method of its
/// `#[utoipa::path]` annotation, `crate::openapi`), extractor configuration and panic
/// envelope.
pub(crate) fn scope(
    doc: Collector,
) -> actix_web::Scope<
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
    let scope = web::scope("/api/v1")
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
        .default_service(web::to(not_found));
    Routes::new("/api/v1", TrailingSlash::Exact, &doc)
        .op::<handlers::__path_register>(
            web::route()
                .to(handlers::register)
                .wrap(from_fn(turnstile::required))
                .wrap(from_fn(limits::critical_register)),
        )
        .op::<handlers::__path_login>(
            web::route()
                .to(handlers::login)
                .wrap(from_fn(turnstile::required))
                .wrap(from_fn(limits::critical_login)),
        )
        .op::<handlers::__path_login_second_step>(
            web::route()
                .to(handlers::login_second_step)
                .wrap(from_fn(turnstile::required))
                .wrap(from_fn(limits::critical_login)),
        )
        .op::<handlers::__path_refresh>(web::route().to(handlers::refresh))
        .op::<handlers::__path_logout>(web::route().to(handlers::logout))
        .op::<handlers::__path_get_profile>(web::route().to(handlers::get_profile))
        .op::<handlers::__path_update_profile>(web::route().to(handlers::update_profile))
        .op::<handlers::__path_change_password>(web::route().to(handlers::change_password))
        .op::<admin::__path_list_users>(web::route().to(admin::list_users))
        .op::<admin::__path_set_status>(web::route().to(admin::set_status))
        .op::<admin::__path_audit>(web::route().to(admin::audit))
        .op::<two_factor::__path_status>(web::route().to(two_factor::status))
        .op::<two_factor::__path_setup>(web::route().to(two_factor::setup))
        .op::<two_factor::__path_enable>(web::route().to(two_factor::enable))
        .op::<two_factor::__path_disable>(web::route().to(two_factor::disable))
        .op::<two_factor::__path_backup_codes>(web::route().to(two_factor::backup_codes))
        .op::<two_factor::__path_stats>(web::route().to(two_factor::stats))
        .op::<two_factor::__path_admin_reset>(web::route().to(two_factor::admin_reset))
        .into_scope(scope)
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
