//! The shapes the console reads, as checks on one reply body (console-contract.md).

use serde_json::{Value, json};

use super::checks::{Checks, NOT_FOUND};
use crate::reply::Reply;

/// `{page, page_size, total: 0, items: []}`.
pub fn empty_page(c: &mut Checks<'_>) {
    page_fields(c);
    c.eq("data.items", &json!([]));
    c.eq("data.total", &json!(0));
}

/// New API's 404 JSON: HTTP 404 `{success: false, message: "未找到该接口"}`.
pub fn not_found(c: &mut Checks<'_>, reply: &Reply) {
    if c.envelope(reply, 404, false) {
        c.eq("message", &json!(NOT_FOUND));
    }
}

/// `id`, `username`, `display_name`, `role`, `status` and `group` of a user object.
pub fn user_fields(c: &mut Checks<'_>, at_path: &str) {
    c.int(&format!("{at_path}.id"));
    for f in ["username", "display_name", "group"] {
        c.string(&format!("{at_path}.{f}"));
    }
    c.int(&format!("{at_path}.role"));
    c.int(&format!("{at_path}.status"));
}

/// `{page, page_size, total, items}` of a list.
pub fn page_fields(c: &mut Checks<'_>) {
    for f in ["page", "page_size", "total"] {
        c.int(&format!("data.{f}"));
    }
    c.array("data.items");
}

/// The columns of the redemption table.
pub fn code_fields(c: &mut Checks<'_>, at_path: &str) {
    for f in [
        "id",
        "status",
        "quota",
        "created_time",
        "redeemed_time",
        "used_user_id",
        "expired_time",
    ] {
        c.int(&format!("{at_path}.{f}"));
    }
    c.string(&format!("{at_path}.name"));
    c.string(&format!("{at_path}.key"));
}

/// An array of strings.
pub fn strings(c: &mut Checks<'_>, path: &str) {
    let bad: Vec<String> = c
        .array(path)
        .iter()
        .filter(|v| !v.is_string())
        .map(ToString::to_string)
        .collect();
    if !bad.is_empty() {
        c.fail(format!("{path}: not strings: {bad:?}"));
    }
}

/// `/api/status`: every field of console-contract.md §2 with its type, and the values this
/// replay relies on: set up, and the plain username/password forms (no OAuth chooser, no
/// Turnstile, no e-mail code).
pub fn status_fields(c: &mut Checks<'_>) {
    for f in [
        "system_name",
        "logo",
        "footer_html",
        "version",
        "server_address",
        "docs_link",
        "top_up_link",
        "turnstile_site_key",
        "github_client_id",
        "oidc_client_id",
        "linuxdo_client_id",
        "oidc_authorization_endpoint",
        "wechat_qrcode",
        "telegram_bot_name",
        "data_export_default_time",
    ] {
        c.string(&format!("data.{f}"));
    }
    c.int("data.start_time");
    for f in [
        "quota_per_unit",
        "min_topup",
        "stripe_min_topup",
        "price",
        "usd_exchange_rate",
        "stripe_unit_price",
    ] {
        c.number(&format!("data.{f}"));
    }
    for f in [
        "display_in_currency",
        "enable_online_topup",
        "enable_stripe_topup",
        "enable_drawing",
        "enable_task",
        "enable_data_export",
        "default_collapse_sidebar",
        "mj_notify_enabled",
        "self_use_mode_enabled",
        "demo_site_enabled",
        "default_use_auto_group",
        "api_info_enabled",
        "uptime_kuma_enabled",
        "announcements_enabled",
        "faq_enabled",
        "checkin_enabled",
    ] {
        c.bool(&format!("data.{f}"));
    }
    c.eq("data.setup", &json!(true));
    for f in [
        "email_verification",
        "turnstile_check",
        "github_oauth",
        "oidc_enabled",
        "wechat_login",
        "linuxdo_oauth",
        "telegram_oauth",
    ] {
        c.eq(&format!("data.{f}"), &json!(false));
    }
    c.array("data.chats");
    c.array("data.pay_methods");
}

/// A row of the user table: the user object, the counters the table shows, `DeletedAt`
/// present (rows are greyed unless it is `null`) and no password.
pub fn user_row(c: &mut Checks<'_>, at_path: &str) {
    user_fields(c, at_path);
    for f in [
        "quota",
        "used_quota",
        "aff_count",
        "aff_history_quota",
        "inviter_id",
    ] {
        c.int(&format!("{at_path}.{f}"));
    }
    c.present(&format!("{at_path}.DeletedAt"));
    if super::checks::at(c.body, &format!("{at_path}.password")).is_some_and(|p| p != "") {
        c.fail(format!("{at_path}.password: a password in a user row"));
    }
}

/// `data.setting` is a string `JSON.parse` accepts (or `""`); returns the parsed settings.
pub fn setting(c: &mut Checks<'_>) -> Option<Value> {
    let text = c.string("data.setting")?;
    if text.is_empty() {
        return Some(Value::Null);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v) => Some(v),
        Err(e) => {
            c.fail(format!(
                "data.setting: JSON.parse would throw ({e}) on {text:?}"
            ));
            None
        }
    }
}
