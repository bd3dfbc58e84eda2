//! Shared application state: services and ports only. Built once by `startup`.

use tollgate_domain::RepoError;

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

/// Facts `/api/status` and the refusals report.
#[derive(Debug, Clone)]
pub struct InstanceInfo {
    pub system_name: String,
    /// The configured public base URL (`/api/status` shows the `ServerAddress` option
    /// instead once root sets one).
    pub server_address: String,
    pub version: &'static str,
    pub start_time: i64,
    /// The configured `QuotaPerUnit` and `QuotaDisplayType`. Both are runtime options: a
    /// reply that shows a quota reads the current ones ([`AppState::info_now`]).
    pub quota_per_unit: i64,
    pub quota_display_type: QuotaDisplay,
    /// `sqlite`, `postgres` or `mysql` (the first-run setup page shows it).
    pub database_type: &'static str,
}

impl AppState {
    /// [`Self::info`] with the quota unit and display in force now, for messages that show a
    /// quota amount.
    pub async fn info_now(&self) -> Result<InstanceInfo, RepoError> {
        let site = self.services.site.settings().await?;
        Ok(InstanceInfo {
            quota_per_unit: site.quota_per_unit,
            quota_display_type: site.quota_display,
            ..self.info.clone()
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct CookiePolicy {
    pub secure: bool,
    pub max_age_secs: i64,
}
