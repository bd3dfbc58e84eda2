//! The console's site pages and first-run setup (issue 11; spec §7.10), and honest empty
//! answers for data that belongs to modules Tollgate does not have yet.
//!
//! - `GET /api/notice`, `/api/about`, `/api/home_page_content`: the site options `Notice`,
//!   `About`, `HomePageContent` (`data` is a string, empty when unset).
//! - `GET`/`POST /api/setup`: whether a root exists, and creating it once from the console.
//! - `GET /api/uptime/status`, `/api/data/self`, `/api/data/`, `/api/log/self`: always empty.
//!   Usage data comes from metering (issue 13); until then these answer `[]` (or an empty page)
//!   to everyone, logged in or not: there is nothing to protect, and a 401 would log the
//!   console out (console-contract §1).

use actix_web::web;
use serde::Deserialize;
use serde_json::json;
use tollgate_domain::PageRequest;
use tollgate_domain::services::SetupInput;
use tollgate_domain::site::SiteText;

use super::dto::PageBody;
use super::respond::{CompatError, CompatResult, ok, ok_message, refuse};
use crate::client::ClientIp;
use crate::i18n::{Locale, Msg};
use crate::input::{Json, Query};
use crate::openapi::CompatEnvelope;
use crate::state::AppState;

async fn text(state: &AppState, locale: Locale, which: SiteText) -> CompatResult {
    let text = state
        .services
        .site
        .text(which)
        .await
        .map_err(|e| CompatError::internal(&e, locale))?;
    Ok(ok(text))
}

/// `GET /api/notice` (public): the `Notice` option.
#[utoipa::path(
    get,
    path = "/api/notice",
    tag = "compat: site",
    responses((status = 200, description = "`data` is the `Notice` option (a string, empty when unset)", body = CompatEnvelope))
)]
pub async fn notice(state: web::Data<AppState>, locale: Locale) -> CompatResult {
    text(&state, locale, SiteText::Notice).await
}

/// `GET /api/about` (public): the `About` option.
#[utoipa::path(
    get,
    path = "/api/about",
    tag = "compat: site",
    responses((status = 200, description = "`data` is the `About` option (a string, empty when unset)", body = CompatEnvelope))
)]
pub async fn about(state: web::Data<AppState>, locale: Locale) -> CompatResult {
    text(&state, locale, SiteText::About).await
}

/// `GET /api/home_page_content` (public): the `HomePageContent` option.
#[utoipa::path(
    get,
    path = "/api/home_page_content",
    tag = "compat: site",
    responses((status = 200, description = "`data` is the `HomePageContent` option (a string, empty when unset)", body = CompatEnvelope))
)]
pub async fn home_page_content(state: web::Data<AppState>, locale: Locale) -> CompatResult {
    text(&state, locale, SiteText::HomePage).await
}

/// `GET /api/setup` (public): New API's `{status, root_init, database_type}`. `status` and
/// `root_init` are both "a root exists": Tollgate has no setup step besides the root.
#[utoipa::path(
    get,
    path = "/api/setup",
    tag = "compat: site",
    responses((status = 200, description = "`data` is `{status, root_init, database_type}`", body = CompatEnvelope))
)]
pub async fn setup_status(state: web::Data<AppState>, locale: Locale) -> CompatResult {
    let set_up = state
        .services
        .accounts
        .is_set_up()
        .await
        .map_err(|e| CompatError::internal(&e, locale))?;
    Ok(ok(json!({
        "status": set_up,
        "root_init": set_up,
        "database_type": state.info.database_type,
    })))
}

/// The console's setup form (the limits are the domain's: `SETUP_USERNAME_MAX_CHARS`,
/// `Password::MIN_CHARS`/`MAX_CHARS`).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct SetupBody {
    #[schema(max_length = 12)]
    pub username: Option<String>,
    #[schema(min_length = 8, max_length = 128)]
    pub password: Option<String>,
    /// Must equal `password`.
    #[serde(rename = "confirmPassword")]
    pub confirm_password: Option<String>,
    /// Accepted and ignored: Tollgate has no self-use mode (docs/api.md).
    #[serde(rename = "SelfUseModeEnabled")]
    pub self_use_mode_enabled: Option<bool>,
    /// Accepted and ignored: Tollgate has no demo-site mode (docs/api.md).
    #[serde(rename = "DemoSiteEnabled")]
    pub demo_site_enabled: Option<bool>,
}

/// `POST /api/setup` (public while no root exists): creates the root, once.
#[utoipa::path(
    post,
    path = "/api/setup",
    tag = "compat: site",
    request_body = SetupBody,
    responses((status = 200, description = "Root created (`系统初始化成功`), or refused (`系统已经初始化完成` once a root exists)", body = CompatEnvelope))
)]
pub async fn setup(
    ip: ClientIp,
    state: web::Data<AppState>,
    locale: Locale,
    body: Json<SetupBody>,
) -> CompatResult {
    let body = body.into_inner();
    let input = SetupInput {
        username: body.username.unwrap_or_default(),
        password: body.password.unwrap_or_default(),
        confirm_password: body.confirm_password.unwrap_or_default(),
        ip: ip.0,
    };
    state
        .services
        .accounts
        .setup_root(input)
        .await
        .map_err(refuse(locale, &state.info))?;
    Ok(ok_message(Msg::SetupDone.text(locale)))
}

/// `GET /api/uptime/status` (public): no monitors (New API reads them from Uptime Kuma).
#[utoipa::path(
    get,
    path = "/api/uptime/status",
    tag = "compat: usage",
    responses((status = 200, description = "`data` is `[]`: no monitors", body = CompatEnvelope))
)]
pub async fn uptime_status() -> CompatResult {
    Ok(ok(json!([])))
}

/// `GET /api/data/self` (public): the caller's usage statistics; none until metering exists
/// (issue 13).
#[utoipa::path(
    get,
    path = "/api/data/self",
    tag = "compat: usage",
    responses((status = 200, description = "`data` is `[]` until metering exists", body = CompatEnvelope))
)]
pub async fn own_usage() -> CompatResult {
    Ok(ok(json!([])))
}

/// `GET /api/data/` (public): everyone's usage statistics (the admin dashboard); none until
/// metering exists (issue 13).
#[utoipa::path(
    get,
    path = "/api/data/",
    tag = "compat: usage",
    responses((status = 200, description = "`data` is `[]` until metering exists", body = CompatEnvelope))
)]
pub async fn all_usage() -> CompatResult {
    Ok(ok(json!([])))
}

/// The paging parameters of `/api/log/self`; the filters the console adds are ignored.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct LogQuery {
    pub p: Option<i64>,
    pub page_size: Option<i64>,
}

/// `GET /api/log/self?p=&page_size=` (public): New API's page with no items until metering
/// writes usage logs (issue 13).
#[utoipa::path(
    get,
    path = "/api/log/self",
    tag = "compat: usage",
    params(LogQuery),
    responses((status = 200, description = "`data` is `{page, page_size, total: 0, items: []}` until metering exists", body = CompatEnvelope))
)]
pub async fn own_logs(query: Query<LogQuery>) -> CompatResult {
    let request = PageRequest::new(query.p, query.page_size);
    Ok(ok(PageBody::<serde_json::Value> {
        items: Vec::new(),
        total: 0,
        page: request.page(),
        page_size: request.size(),
    }))
}

#[cfg(test)]
mod tests {
    use tollgate_domain::services::SETUP_USERNAME_MAX_CHARS;
    use tollgate_domain::user::Password;

    /// The setup form's schema states the domain's limits (ADR 0019).
    #[test]
    fn the_setup_schema_states_the_domains_limits() {
        let doc = serde_json::to_value(crate::openapi::document()).unwrap();
        let body = &doc["components"]["schemas"]["SetupBody"]["properties"];
        let limit = |field: &str, key: &str| body[field][key].as_u64();
        let chars = |n: usize| u64::try_from(n).ok();
        assert_eq!(
            limit("username", "maxLength"),
            chars(SETUP_USERNAME_MAX_CHARS)
        );
        assert_eq!(limit("password", "minLength"), chars(Password::MIN_CHARS));
        assert_eq!(limit("password", "maxLength"), chars(Password::MAX_CHARS));
        assert!(body.get("confirmPassword").is_some(), "{body}");
        assert!(body.get("SelfUseModeEnabled").is_some(), "{body}");
    }
}
