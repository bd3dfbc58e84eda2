//! The REST surface, `/api/v1/*` (seed 003): real HTTP status codes and the envelope
//! `{code, message, data, timestamp}` (plus `error` on failures). JWT bearer authentication.

mod admin;
mod auth;
mod envelope;
mod handlers;
mod time;

pub use time::rfc3339;

use actix_web::{HttpRequest, web};

use crate::compat::respond::locale_of;
use crate::i18n::Msg;
pub use envelope::RestError;

const JSON_LIMIT: usize = 64 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let json = web::JsonConfig::default()
        .limit(JSON_LIMIT)
        .error_handler(|err, req| bad_request(&err, req));
    cfg.service(
        web::scope("/api/v1")
            .app_data(json)
            .app_data(web::QueryConfig::default().error_handler(|err, req| bad_request(&err, req)))
            .app_data(web::PathConfig::default().error_handler(|_, req| {
                RestError::new(
                    actix_web::http::StatusCode::NOT_FOUND,
                    Msg::RestNotFound,
                    locale_of(req),
                    "no such resource",
                )
                .into()
            }))
            .route("/auth/register", web::post().to(handlers::register))
            .route("/auth/login", web::post().to(handlers::login))
            .route("/auth/refresh", web::post().to(handlers::refresh))
            .route("/auth/logout", web::post().to(handlers::logout))
            .route("/users/profile", web::get().to(handlers::get_profile))
            .route("/users/profile", web::put().to(handlers::update_profile))
            .route("/users/password", web::put().to(handlers::change_password))
            .route("/admin/users", web::get().to(admin::list_users))
            .route("/admin/users/{id}/status", web::put().to(admin::set_status))
            .route("/admin/audit", web::get().to(admin::audit))
            .default_service(web::to(not_found)),
    );
}

fn bad_request(err: &dyn std::fmt::Display, req: &HttpRequest) -> actix_web::Error {
    RestError::bad_request(locale_of(req), err.to_string()).into()
}

async fn not_found(req: HttpRequest) -> Result<actix_web::HttpResponse, RestError> {
    Err(RestError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        Msg::RestNotFound,
        locale_of(&req),
        "no such endpoint",
    ))
}
