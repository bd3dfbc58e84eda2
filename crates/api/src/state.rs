//! Shared application state: services and ports only. Built once by `startup`.

use std::sync::Arc;

use tollgate_domain::ports::Readiness;
use tollgate_domain::services::{
    AccountService, AdminService, AffiliateService, OptionsService, ProfileService,
    RedemptionService,
};

use crate::i18n::Locale;

pub struct AppState {
    pub accounts: AccountService,
    pub admin: AdminService,
    pub options: OptionsService,
    pub profile: ProfileService,
    pub affiliate: AffiliateService,
    pub redemptions: RedemptionService,
    pub readiness: Arc<dyn Readiness>,
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
    pub quota_display_type: String,
}

#[derive(Debug, Clone, Copy)]
pub struct CookiePolicy {
    pub secure: bool,
    pub max_age_secs: i64,
}
