//! The New API compatible surface, `/api/*` (the behaviour followed is described
//! in docs/newapi-behaviour.md).

mod admin;
pub mod auth;
pub(crate) mod doc;
mod dto;
mod options;
mod redemptions;
pub mod respond;
mod self_service;
mod site;
mod status;
mod topups;
pub(crate) mod two_factor;
mod users;

use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, error, web};

use respond::{CompatError, locale_of};

use crate::input;
use crate::openapi::{Collector, Routes, TrailingSlash};
use crate::{limits, turnstile};

/// Largest JSON body the compat surface accepts.
const JSON_LIMIT: usize = 64 * 1024;

/// Routes under `/api`, each at the path and method of its `#[utoipa::path]` annotation
/// (`crate::openapi`). Every path also answers with its trailing slash toggled: New API's
/// console calls `/api/user/` and `/api/data/self/`, and gin redirects either form.
pub fn configure(cfg: &mut web::ServiceConfig, doc: &Collector) {
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
    // New API's per-address limits (spec §8.1): `GA` on every route, `CT` on the critical
    // ones, counted per route group (`crate::limits`); on login and register, inside `CT`,
    // the Turnstile check (`crate::turnstile`).
    let scope = web::scope("/api").wrap(from_fn(limits::global_api));
    let routes = Routes::new("/api", TrailingSlash::Both, doc)
        .op::<status::__path_status>(web::route().to(status::status))
        // Accounts (spec §3).
        .op::<users::__path_register>(
            web::route()
                .to(users::register)
                .wrap(from_fn(turnstile::required))
                .wrap(from_fn(limits::critical_register)),
        )
        .op::<users::__path_login>(
            web::route()
                .to(users::login)
                .wrap(from_fn(turnstile::required))
                .wrap(from_fn(limits::critical_login)),
        )
        // New API's console sends no Turnstile token here (the password step spent it); the
        // pending login exists only after a checked password step, and its codes are
        // throttled.
        .op::<two_factor::__path_login_second_step>(
            web::route()
                .to(two_factor::login_second_step)
                .wrap(from_fn(limits::critical_login)),
        )
        .op::<users::__path_logout>(web::route().to(users::logout))
        .op::<users::__path_get_self>(web::route().to(users::get_self))
        .op::<self_service::__path_update_self>(web::route().to(self_service::update_self))
        .op::<self_service::__path_delete_self>(web::route().to(self_service::delete_self))
        .op::<users::__path_rotate_token>(web::route().to(users::rotate_token))
        .op::<self_service::__path_update_setting>(web::route().to(self_service::update_setting))
        // Groups and models.
        .op::<self_service::__path_public_groups>(web::route().to(self_service::public_groups))
        .op::<self_service::__path_self_groups>(web::route().to(self_service::self_groups))
        .op::<self_service::__path_models>(web::route().to(self_service::models))
        // Quota: codes and invitations.
        .op::<users::__path_redeem>(
            web::route()
                .to(users::redeem)
                .wrap(from_fn(limits::critical_redeem)),
        )
        .op::<self_service::__path_aff_code>(web::route().to(self_service::aff_code))
        .op::<self_service::__path_aff_transfer>(web::route().to(self_service::aff_transfer))
        // Online top-up (spec §5).
        .op::<topups::__path_list_all>(web::route().to(topups::list_all))
        .op::<topups::__path_list_own>(web::route().to(topups::list_own))
        .op::<topups::__path_complete>(web::route().to(topups::complete))
        .op::<topups::__path_epay_amount>(web::route().to(topups::epay_amount))
        .op::<topups::__path_epay_pay>(
            web::route()
                .to(topups::epay_pay)
                .wrap(from_fn(limits::critical_pay)),
        )
        .op::<topups::__path_stripe_amount>(web::route().to(topups::stripe_amount))
        .op::<topups::__path_stripe_pay>(
            web::route()
                .to(topups::stripe_pay)
                .wrap(from_fn(limits::critical_pay)),
        )
        .op::<topups::__path_epay_notify_get>(web::route().to(topups::epay_notify_get))
        .op::<topups::__path_epay_notify_post>(web::route().to(topups::epay_notify_post))
        .op_with_data::<topups::__path_stripe_webhook, _>(
            web::PayloadConfig::new(topups::WEBHOOK_LIMIT),
            web::route().to(topups::stripe_webhook),
        )
        // Two-factor authentication (spec §6.2).
        .op::<two_factor::__path_status>(web::route().to(two_factor::status))
        .op::<two_factor::__path_setup>(web::route().to(two_factor::setup))
        .op::<two_factor::__path_enable>(web::route().to(two_factor::enable))
        .op::<two_factor::__path_disable>(web::route().to(two_factor::disable))
        .op::<two_factor::__path_backup_codes>(web::route().to(two_factor::backup_codes))
        .op::<two_factor::__path_stats>(web::route().to(two_factor::stats))
        .op::<two_factor::__path_admin_reset>(web::route().to(two_factor::admin_reset))
        // User management (spec §3.18-3.25); `{id}` only matches digits, so `/self` etc.
        // stay distinct.
        .op::<admin::__path_list>(web::route().to(admin::list))
        .op::<admin::__path_create>(web::route().to(admin::create))
        .op::<admin::__path_update>(web::route().to(admin::update))
        .op::<admin::__path_search>(web::route().to(admin::search))
        .op::<admin::__path_manage>(web::route().to(admin::manage))
        .op_at::<admin::__path_get>(r"/api/user/{id:\d+}", web::route().to(admin::get))
        .op_at::<admin::__path_hard_delete>(
            r"/api/user/{id:\d+}",
            web::route().to(admin::hard_delete),
        )
        .op::<admin::__path_groups>(web::route().to(admin::groups))
        // Options (root).
        .op::<options::__path_get>(web::route().to(options::get))
        .op::<options::__path_update>(web::route().to(options::update))
        // Redemption codes; `{id}` only matches digits, so `/search` and `/invalid` stay
        // distinct.
        .op::<redemptions::__path_list>(web::route().to(redemptions::list))
        .op::<redemptions::__path_create>(web::route().to(redemptions::create))
        .op::<redemptions::__path_update>(web::route().to(redemptions::update))
        .op::<redemptions::__path_search>(web::route().to(redemptions::search))
        .op::<redemptions::__path_delete_invalid>(web::route().to(redemptions::delete_invalid))
        .op_at::<redemptions::__path_get>(
            r"/api/redemption/{id:\d+}",
            web::route().to(redemptions::get),
        )
        .op_at::<redemptions::__path_delete>(
            r"/api/redemption/{id:\d+}",
            web::route().to(redemptions::delete),
        )
        // ---- Issue 11 (`site.rs`): the site's pages, first-run setup, and the empty data of
        // modules Tollgate does not have yet. All public: none answers 401. ----
        .op::<site::__path_notice>(web::route().to(site::notice))
        .op::<site::__path_about>(web::route().to(site::about))
        .op::<site::__path_home_page_content>(web::route().to(site::home_page_content))
        .op::<site::__path_setup_status>(web::route().to(site::setup_status))
        .op::<site::__path_setup>(web::route().to(site::setup))
        .op::<site::__path_uptime_status>(web::route().to(site::uptime_status))
        .op::<site::__path_own_usage>(web::route().to(site::own_usage))
        .op::<site::__path_all_usage>(web::route().to(site::all_usage))
        .op::<site::__path_own_logs>(web::route().to(site::own_logs));
    // ---- end of issue 11's block ----
    cfg.app_data(json)
        .app_data(input_errors)
        .app_data(path)
        .app_data(payload)
        .service(routes.into_scope(scope));
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

/// Unknown paths: 404 JSON, never 401 (a 401 logs the console out). The app's default service
/// (`crate::static_files::serve`) gives this answer for every unmatched path the console's
/// files do not serve, `/api/*` always.
pub async fn not_found(req: HttpRequest) -> Result<actix_web::HttpResponse, CompatError> {
    Err(CompatError::not_found(locale_of(&req)))
}
