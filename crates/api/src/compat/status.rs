//! `GET /api/status`: what the console needs to boot (docs/newapi-behaviour.md §10).

use actix_web::{HttpRequest, web};
use serde_json::json;

use super::respond::{CompatError, CompatResult, locale_of, ok};
use crate::openapi::CompatEnvelope;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/api/status",
    tag = "compat: site",
    responses((status = 200, description = "`data` is what the console needs to start", body = CompatEnvelope))
)]
pub async fn status(state: web::Data<AppState>, req: HttpRequest) -> CompatResult {
    let setup = state
        .services
        .accounts
        .is_set_up()
        .await
        .map_err(|e| CompatError::internal(&e, locale_of(&req)))?;
    let policy = state
        .services
        .accounts
        .policy()
        .await
        .map_err(|e| CompatError::internal(&e, locale_of(&req)))?;
    let pay = state
        .services
        .topups
        .status()
        .await
        .map_err(|e| CompatError::internal(&e, locale_of(&req)))?;
    let turnstile = state
        .services
        .human
        .status()
        .await
        .map_err(|e| CompatError::internal(&e, locale_of(&req)))?;
    // The site options (issue 11): root edits them through `PUT /api/option/`.
    let site = state
        .services
        .site
        .status()
        .await
        .map_err(|e| CompatError::internal(&e, locale_of(&req)))?;
    let number = tollgate_domain::payment::display_number;
    let info = &state.info;
    let server_address = if site.server_address.is_empty() {
        &info.server_address
    } else {
        &site.server_address
    };
    Ok(ok(json!({
        "system_name": site.system_name,
        "logo": site.logo,
        "footer_html": site.footer,
        "version": info.version,
        "start_time": info.start_time,
        "server_address": server_address,
        "docs_link": "",
        "setup": setup,
        "quota_per_unit": site.quota_per_unit,
        "quota_display_type": site.quota_display.as_str(),
        "display_in_currency": site.quota_display.is_currency(),
        "register_enabled": policy.register_enabled,
        "password_register_enabled": policy.password_register_enabled,
        "password_login_enabled": policy.password_login_enabled,
        // The console shows the Turnstile widget and sends `?turnstile=` when this is on.
        "turnstile_check": turnstile.enabled,
        "turnstile_site_key": turnstile.site_key,
        // Features that are not built yet report themselves as off, so the console hides them.
        "email_verification": false,
        "github_oauth": false,
        "github_client_id": "",
        "discord_oauth": false,
        "discord_client_id": "",
        "oidc_enabled": false,
        "oidc_client_id": "",
        "oidc_authorization_endpoint": "",
        "linuxdo_oauth": false,
        "linuxdo_client_id": "",
        "linuxdo_minimum_trust_level": 0,
        "telegram_oauth": false,
        "telegram_bot_name": "",
        "wechat_login": false,
        "wechat_qrcode": "",
        "passkey_login": false,
        "enable_online_topup": pay.epay_enabled,
        "enable_stripe_topup": pay.stripe_enabled,
        "pay_methods": if pay.epay_enabled { pay.pay_methods } else { Vec::new() },
        "min_topup": pay.min_topup,
        "stripe_min_topup": pay.stripe_min_topup,
        "price": number(pay.price),
        "usd_exchange_rate": number(pay.price),
        "stripe_unit_price": number(pay.stripe_unit_price),
        "amount_options": pay.amount_options,
        "amount_discount": pay.amount_discount.iter().map(|(k, v)| (k.to_string(), number(*v))).collect::<std::collections::BTreeMap<_, _>>(),
        "top_up_link": site.top_up_link,
        "chats": [],
        "checkin_enabled": false,
        "enable_drawing": false,
        "enable_task": false,
        "enable_data_export": false,
        "data_export_default_time": "hour",
        "default_collapse_sidebar": false,
        "mj_notify_enabled": false,
        "self_use_mode_enabled": false,
        "demo_site_enabled": false,
        "default_use_auto_group": site.default_use_auto_group,
        "api_info_enabled": false,
        "uptime_kuma_enabled": false,
        "announcements_enabled": false,
        "faq_enabled": false,
    })))
}
