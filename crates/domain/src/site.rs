//! The site's face (New API's "system settings" the console shows): its name, logo, footer,
//! notice, about and home pages, how quota is displayed and what one unit of quota is worth.
//! Root edits them through the options API under New API's key names; the configuration file
//! gives the initial name, `QuotaPerUnit` and `QuotaDisplayType`.
//!
//! `QuotaPerUnit` and `QuotaDisplayType` are money-relevant: top-up pricing, the smallest
//! invitation transfer and `/api/status` all read the current value from here, never the
//! value the process started with.

use std::sync::Arc;

use rust_decimal::prelude::ToPrimitive as _;
use serde::Deserialize;

use crate::error::RepoError;
use crate::options::{OptionError, OptionsSource, invalid, parse_bool};
use crate::payment::Decimal;

/// How the console renders quota (New API's `QuotaDisplayType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum QuotaDisplay {
    Usd,
    Cny,
    Tokens,
    Custom,
}

impl QuotaDisplay {
    /// New API's spelling (and the configuration's).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Usd => "USD",
            Self::Cny => "CNY",
            Self::Tokens => "TOKENS",
            Self::Custom => "CUSTOM",
        }
    }

    /// One of New API's four values, exactly as spelled there.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Usd, Self::Cny, Self::Tokens, Self::Custom]
            .into_iter()
            .find(|d| d.as_str() == s)
    }

    /// Quota is shown as money (`display_in_currency`); with TOKENS, Epay top-up amounts are
    /// requested in quota units instead of USD.
    pub fn is_currency(self) -> bool {
        self != Self::Tokens
    }
}

/// The longest site name.
pub const MAX_NAME_CHARS: usize = 100;
/// The longest logo or top-up URL.
pub const MAX_URL_CHARS: usize = 2048;
/// The longest footer (HTML).
pub const MAX_FOOTER_CHARS: usize = 8192;
/// The longest notice, about page or home page (Markdown, HTML or a URL).
pub const MAX_CONTENT_CHARS: usize = 32_768;
/// The largest `QuotaPerUnit`.
pub const MAX_QUOTA_PER_UNIT: i64 = 1_000_000_000_000;

/// The site options, under New API's key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSettings {
    /// `SystemName`.
    pub system_name: String,
    /// `Logo`: an http(s) URL or a path on this site (`/logo.png`); empty for none.
    pub logo: String,
    /// `Footer`: HTML the console shows at the bottom of every page (root's own markup).
    pub footer: String,
    /// `Notice`: shown on the home page (Markdown).
    pub notice: String,
    /// `About`: the about page (Markdown, HTML, or a URL the console frames).
    pub about: String,
    /// `HomePageContent`: replaces the default home page (Markdown, HTML, or a URL).
    pub home_page_content: String,
    /// `QuotaPerUnit`: quota units per USD.
    pub quota_per_unit: i64,
    /// `QuotaDisplayType`; `DisplayInCurrencyEnabled` is derived from it.
    pub quota_display: QuotaDisplay,
    /// `TopUpLink`: where the console's "buy" button leads; empty for none.
    pub top_up_link: String,
    /// `DefaultUseAutoGroup`: new tokens use the `auto` group (shown by the console).
    pub default_use_auto_group: bool,
}

impl Default for SiteSettings {
    fn default() -> Self {
        Self {
            system_name: "Tollgate".to_owned(),
            logo: String::new(),
            footer: String::new(),
            notice: String::new(),
            about: String::new(),
            home_page_content: String::new(),
            quota_per_unit: 500_000,
            quota_display: QuotaDisplay::Usd,
            top_up_link: String::new(),
            default_use_auto_group: false,
        }
    }
}

/// The site keys, in display order.
pub const KEYS: [&str; 11] = [
    "SystemName",
    "Logo",
    "Footer",
    "Notice",
    "About",
    "HomePageContent",
    "QuotaPerUnit",
    "QuotaDisplayType",
    DERIVED_KEY,
    "TopUpLink",
    "DefaultUseAutoGroup",
];

/// `DisplayInCurrencyEnabled`: listed and writable, never stored. Writing it sets
/// `QuotaDisplayType` (`false` → TOKENS; `true` → USD unless a currency is already chosen),
/// which is what is stored, as in New API, so the two can never disagree.
pub const DERIVED_KEY: &str = "DisplayInCurrencyEnabled";

/// Text of at most `max` characters; line breaks and tabs only when `multiline`, no other
/// control character.
fn parse_text(key: &str, v: &str, max: usize, multiline: bool) -> Result<String, OptionError> {
    let bad = |c: char| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t'));
    if v.chars().count() > max || v.chars().any(bad) {
        return Err(invalid(
            key,
            format!("must be at most {max} characters without control characters"),
        ));
    }
    Ok(v.to_owned())
}

fn parse_name(key: &str, v: &str) -> Result<String, OptionError> {
    let v = v.trim();
    if v.is_empty() {
        return Err(invalid(key, "must not be empty"));
    }
    parse_text(key, v, MAX_NAME_CHARS, false)
}

/// Empty, or an absolute http(s) URL without credentials.
fn parse_url(key: &str, v: &str) -> Result<String, OptionError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(String::new());
    }
    let spelled_plainly = v.chars().count() <= MAX_URL_CHARS
        && !v
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    match url::Url::parse(v) {
        Ok(u)
            if spelled_plainly
                && matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.username().is_empty()
                && u.password().is_none() =>
        {
            Ok(v.to_owned())
        }
        _ => Err(invalid(
            key,
            format!(
                "must be an http(s) URL without credentials, at most {MAX_URL_CHARS} characters"
            ),
        )),
    }
}

/// Empty, an http(s) URL, or a path on this site (`/logo.png`, not `//host/...`).
fn parse_logo(key: &str, v: &str) -> Result<String, OptionError> {
    let v = v.trim();
    let local_path = v.starts_with('/')
        && !v.starts_with("//")
        && v.chars().count() <= MAX_URL_CHARS
        && !v
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    if local_path {
        return Ok(v.to_owned());
    }
    parse_url(key, v).map_err(|_| {
        invalid(
            key,
            "must be an http(s) URL or a path on this site starting with /",
        )
    })
}

/// A positive whole number of quota units (New API stores a float: `500000.0` is accepted).
fn parse_quota_per_unit(key: &str, v: &str) -> Result<i64, OptionError> {
    v.trim()
        .parse::<Decimal>()
        .ok()
        .filter(|d| d.fract().is_zero())
        .and_then(|d| d.to_i64())
        .filter(|n| (1..=MAX_QUOTA_PER_UNIT).contains(n))
        .ok_or_else(|| {
            invalid(
                key,
                format!("must be a whole number from 1 to {MAX_QUOTA_PER_UNIT}"),
            )
        })
}

fn parse_display(key: &str, v: &str) -> Result<QuotaDisplay, OptionError> {
    QuotaDisplay::parse(v.trim()).ok_or_else(|| invalid(key, "must be USD, CNY, TOKENS or CUSTOM"))
}

impl SiteSettings {
    /// The initial settings from the configuration file, checked by the same rules as a
    /// root's change.
    ///
    /// # Errors
    /// The first value the rules refuse, naming its option key.
    pub fn configured(
        system_name: &str,
        quota_per_unit: i64,
        quota_display: QuotaDisplay,
    ) -> Result<Self, OptionError> {
        let mut s = Self {
            quota_display,
            ..Self::default()
        };
        s.try_set("SystemName", system_name)?;
        s.try_set("QuotaPerUnit", &quota_per_unit.to_string())?;
        Ok(s)
    }

    fn try_set(&mut self, key: &str, value: &str) -> Result<(), OptionError> {
        self.set(key, value)
            .unwrap_or_else(|| Err(OptionError::UnknownKey(key.to_owned())))
    }

    /// The value of every key as text, in [`KEYS`] order (none is a secret).
    pub fn to_map(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SystemName", self.system_name.clone()),
            ("Logo", self.logo.clone()),
            ("Footer", self.footer.clone()),
            ("Notice", self.notice.clone()),
            ("About", self.about.clone()),
            ("HomePageContent", self.home_page_content.clone()),
            ("QuotaPerUnit", self.quota_per_unit.to_string()),
            ("QuotaDisplayType", self.quota_display.as_str().to_owned()),
            (DERIVED_KEY, self.quota_display.is_currency().to_string()),
            ("TopUpLink", self.top_up_link.clone()),
            (
                "DefaultUseAutoGroup",
                self.default_use_auto_group.to_string(),
            ),
        ]
    }

    /// What is stored: [`Self::to_map`] without the derived key.
    pub fn to_storage_map(&self) -> Vec<(&'static str, String)> {
        let mut map = self.to_map();
        map.retain(|(k, _)| *k != DERIVED_KEY);
        map
    }

    /// Applies one site key; `None` when `key` is not one. `self` is unchanged on error.
    pub fn set(&mut self, key: &str, value: &str) -> Option<Result<(), OptionError>> {
        let outcome = match key {
            "SystemName" => parse_name(key, value).map(|v| self.system_name = v),
            "Logo" => parse_logo(key, value).map(|v| self.logo = v),
            "Footer" => parse_text(key, value, MAX_FOOTER_CHARS, true).map(|v| self.footer = v),
            "Notice" => parse_text(key, value, MAX_CONTENT_CHARS, true).map(|v| self.notice = v),
            "About" => parse_text(key, value, MAX_CONTENT_CHARS, true).map(|v| self.about = v),
            "HomePageContent" => {
                parse_text(key, value, MAX_CONTENT_CHARS, true).map(|v| self.home_page_content = v)
            }
            "QuotaPerUnit" => parse_quota_per_unit(key, value).map(|v| self.quota_per_unit = v),
            "QuotaDisplayType" => parse_display(key, value).map(|v| self.quota_display = v),
            DERIVED_KEY => parse_bool(key, value).map(|currency| {
                if !currency {
                    self.quota_display = QuotaDisplay::Tokens;
                } else if !self.quota_display.is_currency() {
                    self.quota_display = QuotaDisplay::Usd;
                }
            }),
            "TopUpLink" => parse_url(key, value).map(|v| self.top_up_link = v),
            "DefaultUseAutoGroup" => {
                parse_bool(key, value).map(|v| self.default_use_auto_group = v)
            }
            _ => return None,
        };
        Some(outcome)
    }
}

/// One of the site's long texts, each served by its own public route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteText {
    /// `GET /api/notice`.
    Notice,
    /// `GET /api/about`.
    About,
    /// `GET /api/home_page_content`.
    HomePage,
}

/// What `/api/status` shows of the site options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteStatus {
    pub system_name: String,
    pub logo: String,
    pub footer: String,
    /// `ServerAddress` (a payment option); empty when root has not set one.
    pub server_address: String,
    pub quota_per_unit: i64,
    pub quota_display: QuotaDisplay,
    pub top_up_link: String,
    pub default_use_auto_group: bool,
}

/// Reads the site options for the public routes.
pub struct SiteService {
    options: Arc<dyn OptionsSource>,
}

impl SiteService {
    pub fn new(options: Arc<dyn OptionsSource>) -> Self {
        Self { options }
    }

    /// The site options in force now.
    pub async fn settings(&self) -> Result<SiteSettings, RepoError> {
        Ok(self.options.current().await?.site)
    }

    /// What `/api/status` shows, read once.
    pub async fn status(&self) -> Result<SiteStatus, RepoError> {
        let o = self.options.current().await?;
        let s = o.site;
        Ok(SiteStatus {
            system_name: s.system_name,
            logo: s.logo,
            footer: s.footer,
            server_address: o.payments.server_address,
            quota_per_unit: s.quota_per_unit,
            quota_display: s.quota_display,
            top_up_link: s.top_up_link,
            default_use_auto_group: s.default_use_auto_group,
        })
    }

    /// One of the long texts, as root wrote it (empty when unset).
    pub async fn text(&self, which: SiteText) -> Result<String, RepoError> {
        let s = self.settings().await?;
        Ok(match which {
            SiteText::Notice => s.notice,
            SiteText::About => s.about,
            SiteText::HomePage => s.home_page_content,
        })
    }
}

#[cfg(test)]
mod tests;
