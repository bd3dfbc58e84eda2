//! Request shapes that exist only for the OpenAPI document: the handlers of these routes read
//! their input in a looser form (raw JSON, bytes, a map) and check it themselves, with the same
//! rules as written here (the limits come from the domain's value types).

use utoipa::{IntoParams, ToSchema};

/// `?turnstile=`: the Cloudflare Turnstile token, required when root turned the check on
/// (`/api/status` reports `turnstile_check`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct TurnstileQuery {
    pub turnstile: Option<String>,
}

/// `PUT /api/user/self`: either `sidebar_modules` (the console's sidebar, a JSON string), or a
/// new `display_name` and/or `password` with `original_password`. Other fields are ignored.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SelfUpdateBody {
    #[schema(max_length = 20)]
    pub display_name: Option<String>,
    #[schema(min_length = 8, max_length = 128)]
    pub password: Option<String>,
    pub original_password: Option<String>,
    #[schema(max_length = 4096)]
    pub sidebar_modules: Option<String>,
}

/// `DELETE /api/user/self`: the current password, unless the session logged in within the
/// last 10 minutes. The body may be empty.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DeleteSelfBody {
    pub password: Option<String>,
}

/// `PUT /api/user/setting`: the notification settings, and the current `password` when
/// changing where notifications go without a fresh login.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserSettingsBody {
    /// `email`, `webhook`, `bark` or `gotify`.
    pub notify_type: Option<String>,
    pub quota_warning_threshold: Option<f64>,
    #[schema(max_length = 2048)]
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    #[schema(max_length = 254)]
    pub notification_email: Option<String>,
    #[schema(max_length = 2048)]
    pub bark_url: Option<String>,
    #[schema(max_length = 2048)]
    pub gotify_url: Option<String>,
    pub gotify_token: Option<String>,
    pub gotify_priority: Option<i64>,
    pub accept_unset_model_ratio_model: Option<bool>,
    pub record_ip_log: Option<bool>,
    pub password: Option<String>,
}

/// An Epay notification (query or form): signed with the merchant key (MD5 over the sorted
/// fields); anything unsigned or unknown is refused.
#[derive(IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct EpayNotifyQuery {
    pub pid: Option<String>,
    pub trade_no: Option<String>,
    pub out_trade_no: Option<String>,
    #[schema(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    pub name: Option<String>,
    pub money: Option<String>,
    pub trade_status: Option<String>,
    pub sign: Option<String>,
    pub sign_type: Option<String>,
}
