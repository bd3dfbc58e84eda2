//! The New API compatible surface, `/api/*` (the behaviour followed is described
//! in docs/newapi-behaviour.md).

mod admin;
pub mod auth;
mod dto;
mod options;
mod redemptions;
pub mod respond;
mod self_service;
mod status;
mod topups;
pub(crate) mod two_factor;
mod users;

use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, error, web};

use respond::{CompatError, locale_of};

use crate::input;
use crate::{limits, turnstile};

/// Largest JSON body the compat surface accepts.
const JSON_LIMIT: usize = 64 * 1024;

/// Routes under `/api`. Paths the console calls with a trailing slash accept both forms.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // Bodies, queries and paths go through `crate::input` (control characters refused,
    // authentication first); its errors, and the JSON reader's, answer "invalid parameters".
    let json = web::JsonConfig::default()
        .limit(JSON_LIMIT)
        .error_handler(|err, req| input::reject(&input::InputError::from_payload(&err), req));
    let input_errors =
        input::InputErrorHandler(|err: &input::InputError, req: &HttpRequest| bad_input(err, req));
    let path = web::PathConfig::default()
        .error_handler(|_, req| CompatError::not_found(locale_of(req)).into());
    // Raw bodies (routes that read an optional `password`) get the same ceiling.
    let payload = web::PayloadConfig::new(JSON_LIMIT);
    cfg.app_data(json)
        .app_data(input_errors)
        .app_data(path)
        .app_data(payload)
        .service(
            web::scope("/api")
                // New API's per-address limits (spec §8.1): `GA` on every route, `CT` on the
                // critical ones, counted per route group (`crate::limits`); on login and
                // register, inside `CT`, the Turnstile check (`crate::turnstile`).
                .wrap(from_fn(limits::global_api))
                .route("/status", web::get().to(status::status))
                .service(
                    web::scope("/user")
                        // Admin routes; `{id}` only matches digits, so `/self` etc. stay distinct.
                        .route("", web::get().to(admin::list))
                        .route("/", web::get().to(admin::list))
                        .route("/", web::post().to(admin::create))
                        .route("", web::post().to(admin::create))
                        .route("/", web::put().to(admin::update))
                        .route("", web::put().to(admin::update))
                        .route("/search", web::get().to(admin::search))
                        .route("/manage", web::post().to(admin::manage))
                        .route("/{id:\\d+}", web::get().to(admin::get))
                        .route("/{id:\\d+}", web::delete().to(admin::hard_delete))
                        .route("/groups", web::get().to(self_service::public_groups))
                        .route(
                            "/register",
                            web::post()
                                .to(users::register)
                                .wrap(from_fn(turnstile::required))
                                .wrap(from_fn(limits::critical_register)),
                        )
                        .route(
                            "/login",
                            web::post()
                                .to(users::login)
                                .wrap(from_fn(turnstile::required))
                                .wrap(from_fn(limits::critical_login)),
                        )
                        // New API's console sends no Turnstile token here (the password step
                        // spent it); the pending login exists only after a checked password
                        // step, and its codes are throttled.
                        .route(
                            "/login/2fa",
                            web::post()
                                .to(two_factor::login_second_step)
                                .wrap(from_fn(limits::critical_login)),
                        )
                        .route("/logout", web::get().to(users::logout))
                        .route("/self", web::get().to(users::get_self))
                        .route("/self", web::put().to(self_service::update_self))
                        .route("/self", web::delete().to(self_service::delete_self))
                        .route("/self/groups", web::get().to(self_service::self_groups))
                        .route("/models", web::get().to(self_service::models))
                        .route("/aff", web::get().to(self_service::aff_code))
                        .route("/aff_transfer", web::post().to(self_service::aff_transfer))
                        .route("/setting", web::put().to(self_service::update_setting))
                        .route("/token", web::get().to(users::rotate_token))
                        .route(
                            "/topup",
                            web::post()
                                .to(users::redeem)
                                .wrap(from_fn(limits::critical_redeem)),
                        )
                        .route("/topup", web::get().to(topups::list_all))
                        .route("/topup/self", web::get().to(topups::list_own))
                        .route("/topup/complete", web::post().to(topups::complete))
                        .route("/amount", web::post().to(topups::epay_amount))
                        .route(
                            "/pay",
                            web::post()
                                .to(topups::epay_pay)
                                .wrap(from_fn(limits::critical_pay)),
                        )
                        .route("/stripe/amount", web::post().to(topups::stripe_amount))
                        .route(
                            "/stripe/pay",
                            web::post()
                                .to(topups::stripe_pay)
                                .wrap(from_fn(limits::critical_pay)),
                        )
                        .route("/epay/notify", web::get().to(topups::epay_notify_get))
                        .route("/epay/notify", web::post().to(topups::epay_notify_post))
                        // Two-factor authentication (spec §6.2).
                        .route("/2fa/status", web::get().to(two_factor::status))
                        .route("/2fa/setup", web::post().to(two_factor::setup))
                        .route("/2fa/enable", web::post().to(two_factor::enable))
                        .route("/2fa/disable", web::post().to(two_factor::disable))
                        .route(
                            "/2fa/backup_codes",
                            web::post().to(two_factor::backup_codes),
                        )
                        .route("/2fa/stats", web::get().to(two_factor::stats))
                        .route("/{id}/2fa", web::delete().to(two_factor::admin_reset)),
                )
                .service(
                    resource(["/stripe/webhook"])
                        .app_data(web::PayloadConfig::new(topups::WEBHOOK_LIMIT))
                        .route(web::post().to(topups::stripe_webhook)),
                )
                .service(resource(["/group", "/group/"]).route(web::get().to(admin::groups)))
                .service(
                    resource(["/option", "/option/"])
                        .route(web::get().to(options::get))
                        .route(web::put().to(options::update)),
                )
                .service(
                    resource(["/redemption", "/redemption/"])
                        .route(web::get().to(redemptions::list))
                        .route(web::post().to(redemptions::create))
                        .route(web::put().to(redemptions::update)),
                )
                // Code management; `{id}` only matches digits, so `/search` and `/invalid`
                // stay distinct. The console deletes with a trailing slash.
                .service(
                    resource(["/redemption/search", "/redemption/search/"])
                        .route(web::get().to(redemptions::search)),
                )
                .service(
                    resource(["/redemption/invalid", "/redemption/invalid/"])
                        .route(web::delete().to(redemptions::delete_invalid)),
                )
                .service(
                    resource(["/redemption/{id:\\d+}", "/redemption/{id:\\d+}/"])
                        .route(web::get().to(redemptions::get))
                        .route(web::delete().to(redemptions::delete)),
                ),
        );
}

/// A resource whose unlisted methods answer New API's 404 JSON, like an unknown path. Without
/// it actix answers an empty 405, which the console shows as "本站仅作演示之用，无服务端！".
fn resource<const N: usize>(paths: [&'static str; N]) -> actix_web::Resource {
    web::resource(paths.to_vec()).default_service(web::to(not_found))
}

fn bad_input(err: impl std::fmt::Display, req: &HttpRequest) -> actix_web::Error {
    tracing::debug!(error = %err, "rejected request body or query");
    let locale = locale_of(req);
    error::InternalError::from_response(
        "invalid input",
        actix_web::ResponseError::error_response(&users::json_error(locale)),
    )
    .into()
}

/// Unknown paths: 404 JSON, never 401 (a 401 logs the console out). Registered as the app's
/// default service, so nested scopes fall back to it too.
pub async fn not_found(req: HttpRequest) -> Result<actix_web::HttpResponse, CompatError> {
    Err(CompatError::not_found(locale_of(&req)))
}
