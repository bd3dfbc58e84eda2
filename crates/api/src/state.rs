//! Shared application state: services and ports only. Built once by `startup`.

use crate::config::QuotaDisplay;
use crate::i18n::Locale;
use crate::startup::Services;

pub struct AppState {
    /// The instance's services, as `startup` built them.
    pub services: Services,
    pub info: InstanceInfo,
    pub cookie: CookiePolicy,
    pub default_locale: Locale,
}

/// Facts `/api/status` reports.
#[derive(Debug, Clone)]
pub struct InstanceInfo {
    pub system_name: String,
    pub server_address: String,
    pub version: &'static str,
    pub start_time: i64,
    pub quota_per_unit: i64,
    pub quota_display_type: QuotaDisplay,
}

#[derive(Debug, Clone, Copy)]
pub struct CookiePolicy {
    pub secure: bool,
    pub max_age_secs: i64,
}
