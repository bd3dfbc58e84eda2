//! The user's `setting` JSON (docs/newapi-behaviour.md §2.2): validation of the console's sidebar
//! layout (docs/newapi-behaviour.md §5.2, §11.8) and the notification-settings update
//! (docs/newapi-behaviour.md §5.7, §11.7, §11.10).

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::ports::HostResolver;
use crate::public_url::{UrlRejection, check_public_http_url, stored_form};
use crate::user::NotificationEmail;

/// Largest `sidebar_modules` document, in bytes.
pub const MAX_SIDEBAR_BYTES: usize = 4096;
/// Most sections in a sidebar document.
pub const MAX_SIDEBAR_SECTIONS: usize = 16;
/// Most entries in one sidebar section.
pub const MAX_SIDEBAR_ENTRIES: usize = 32;
/// Longest sidebar key, in bytes (keys are `[a-z_]`).
pub const MAX_SIDEBAR_KEY_LEN: usize = 32;
/// The Gotify priority used when the requested one is outside 0..=10.
pub const DEFAULT_GOTIFY_PRIORITY: i64 = 5;

/// Why a sidebar document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SidebarError {
    #[error("the sidebar configuration must be at most {max} bytes", max = MAX_SIDEBAR_BYTES)]
    TooLarge,
    #[error("the sidebar configuration is not valid json")]
    NotJson,
    #[error("the sidebar configuration must be a json object")]
    NotAnObject,
    #[error("the sidebar configuration has more than {max} sections", max = MAX_SIDEBAR_SECTIONS)]
    TooManySections,
    #[error("sidebar keys must be 1 to {max} characters from a-z and _", max = MAX_SIDEBAR_KEY_LEN)]
    InvalidKey,
    #[error("each sidebar section must be a json object")]
    SectionNotAnObject,
    #[error("a sidebar section has more than {max} entries", max = MAX_SIDEBAR_ENTRIES)]
    TooManyEntries,
    #[error("sidebar entries must be true or false")]
    EntryNotBoolean,
}

/// Validates the `sidebar_modules` string the console stores through `PUT /api/user/self`:
/// an object of at most [`MAX_SIDEBAR_SECTIONS`] sections, each an object of at most
/// [`MAX_SIDEBAR_ENTRIES`] booleans, every key matching `[a-z_]{1,32}`, the whole at most
/// [`MAX_SIDEBAR_BYTES`] bytes. Returns the document re-serialised compactly (key order
/// kept), which is what should be stored.
///
/// # Errors
/// The first rule broken, as a [`SidebarError`].
pub fn validate_sidebar_modules(raw: &str) -> Result<String, SidebarError> {
    if raw.len() > MAX_SIDEBAR_BYTES {
        return Err(SidebarError::TooLarge);
    }
    let value: Value = serde_json::from_str(raw).map_err(|_| SidebarError::NotJson)?;
    let Value::Object(sections) = &value else {
        return Err(SidebarError::NotAnObject);
    };
    if sections.len() > MAX_SIDEBAR_SECTIONS {
        return Err(SidebarError::TooManySections);
    }
    for (section, entries) in sections {
        check_sidebar_key(section)?;
        let Value::Object(entries) = entries else {
            return Err(SidebarError::SectionNotAnObject);
        };
        if entries.len() > MAX_SIDEBAR_ENTRIES {
            return Err(SidebarError::TooManyEntries);
        }
        for (key, enabled) in entries {
            check_sidebar_key(key)?;
            if !enabled.is_boolean() {
                return Err(SidebarError::EntryNotBoolean);
            }
        }
    }
    Ok(value.to_string())
}

fn check_sidebar_key(key: &str) -> Result<(), SidebarError> {
    let ok = (1..=MAX_SIDEBAR_KEY_LEN).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(SidebarError::InvalidKey)
    }
}

/// The notification channels of docs/newapi-behaviour.md §5.7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyType {
    Email,
    Webhook,
    Bark,
    Gotify,
}

impl NotifyType {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "email" => Some(Self::Email),
            "webhook" => Some(Self::Webhook),
            "bark" => Some(Self::Bark),
            "gotify" => Some(Self::Gotify),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Webhook => "webhook",
            Self::Bark => "bark",
            Self::Gotify => "gotify",
        }
    }
}

/// The body of `PUT /api/user/setting` (docs/newapi-behaviour.md §5.7). `None` means "not sent".
///
/// `Debug` redacts `webhook_secret` and `gotify_token`.
#[derive(Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NotificationSettingsInput {
    pub notify_type: Option<String>,
    pub quota_warning_threshold: Option<f64>,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    pub notification_email: Option<String>,
    pub bark_url: Option<String>,
    pub gotify_url: Option<String>,
    pub gotify_token: Option<String>,
    pub gotify_priority: Option<i64>,
    pub accept_unset_model_ratio_model: Option<bool>,
    pub record_ip_log: Option<bool>,
}

impl std::fmt::Debug for NotificationSettingsInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("NotificationSettingsInput")
            .field("notify_type", &self.notify_type)
            .field("quota_warning_threshold", &self.quota_warning_threshold)
            .field("webhook_url", &self.webhook_url)
            .field("webhook_secret", &redact(&self.webhook_secret))
            .field("notification_email", &self.notification_email)
            .field("bark_url", &self.bark_url)
            .field("gotify_url", &self.gotify_url)
            .field("gotify_token", &redact(&self.gotify_token))
            .field("gotify_priority", &self.gotify_priority)
            .field(
                "accept_unset_model_ratio_model",
                &self.accept_unset_model_ratio_model,
            )
            .field("record_ip_log", &self.record_ip_log)
            .finish()
    }
}

/// Why a notification-settings update was refused; one variant per message of
/// docs/newapi-behaviour.md §5.7, plus [`SettingsError::UrlForbidden`] for the SSRF guard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// `无效的预警类型`
    #[error("the notification type must be email, webhook, bark or gotify")]
    InvalidNotifyType,
    /// `预警阈值必须大于0`; also a missing, NaN or infinite threshold.
    #[error("the warning threshold must be greater than 0")]
    ThresholdNotPositive,
    /// `Webhook地址不能为空`
    #[error("the webhook url cannot be empty")]
    WebhookUrlEmpty,
    /// `无效的Webhook地址`; also a non-http(s) webhook url.
    #[error("the webhook url is invalid")]
    WebhookUrlInvalid,
    /// `无效的邮箱地址`
    #[error("the email address is invalid")]
    EmailInvalid,
    /// `Bark推送URL不能为空`
    #[error("the bark url cannot be empty")]
    BarkUrlEmpty,
    /// `无效的Bark推送URL`
    #[error("the bark url is invalid")]
    BarkUrlInvalid,
    /// `Bark推送URL必须以http://或https://开头`
    #[error("the bark url must start with http:// or https://")]
    BarkUrlScheme,
    /// `Gotify服务器地址不能为空`
    #[error("the gotify server url cannot be empty")]
    GotifyUrlEmpty,
    /// `Gotify令牌不能为空`
    #[error("the gotify token cannot be empty")]
    GotifyTokenEmpty,
    /// `无效的Gotify服务器地址`
    #[error("the gotify server url is invalid")]
    GotifyUrlInvalid,
    /// `Gotify服务器地址必须以http://或https://开头`
    #[error("the gotify server url must start with http:// or https://")]
    GotifyUrlScheme,
    /// The url points to a private or reserved address, or its host does not resolve.
    #[error("the url must point to a public address")]
    UrlForbidden,
    /// The url is spelled in a way parsers read differently (issue 7.5).
    #[error(
        "the url must not contain user info (@), backslashes, whitespace, control characters \
         or percent-encoding in the host"
    )]
    UrlAmbiguous,
}

// Keys of the setting object that `PUT /api/user/setting` owns.
const NOTIFY_TYPE: &str = "notify_type";
const THRESHOLD: &str = "quota_warning_threshold";
const WEBHOOK_URL: &str = "webhook_url";
const WEBHOOK_SECRET: &str = "webhook_secret";
const NOTIFICATION_EMAIL: &str = "notification_email";
const BARK_URL: &str = "bark_url";
const GOTIFY_URL: &str = "gotify_url";
const GOTIFY_TOKEN: &str = "gotify_token";
const GOTIFY_PRIORITY: &str = "gotify_priority";
const ACCEPT_UNSET_RATIO: &str = "accept_unset_model_ratio_model";
const RECORD_IP_LOG: &str = "record_ip_log";

/// Applies `PUT /api/user/setting` to the stored `setting` JSON `current` and returns the new JSON
/// string. Validation follows docs/newapi-behaviour.md §5.7, in its order; every URL must also pass
/// [`check_public_http_url`].
///
/// Unlike New API (docs/newapi-behaviour.md §11.7), the result starts from the current object, so
/// keys this request does not own (`sidebar_modules`, `language`, anything unknown) are kept; an
/// unreadable or non-object `current` counts as `{}`. Then:
/// - `notify_type` and `quota_warning_threshold` are replaced.
/// - Only the chosen channel's fields are stored; the other channels' `webhook_url`,
///   `webhook_secret`, `notification_email`, `bark_url`, `gotify_url` and `gotify_token`
///   are removed. **That is how a user clears a secret: switch to another channel.**
/// - `webhook_secret` and `gotify_token` keep their stored value when the request omits
///   them or sends `""`, so the console need not echo secrets back. A Gotify token is
///   required, but a stored one satisfies the requirement.
/// - URLs are stored in the normalised form that was checked ([`stored_form`]), never as
///   sent; Bark's `{{title}}` placeholders stay braces.
/// - `gotify_priority` is always present: the requested value for Gotify (outside 0..=10
///   becomes 5; omitted keeps the stored value if valid, else 0), and 0 for other channels.
/// - The booleans are set when sent (`false` removes the key, as New API omits empty
///   values) and kept when omitted.
///
/// # Errors
/// See [`SettingsError`].
pub async fn apply_notification_settings(
    current: &str,
    input: NotificationSettingsInput,
    resolver: &dyn HostResolver,
) -> Result<String, SettingsError> {
    let notify_type = input
        .notify_type
        .as_deref()
        .and_then(NotifyType::parse)
        .ok_or(SettingsError::InvalidNotifyType)?;
    let threshold = input
        .quota_warning_threshold
        .filter(|t| t.is_finite() && *t > 0.0)
        .ok_or(SettingsError::ThresholdNotPositive)?;

    let mut setting = match serde_json::from_str::<Value>(current) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let stored = |setting: &Map<String, Value>, key: &str| {
        setting
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };

    let mut channel: Vec<(&str, Value)> = Vec::new();
    match notify_type {
        NotifyType::Webhook => {
            let url = non_empty(input.webhook_url).ok_or(SettingsError::WebhookUrlEmpty)?;
            let url = check_channel_url(
                &url,
                resolver,
                SettingsError::WebhookUrlInvalid,
                SettingsError::WebhookUrlInvalid,
            )
            .await?;
            channel.push((WEBHOOK_URL, Value::String(url)));
            let secret =
                non_empty(input.webhook_secret).or_else(|| stored(&setting, WEBHOOK_SECRET));
            if let Some(secret) = secret {
                channel.push((WEBHOOK_SECRET, Value::String(secret)));
            }
        }
        NotifyType::Email => {
            if let Some(email) = non_empty(input.notification_email) {
                let email =
                    NotificationEmail::parse(&email).map_err(|_| SettingsError::EmailInvalid)?;
                channel.push((NOTIFICATION_EMAIL, Value::String(email.to_string())));
            }
        }
        NotifyType::Bark => {
            let url = non_empty(input.bark_url).ok_or(SettingsError::BarkUrlEmpty)?;
            let url = check_channel_url(
                &url,
                resolver,
                SettingsError::BarkUrlInvalid,
                SettingsError::BarkUrlScheme,
            )
            .await?;
            channel.push((BARK_URL, Value::String(url)));
        }
        NotifyType::Gotify => {
            let url = non_empty(input.gotify_url).ok_or(SettingsError::GotifyUrlEmpty)?;
            let token = non_empty(input.gotify_token)
                .or_else(|| stored(&setting, GOTIFY_TOKEN))
                .ok_or(SettingsError::GotifyTokenEmpty)?;
            let url = check_channel_url(
                &url,
                resolver,
                SettingsError::GotifyUrlInvalid,
                SettingsError::GotifyUrlScheme,
            )
            .await?;
            channel.push((GOTIFY_URL, Value::String(url)));
            channel.push((GOTIFY_TOKEN, Value::String(token)));
        }
    }

    let priority = match (notify_type, input.gotify_priority) {
        (NotifyType::Gotify, Some(p)) if (0..=10).contains(&p) => p,
        (NotifyType::Gotify, Some(_)) => DEFAULT_GOTIFY_PRIORITY,
        (NotifyType::Gotify, None) => setting
            .get(GOTIFY_PRIORITY)
            .and_then(Value::as_i64)
            .filter(|p| (0..=10).contains(p))
            .unwrap_or(0),
        _ => 0,
    };

    for key in [
        WEBHOOK_URL,
        WEBHOOK_SECRET,
        NOTIFICATION_EMAIL,
        BARK_URL,
        GOTIFY_URL,
        GOTIFY_TOKEN,
    ] {
        setting.remove(key);
    }
    setting.insert(
        NOTIFY_TYPE.to_owned(),
        Value::String(notify_type.as_str().to_owned()),
    );
    setting.insert(THRESHOLD.to_owned(), Value::from(threshold));
    for (key, value) in channel {
        setting.insert(key.to_owned(), value);
    }
    setting.insert(GOTIFY_PRIORITY.to_owned(), Value::from(priority));
    for (key, flag) in [
        (ACCEPT_UNSET_RATIO, input.accept_unset_model_ratio_model),
        (RECORD_IP_LOG, input.record_ip_log),
    ] {
        match flag {
            Some(true) => {
                setting.insert(key.to_owned(), Value::Bool(true));
            }
            Some(false) => {
                setting.remove(key);
            }
            None => {}
        }
    }
    Ok(Value::Object(setting).to_string())
}

/// Whether two stored `setting` JSON strings send notifications to different places: the
/// channel (`notify_type`, New API's default `email` when absent) and its addresses and
/// credentials (webhook URL and secret, notification e-mail, Bark URL, Gotify URL and token).
/// Empty strings count as absent. Thresholds, flags, the sidebar and the rest do not count.
pub fn notification_targets_differ(old: &str, new: &str) -> bool {
    fn targets(raw: &str) -> Vec<Option<String>> {
        let setting = match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let text = |key: &str| {
            setting
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let mut out = vec![Some(
            text(NOTIFY_TYPE).unwrap_or_else(|| NotifyType::Email.as_str().to_owned()),
        )];
        out.extend(
            [
                WEBHOOK_URL,
                WEBHOOK_SECRET,
                NOTIFICATION_EMAIL,
                BARK_URL,
                GOTIFY_URL,
                GOTIFY_TOKEN,
            ]
            .map(text),
        );
        out
    }
    targets(old) != targets(new)
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|s| !s.is_empty())
}

/// Checks a channel's url and returns the form to store.
async fn check_channel_url(
    url: &str,
    resolver: &dyn HostResolver,
    invalid: SettingsError,
    scheme: SettingsError,
) -> Result<String, SettingsError> {
    match check_public_http_url(url, resolver).await {
        Ok(url) => Ok(stored_form(&url)),
        Err(UrlRejection::Invalid) => Err(invalid),
        Err(UrlRejection::Scheme) => Err(scheme),
        Err(UrlRejection::Ambiguous) => Err(SettingsError::UrlAmbiguous),
        Err(UrlRejection::ForbiddenHost | UrlRejection::Unresolvable) => {
            Err(SettingsError::UrlForbidden)
        }
    }
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;

    use super::*;
    use crate::ports::MockHostResolver;
    use crate::user::{Role, default_setting};

    // ---- sidebar ----

    fn default_sidebar(role: Role) -> String {
        let outer: Value = serde_json::from_str(&default_setting(role)).unwrap();
        outer["sidebar_modules"].as_str().unwrap().to_owned()
    }

    #[test]
    fn the_default_sidebars_of_every_role_are_valid_and_unchanged() {
        for role in [Role::User, Role::Admin, Role::Root] {
            let raw = default_sidebar(role);
            assert_eq!(validate_sidebar_modules(&raw), Ok(raw));
        }
    }

    #[test]
    fn a_sidebar_is_re_serialised_compactly_in_its_own_key_order() {
        let raw = r#"{ "console": { "token": false, "enabled": true },
                       "chat": {} }"#;
        assert_eq!(
            validate_sidebar_modules(raw).unwrap(),
            r#"{"console":{"token":false,"enabled":true},"chat":{}}"#
        );
        assert_eq!(validate_sidebar_modules("{}").unwrap(), "{}");
    }

    #[test]
    fn hostile_sidebars_are_refused() {
        let many_sections = format!(
            "{{{}}}",
            (0..=MAX_SIDEBAR_SECTIONS)
                .map(|i| format!(r#""s{}":{{}}"#, "a".repeat(i + 1)))
                .collect::<Vec<_>>()
                .join(",")
        );
        let many_entries = format!(
            r#"{{"chat":{{{}}}}}"#,
            (0..=MAX_SIDEBAR_ENTRIES)
                .map(|i| format!(r#""e{}":true"#, "a".repeat(i + 1)))
                .collect::<Vec<_>>()
                .join(",")
        );
        let huge = format!(r#"{{"chat":{{"x":true}}, "pad": "{}"}}"#, "a".repeat(5000));
        let long_key = format!(r#"{{"{}":{{}}}}"#, "a".repeat(MAX_SIDEBAR_KEY_LEN + 1));
        let deep = format!("{}{}", "[".repeat(2000), "]".repeat(2000));
        let cases: Vec<(&str, SidebarError)> = vec![
            ("", SidebarError::NotJson),
            ("not json", SidebarError::NotJson),
            (r#"{"chat":{"enabled":true}"#, SidebarError::NotJson),
            ("[]", SidebarError::NotAnObject),
            (r#""{}""#, SidebarError::NotAnObject),
            ("null", SidebarError::NotAnObject),
            ("42", SidebarError::NotAnObject),
            (r#"{"chat":[true]}"#, SidebarError::SectionNotAnObject),
            (r#"{"chat":true}"#, SidebarError::SectionNotAnObject),
            (r#"{"chat":"on"}"#, SidebarError::SectionNotAnObject),
            (
                r#"{"chat":{"enabled":"true"}}"#,
                SidebarError::EntryNotBoolean,
            ),
            (r#"{"chat":{"enabled":1}}"#, SidebarError::EntryNotBoolean),
            (
                r#"{"chat":{"enabled":null}}"#,
                SidebarError::EntryNotBoolean,
            ),
            (
                r#"{"chat":{"enabled":{"x":true}}}"#,
                SidebarError::EntryNotBoolean,
            ),
            (
                r#"{"chat":{"enabled":[true]}}"#,
                SidebarError::EntryNotBoolean,
            ),
            (r#"{"Chat":{}}"#, SidebarError::InvalidKey),
            (r#"{"":{}}"#, SidebarError::InvalidKey),
            (r#"{"chat1":{}}"#, SidebarError::InvalidKey),
            (r#"{"chat":{"en abled":true}}"#, SidebarError::InvalidKey),
            (r#"{"chat":{"<script>":true}}"#, SidebarError::InvalidKey),
            (r#"{"chat":{"é":true}}"#, SidebarError::InvalidKey),
            (&long_key, SidebarError::InvalidKey),
            (&many_sections, SidebarError::TooManySections),
            (&many_entries, SidebarError::TooManyEntries),
            (&huge, SidebarError::TooLarge),
            (&deep, SidebarError::NotJson),
        ];
        for (raw, expected) in cases {
            assert_eq!(validate_sidebar_modules(raw), Err(expected), "{raw:.60}");
        }
    }

    #[test]
    fn the_limits_themselves_are_accepted() {
        let key = "a".repeat(MAX_SIDEBAR_KEY_LEN);
        let raw = format!(r#"{{"{key}":{{"{key}":false}}}}"#);
        assert!(validate_sidebar_modules(&raw).is_ok());
        let sections = format!(
            "{{{}}}",
            (0..MAX_SIDEBAR_SECTIONS)
                .map(|i| format!(r#""s{}":{{}}"#, "_".repeat(i + 1)))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(validate_sidebar_modules(&sections).is_ok());
    }

    // ---- notification settings ----

    const PUBLIC: &str = "93.184.215.14";

    /// Resolves every name to a public address.
    fn public_dns() -> MockHostResolver {
        let mut r = MockHostResolver::new();
        r.expect_resolve()
            .returning(|_| Ok(vec![PUBLIC.parse().unwrap()]));
        r
    }

    fn no_dns() -> MockHostResolver {
        let mut r = MockHostResolver::new();
        r.expect_resolve().never();
        r
    }

    fn input(notify_type: &str) -> NotificationSettingsInput {
        NotificationSettingsInput {
            notify_type: Some(notify_type.to_owned()),
            quota_warning_threshold: Some(500_000.0),
            ..Default::default()
        }
    }

    fn webhook(url: &str) -> NotificationSettingsInput {
        NotificationSettingsInput {
            webhook_url: Some(url.to_owned()),
            ..input("webhook")
        }
    }

    fn bark(url: &str) -> NotificationSettingsInput {
        NotificationSettingsInput {
            bark_url: Some(url.to_owned()),
            ..input("bark")
        }
    }

    fn gotify(url: &str, token: &str) -> NotificationSettingsInput {
        NotificationSettingsInput {
            gotify_url: Some(url.to_owned()),
            gotify_token: Some(token.to_owned()),
            ..input("gotify")
        }
    }

    async fn apply(
        current: &str,
        input: NotificationSettingsInput,
        resolver: &MockHostResolver,
    ) -> Result<Value, SettingsError> {
        let out = apply_notification_settings(current, input, resolver).await?;
        Ok(serde_json::from_str(&out).unwrap())
    }

    async fn refused(
        input: NotificationSettingsInput,
        resolver: &MockHostResolver,
    ) -> SettingsError {
        apply("{}", input, resolver).await.unwrap_err()
    }

    #[tokio::test]
    async fn an_unknown_or_missing_type_is_refused_first() {
        let mut bad = input("sms");
        bad.quota_warning_threshold = Some(-1.0);
        assert_eq!(
            refused(bad, &no_dns()).await,
            SettingsError::InvalidNotifyType
        );
        assert_eq!(
            refused(NotificationSettingsInput::default(), &no_dns()).await,
            SettingsError::InvalidNotifyType
        );
        assert_eq!(
            refused(input("Email"), &no_dns()).await,
            SettingsError::InvalidNotifyType
        );
    }

    #[tokio::test]
    async fn a_threshold_that_is_not_a_positive_number_is_refused() {
        for t in [
            None,
            Some(0.0),
            Some(-1.0),
            Some(f64::NAN),
            Some(f64::INFINITY),
        ] {
            let mut bad = webhook("");
            bad.quota_warning_threshold = t;
            assert_eq!(
                refused(bad, &no_dns()).await,
                SettingsError::ThresholdNotPositive,
                "{t:?}"
            );
        }
    }

    #[tokio::test]
    async fn webhook_errors_follow_the_spec_rows() {
        let cases = [
            (
                NotificationSettingsInput { ..input("webhook") },
                SettingsError::WebhookUrlEmpty,
            ),
            (webhook(""), SettingsError::WebhookUrlEmpty),
            (
                webhook("hooks.example.com/x"),
                SettingsError::WebhookUrlInvalid,
            ),
            (
                webhook("ftp://hooks.example.com/x"),
                SettingsError::WebhookUrlInvalid,
            ),
            (
                webhook("https://u:p@hooks.example.com/"),
                SettingsError::UrlAmbiguous,
            ),
            (
                webhook("http://1.1.1.1\\@127.0.0.1:6379/"),
                SettingsError::UrlAmbiguous,
            ),
            (
                webhook("http://127.0.0.1:3000/"),
                SettingsError::UrlForbidden,
            ),
            (
                webhook("http://169.254.169.254/"),
                SettingsError::UrlForbidden,
            ),
            (webhook("http://localhost/"), SettingsError::UrlForbidden),
        ];
        for (bad, expected) in cases {
            assert_eq!(refused(bad, &no_dns()).await, expected);
        }
    }

    #[tokio::test]
    async fn a_name_resolving_privately_or_not_at_all_is_forbidden() {
        let mut private = MockHostResolver::new();
        private
            .expect_resolve()
            .with(eq("evil.example.com"))
            .returning(|_| Ok(vec!["10.0.0.5".parse().unwrap()]));
        assert_eq!(
            refused(webhook("https://evil.example.com/"), &private).await,
            SettingsError::UrlForbidden
        );
        let mut failing = MockHostResolver::new();
        failing
            .expect_resolve()
            .returning(|_| Err(anyhow::anyhow!("timeout")));
        assert_eq!(
            refused(bark("https://gone.example.com/k"), &failing).await,
            SettingsError::UrlForbidden
        );
    }

    #[tokio::test]
    async fn email_errors_follow_the_spec_rows() {
        let long = format!("{}@example.com", "a".repeat(NotificationEmail::MAX_LEN));
        for bad in [
            "no-at-sign",
            "@example.com",
            "user@",
            "a@b@c",
            "user@exa mple.com",
            "user@example.com\r\nBcc: x@y.z",
            long.as_str(),
        ] {
            let req = NotificationSettingsInput {
                notification_email: Some(bad.to_owned()),
                ..input("email")
            };
            assert_eq!(
                refused(req, &no_dns()).await,
                SettingsError::EmailInvalid,
                "{bad:.40}"
            );
        }
    }

    #[tokio::test]
    async fn email_type_without_an_address_is_accepted() {
        let out = apply("{}", input("email"), &no_dns()).await.unwrap();
        assert_eq!(out["notify_type"], "email");
        assert!(out.get("notification_email").is_none());
    }

    #[tokio::test]
    async fn an_email_for_another_channel_is_not_validated_but_dropped() {
        let req = NotificationSettingsInput {
            notification_email: Some("garbage".to_owned()),
            ..bark("https://api.day.app/k")
        };
        let out = apply("{}", req, &public_dns()).await.unwrap();
        assert!(out.get("notification_email").is_none());
    }

    #[tokio::test]
    async fn bark_errors_follow_the_spec_rows() {
        let cases = [
            (input("bark"), SettingsError::BarkUrlEmpty),
            (bark(""), SettingsError::BarkUrlEmpty),
            (bark("api.day.app/key"), SettingsError::BarkUrlInvalid),
            (bark("https://"), SettingsError::BarkUrlInvalid),
            (bark("ftp://api.day.app/key"), SettingsError::BarkUrlScheme),
            (bark("javascript:alert(1)"), SettingsError::BarkUrlScheme),
            (bark("http://2130706433/"), SettingsError::UrlForbidden),
            (
                bark("http://1.1.1.1#@127.0.0.1/"),
                SettingsError::UrlAmbiguous,
            ),
        ];
        for (bad, expected) in cases {
            assert_eq!(refused(bad, &no_dns()).await, expected);
        }
    }

    #[tokio::test]
    async fn gotify_errors_follow_the_spec_rows_in_order() {
        let cases = [
            (input("gotify"), SettingsError::GotifyUrlEmpty),
            (gotify("", "tok"), SettingsError::GotifyUrlEmpty),
            // The token is checked before the url is parsed.
            (gotify("not a url", ""), SettingsError::GotifyTokenEmpty),
            (
                gotify("gotify.example.com", "tok"),
                SettingsError::GotifyUrlInvalid,
            ),
            (
                gotify("wss://gotify.example.com", "tok"),
                SettingsError::GotifyUrlScheme,
            ),
            (
                gotify("http://[fd00:ec2::254]/", "tok"),
                SettingsError::UrlForbidden,
            ),
            (
                gotify("http://1.1.1.1?@127.0.0.1/", "tok"),
                SettingsError::UrlAmbiguous,
            ),
        ];
        for (bad, expected) in cases {
            assert_eq!(refused(bad, &no_dns()).await, expected);
        }
    }

    #[tokio::test]
    async fn unowned_keys_are_kept_and_the_sidebar_survives() {
        let mut current: Value = serde_json::from_str(&default_setting(Role::Root)).unwrap();
        current["language"] = "zh".into();
        current["upstream_model_update_notify_enabled"] = true.into();
        current["future_key"] = serde_json::json!({"a": [1, 2]});
        let out = apply(
            &current.to_string(),
            webhook("https://hooks.example.com/x"),
            &public_dns(),
        )
        .await
        .unwrap();
        for key in [
            "sidebar_modules",
            "language",
            "upstream_model_update_notify_enabled",
            "future_key",
        ] {
            assert_eq!(out[key], current[key], "{key}");
        }
        assert_eq!(out["notify_type"], "webhook");
        assert_eq!(out["quota_warning_threshold"], 500_000.0);
        assert_eq!(out["webhook_url"], "https://hooks.example.com/x");
        assert_eq!(out["gotify_priority"], 0);
    }

    #[tokio::test]
    async fn an_unreadable_current_setting_counts_as_empty() {
        for current in ["", "not json", "[1,2]", "\"x\""] {
            let out = apply(current, input("email"), &no_dns()).await.unwrap();
            assert_eq!(
                out,
                serde_json::json!({"notify_type": "email", "quota_warning_threshold": 500_000.0,
                                   "gotify_priority": 0})
            );
        }
    }

    #[tokio::test]
    async fn a_webhook_secret_is_kept_when_omitted_or_empty_and_replaced_when_sent() {
        let current = r#"{"notify_type":"webhook","webhook_url":"https://old.example.com/",
                          "webhook_secret":"s3cret"}"#;
        for sent in [None, Some(String::new())] {
            let req = NotificationSettingsInput {
                webhook_secret: sent,
                ..webhook("https://new.example.com/")
            };
            let out = apply(current, req, &public_dns()).await.unwrap();
            assert_eq!(out["webhook_secret"], "s3cret");
            assert_eq!(out["webhook_url"], "https://new.example.com/");
        }
        let req = NotificationSettingsInput {
            webhook_secret: Some("n3w".to_owned()),
            ..webhook("https://new.example.com/")
        };
        let out = apply(current, req, &public_dns()).await.unwrap();
        assert_eq!(out["webhook_secret"], "n3w");
    }

    #[tokio::test]
    async fn a_stored_gotify_token_satisfies_the_token_rule() {
        let current = r#"{"notify_type":"gotify","gotify_url":"https://g.example.com",
                          "gotify_token":"t0ken","gotify_priority":7}"#;
        let req = NotificationSettingsInput {
            gotify_url: Some("https://g2.example.com".to_owned()),
            ..input("gotify")
        };
        let out = apply(current, req, &public_dns()).await.unwrap();
        assert_eq!(out["gotify_token"], "t0ken");
        assert_eq!(
            out["gotify_url"], "https://g2.example.com/",
            "stored normalised"
        );
        // Priority omitted: the stored one is kept.
        assert_eq!(out["gotify_priority"], 7);
    }

    #[tokio::test]
    async fn switching_channel_removes_the_other_channels_fields_and_secrets() {
        let current = r#"{"notify_type":"webhook","webhook_url":"https://old.example.com/",
                          "webhook_secret":"s3cret","bark_url":"https://stale.example.com",
                          "gotify_token":"stale","notification_email":"a@b.c",
                          "sidebar_modules":"{}"}"#;
        let out = apply(
            current,
            bark("https://api.day.app/KEY/{{title}}"),
            &public_dns(),
        )
        .await
        .unwrap();
        assert_eq!(
            out,
            serde_json::json!({
                "notify_type": "bark", "quota_warning_threshold": 500_000.0,
                "bark_url": "https://api.day.app/KEY/{{title}}",
                "gotify_priority": 0, "sidebar_modules": "{}"
            })
        );
    }

    #[tokio::test]
    async fn an_email_setting_is_stored_for_the_email_type() {
        let req = NotificationSettingsInput {
            notification_email: Some("me@example.com".to_owned()),
            ..input("email")
        };
        let out = apply("{}", req, &no_dns()).await.unwrap();
        assert_eq!(out["notification_email"], "me@example.com");
    }

    #[tokio::test]
    async fn gotify_priority_outside_0_to_10_becomes_5() {
        for (sent, stored) in [
            (Some(11), 5),
            (Some(-1), 5),
            (Some(0), 0),
            (Some(10), 10),
            (None, 0),
        ] {
            let req = NotificationSettingsInput {
                gotify_priority: sent,
                ..gotify("https://g.example.com", "tok")
            };
            let out = apply("{}", req, &public_dns()).await.unwrap();
            assert_eq!(out["gotify_priority"], stored, "{sent:?}");
        }
    }

    #[tokio::test]
    async fn gotify_priority_is_zero_for_other_channels() {
        let current = r#"{"notify_type":"gotify","gotify_priority":9}"#;
        let req = NotificationSettingsInput {
            gotify_priority: Some(3),
            ..input("email")
        };
        let out = apply(current, req, &no_dns()).await.unwrap();
        assert_eq!(out["gotify_priority"], 0);
    }

    #[tokio::test]
    async fn booleans_are_set_cleared_or_kept() {
        let current = r#"{"accept_unset_model_ratio_model":true,"record_ip_log":true}"#;
        let req = NotificationSettingsInput {
            record_ip_log: Some(false),
            ..input("email")
        };
        let out = apply(current, req, &no_dns()).await.unwrap();
        assert_eq!(out["accept_unset_model_ratio_model"], true);
        assert!(out.get("record_ip_log").is_none());

        let req = NotificationSettingsInput {
            accept_unset_model_ratio_model: Some(true),
            record_ip_log: Some(true),
            ..input("email")
        };
        let out = apply("{}", req, &no_dns()).await.unwrap();
        assert_eq!(out["accept_unset_model_ratio_model"], true);
        assert_eq!(out["record_ip_log"], true);
    }

    #[test]
    fn input_debug_redacts_secrets() {
        let req = NotificationSettingsInput {
            webhook_secret: Some("s3cret".to_owned()),
            gotify_token: Some("t0ken".to_owned()),
            ..input("webhook")
        };
        let shown = format!("{req:?}");
        assert!(!shown.contains("s3cret") && !shown.contains("t0ken"));
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn input_deserialises_from_the_console_body() {
        let req: NotificationSettingsInput = serde_json::from_str(
            r#"{"notify_type":"gotify","quota_warning_threshold":1.5,"gotify_priority":3}"#,
        )
        .unwrap();
        assert_eq!(req.notify_type.as_deref(), Some("gotify"));
        assert_eq!(req.gotify_priority, Some(3));
        assert_eq!(req.webhook_secret, None);
    }

    #[test]
    fn only_channels_addresses_and_credentials_are_targets() {
        let base = r#"{"notify_type":"email","quota_warning_threshold":1,"gotify_priority":0}"#;
        // The default channel, an empty address, a new threshold or flag: same targets.
        assert!(!notification_targets_differ(
            r#"{"gotify_priority":0}"#,
            base
        ));
        assert!(!notification_targets_differ(
            base,
            r#"{"notify_type":"email","notification_email":"","quota_warning_threshold":9,"record_ip_log":true}"#
        ));
        for other in [
            r#"{"notify_type":"email","notification_email":"x@example.com"}"#,
            r#"{"notify_type":"webhook","webhook_url":"https://example.com/h"}"#,
            r#"{"notify_type":"email","webhook_secret":"s"}"#,
            r#"{"notify_type":"bark","bark_url":"https://api.day.app/k/{{title}}"}"#,
            r#"{"notify_type":"gotify","gotify_url":"https://g.example.com","gotify_token":"t"}"#,
        ] {
            assert!(notification_targets_differ(base, other), "{other}");
        }
        assert!(notification_targets_differ(
            r#"{"notify_type":"gotify","gotify_url":"https://g.example.com","gotify_token":"t"}"#,
            r#"{"notify_type":"gotify","gotify_url":"https://g.example.com","gotify_token":"u"}"#
        ));
    }
}
