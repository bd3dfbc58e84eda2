//! Users: identity, role hierarchy, status and the rules on names and passwords.

use std::fmt;

/// A user's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub i64);

impl UserId {
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The strict hierarchy of docs/newapi-behaviour.md §7: user(1) < admin(10) < root(100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    User,
    Admin,
    Root,
}

impl Role {
    pub fn code(self) -> i32 {
        match self {
            Role::User => 1,
            Role::Admin => 10,
            Role::Root => 100,
        }
    }

    /// Parses a stored or requested role code; anything but 1, 10 or 100 is refused.
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(Role::User),
            10 => Some(Role::Admin),
            100 => Some(Role::Root),
            _ => None,
        }
    }

    pub fn is_admin(self) -> bool {
        self >= Role::Admin
    }
}

/// Account status, with New API's codes (1 enabled, 2 disabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserStatus {
    Enabled,
    Disabled,
}

impl UserStatus {
    pub fn code(self) -> i32 {
        match self {
            UserStatus::Enabled => 1,
            UserStatus::Disabled => 2,
        }
    }

    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(UserStatus::Enabled),
            2 => Some(UserStatus::Disabled),
            _ => None,
        }
    }
}

/// Why a username or password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialRuleError {
    #[error("username must be 1 to {max} characters")]
    UsernameLength { max: usize },
    #[error("username must not contain control characters or @")]
    UsernameCharacters,
    #[error("password must be {min} to {max} characters")]
    PasswordLength { min: usize, max: usize },
    /// Issue 7.6: a character that is invisible, a bidi control, a format character or a
    /// symbol outside ASCII, or letters of scripts that are confusable when mixed.
    #[error(
        "username must not contain invisible, bidirectional-control or non-ASCII symbol \
         characters, nor mix look-alike scripts"
    )]
    UsernameUnsafe,
}

/// A username: after trimming and NFKC normalisation, 1..=20 Unicode characters; printable
/// ASCII except `@`, or characters Unicode recommends for identifiers (UTS 39 General
/// Security Profile, which leaves out invisible, default-ignorable, bidi-control and format
/// characters, symbols and emoji); letters of one script, or of Latin with Han, kana, Hangul
/// or another script that does not imitate Latin (UTS 39 "moderately restrictive": Latin
/// mixed with Cyrillic or Greek is refused).
///
/// The stored name is the NFKC form; [`Username::key`] is its canonical key, which decides
/// uniqueness (issue 7.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    name: String,
    key: String,
}

impl Username {
    pub const MAX_CHARS: usize = 20;

    pub fn parse(raw: &str) -> Result<Self, CredentialRuleError> {
        use unicode_security::{
            GeneralSecurityProfile as _, RestrictionLevel, RestrictionLevelDetection as _,
        };

        let name = normalize_login(raw.trim());
        let name = name.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS {
            return Err(CredentialRuleError::UsernameLength {
                max: Self::MAX_CHARS,
            });
        }
        // No `@`: usernames and e-mail addresses stay disjoint, so a user cannot take another
        // user's address as a name and shadow their login by e-mail.
        if name.chars().any(|c| c.is_control() || c == '@') {
            return Err(CredentialRuleError::UsernameCharacters);
        }
        if name
            .chars()
            .any(|c| !(c.is_ascii() || c.identifier_allowed()))
        {
            return Err(CredentialRuleError::UsernameUnsafe);
        }
        // ASCII punctuation, spaces and digits belong to every script; the letters decide.
        let letters: String = name.chars().filter(|c| c.identifier_allowed()).collect();
        if letters.as_str().detect_restriction_level() > RestrictionLevel::ModeratelyRestrictive {
            return Err(CredentialRuleError::UsernameUnsafe);
        }
        Ok(Self {
            key: username_key(name),
            name: name.to_owned(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The canonical key two names collide on: see [`username_key`].
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// The canonical key of a username (issue 7.6): the UTS 39 confusable skeleton of the
/// case-folded NFKC form, case-folded again (the skeleton maps `0` to `O`). `ROOT`, `ｒｏｏｔ`,
/// `r00t` and `rоot` (Cyrillic `о`) all have the key of `root`. Case folding is full (`ß`
/// folds to `ss`), done as upper- then lower-casing.
///
/// The backfill migration (`m20261201_000011_add_username_key`) holds a frozen copy of this
/// function; a test checks that both agree.
pub fn username_key(name: &str) -> String {
    let fold = |s: &str| s.to_uppercase().to_lowercase();
    let folded = fold(&normalize_login(name));
    let skeleton: String = unicode_security::skeleton(&folded).collect();
    fold(&skeleton)
}

/// The NFKC form of a typed name, which is how usernames are stored.
pub fn normalize_login(login: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    login.nfkc().collect()
}

/// A plaintext password that passed the length policy. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    /// Length is counted in characters, not bytes, so "密码" counts as 2.
    pub fn parse(raw: &str) -> Result<Self, CredentialRuleError> {
        let chars = raw.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&chars) {
            return Err(CredentialRuleError::PasswordLength {
                min: Self::MIN_CHARS,
                max: Self::MAX_CHARS,
            });
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A user as the domain sees it. Secrets (password hash, access-token hash) are not part of
/// it, so no code path can serialise them by accident.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
    pub status: UserStatus,
    pub group: String,
    pub quota: i64,
    pub used_quota: i64,
    pub request_count: i64,
    pub aff_code: Option<String>,
    pub aff_count: i64,
    pub aff_quota: i64,
    pub aff_history_quota: i64,
    pub inviter_id: Option<UserId>,
    /// The user's settings, a JSON object stored as a string (docs/newapi-behaviour.md §2.2).
    pub setting: String,
    pub phone: Option<String>,
    pub avatar: Option<String>,
    /// An admin's note (New API's `remark`); never shown to the user.
    pub remark: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_login_at: Option<i64>,
    pub deleted_at: Option<i64>,
}

impl User {
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    pub fn is_enabled(&self) -> bool {
        self.status == UserStatus::Enabled && !self.is_deleted()
    }

    /// The `sidebar_modules` string inside `setting`, or `""` when absent or unreadable.
    pub fn sidebar_modules(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.setting)
            .ok()
            .and_then(|v| v.get("sidebar_modules")?.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// Everything needed to insert a user. The adapter applies `initial_quota` through the ledger
/// in the same transaction as the insert.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUser {
    pub username: Username,
    pub display_name: String,
    pub password_hash: String,
    pub role: Role,
    pub group: String,
    /// Stored unverified only where a surface allows it; `None` otherwise.
    pub email: Option<String>,
    pub aff_code: String,
    pub setting: String,
    pub initial_quota: i64,
    /// The inviter and the rewards of this registration, when an invitation code was used.
    pub invitation: Option<Invitation>,
    /// Written in the same transaction (an admin's creation of the user).
    pub audit: Option<crate::audit::AuditEntry>,
    pub created_at: i64,
}

/// An accepted invitation (docs/newapi-behaviour.md §4.1, §8.2): the adapter links the inviter,
/// raises its `aff_count` by one whatever the rewards are, and applies each non-zero reward through
/// the ledger, all in the transaction that inserts the new user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invitation {
    pub inviter_id: UserId,
    /// Credited to the inviter's `aff_quota` (and `aff_history_quota`).
    pub inviter_reward: i64,
    /// Credited to the new user's `quota`.
    pub invitee_bonus: i64,
    /// At most this many invitations reward the inviter per rolling 24 h; 0 = unlimited.
    /// Beyond it the invitee is still linked and counted, and its own bonus still paid.
    pub reward_daily_limit: u32,
}

/// The rolling window of [`Invitation::reward_daily_limit`].
pub const INVITER_REWARD_WINDOW_SECS: i64 = 86_400;

impl Invitation {
    /// Whether this invitation pays the inviter, given how many invitations rewarded it in
    /// the last [`INVITER_REWARD_WINDOW_SECS`]. Adapters count inside the insert transaction,
    /// after serialising the inviter's invitations.
    pub fn rewards_inviter(&self, rewarded_in_window: u64) -> bool {
        self.inviter_reward > 0
            && (self.reward_daily_limit == 0
                || rewarded_in_window < u64::from(self.reward_daily_limit))
    }
}

/// Changes to a user's profile; `None` leaves a field as it is. For the optional contact
/// fields, `Some(None)` clears the value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChanges {
    pub username: Option<Username>,
    pub display_name: Option<String>,
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub avatar: Option<Option<String>>,
}

impl ProfileChanges {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A syntactically valid e-mail address (at most 254 characters, one `@`, a dot in the
/// domain, no whitespace), trimmed and lowercased so that uniqueness and login by e-mail
/// ignore case; `None` otherwise.
pub fn parse_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    let email = email.as_str();
    let (local, domain) = email.split_once('@')?;
    let ok = email.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| email.to_owned())
}

/// The group every new user starts in.
pub const DEFAULT_GROUP: &str = "default";

/// The settings object a new user gets (docs/newapi-behaviour.md §2.2): `gotify_priority` 0 and the
/// role's default sidebar, itself a JSON string nested in the object.
pub fn default_setting(role: Role) -> String {
    use serde_json::json;
    let mut sidebar = json!({
        "chat": {"enabled": true, "playground": true, "chat": true},
        "console": {"enabled": true, "detail": true, "token": true, "log": true,
                    "midjourney": true, "task": true},
        "personal": {"enabled": true, "topup": true, "personal": true},
    });
    if role.is_admin() {
        sidebar["admin"] = json!({
            "enabled": true, "channel": true, "models": true, "redemption": true,
            "user": true, "setting": role == Role::Root,
        });
    }
    json!({"gotify_priority": 0, "sidebar_modules": sidebar.to_string()}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_counts_characters_not_bytes() {
        assert!(Username::parse(&"名".repeat(20)).is_ok());
        assert!(Username::parse(&"名".repeat(21)).is_err());
    }

    #[test]
    fn empty_or_blank_username_is_refused() {
        assert!(Username::parse("").is_err());
        assert!(Username::parse("   ").is_err());
    }

    #[test]
    fn username_is_trimmed_and_control_characters_refused() {
        assert_eq!(Username::parse("  alice ").unwrap().as_str(), "alice");
        assert_eq!(
            Username::parse("al\u{0}ice"),
            Err(CredentialRuleError::UsernameCharacters)
        );
        assert_eq!(
            Username::parse("alice@example.com"),
            Err(CredentialRuleError::UsernameCharacters)
        );
    }

    #[test]
    fn usernames_are_stored_in_nfkc() {
        for (raw, stored) in [
            ("ｒｏｏｔ", "root"),
            ("Jose\u{301}", "José"),
            ("ﬁne", "fine"),
            ("\u{3000}alice\u{3000}", "alice"),
            ("Ⅻ", "XII"),
        ] {
            assert_eq!(Username::parse(raw).unwrap().as_str(), stored, "{raw:?}");
        }
        // Length counts the normalised form: U+3394 is three letters in NFKC ("THz").
        assert!(Username::parse(&"\u{3394}".repeat(6)).is_ok());
        assert!(Username::parse(&"\u{3394}".repeat(7)).is_err());
    }

    #[test]
    fn invisible_bidi_format_and_symbol_characters_are_refused() {
        for raw in [
            "root\u{200B}",
            "ro\u{200C}ot",
            "ro\u{200D}ot",
            "\u{2060}root",
            "\u{FEFF}root",
            "root\u{AD}",
            "ro\u{34F}ot",
            "\u{202E}toor",
            "\u{202A}root",
            "root\u{2066}",
            "root\u{200F}",
            "\u{61C}root",
            "root\u{FE0F}",
            "root\u{E0041}",
            "root\u{2028}x",
            "\u{3164}root",
            "root😀",
            "root✓",
        ] {
            assert_eq!(
                Username::parse(raw),
                Err(CredentialRuleError::UsernameUnsafe),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn latin_mixed_with_cyrillic_or_greek_is_refused_other_mixes_are_not() {
        for raw in ["r\u{43E}\u{43E}t", "\u{440}oot", "r\u{3BF}ot", "pаypal"] {
            assert_eq!(
                Username::parse(raw),
                Err(CredentialRuleError::UsernameUnsafe),
                "{raw:?}"
            );
        }
        for raw in [
            "张三abc",
            "山田タロウ",
            "김철수kim",
            "Иван",
            "Ελένη",
            "محمد",
            "John Doe",
            "a_b-c.d+e",
            "user123",
        ] {
            assert!(Username::parse(raw).is_ok(), "{raw:?}");
        }
    }

    #[test]
    fn lookalike_names_share_one_key() {
        let key = |s: &str| Username::parse(s).unwrap().key().to_owned();
        for same in ["ROOT", "Root", "ｒｏｏｔ", "ＲＯＯＴ", "r00t", "rOOt"] {
            assert_eq!(key(same), key("root"), "{same}");
        }
        assert_eq!(key("cafe\u{301}"), key("Café"));
        assert_eq!(key("STRASSE"), key("straße"));
        // Whole-script look-alikes: all-Cyrillic "рое" against Latin "poe".
        assert_eq!(key("\u{440}\u{43E}\u{435}"), key("poe"));
        assert_ne!(key("alice"), key("alicia"));
        assert_ne!(key("张三"), key("李四"));
        assert_eq!(key("root"), username_key("root"));
    }

    #[test]
    fn password_length_is_8_to_128_characters() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"密".repeat(128)).is_ok());
        assert!(Password::parse(&"密".repeat(129)).is_err());
        // 4 characters but 12 bytes: still too short.
        assert!(Password::parse("密码密码").is_err());
    }

    #[test]
    fn password_debug_is_redacted() {
        let p = Password::parse("correct horse").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn email_syntax_is_checked() {
        assert_eq!(parse_email(" a@b.co ").as_deref(), Some("a@b.co"));
        assert_eq!(
            parse_email("Alice@Example.COM").as_deref(),
            Some("alice@example.com")
        );
        for bad in [
            "", "a", "a@", "@b.co", "a@b", "a@@b.co", "a b@c.co", "a@b.co.", "a@.b",
        ] {
            assert_eq!(parse_email(bad), None, "{bad}");
        }
        assert_eq!(parse_email(&format!("{}@b.co", "a".repeat(65))), None);
    }

    #[test]
    fn roles_order_as_the_hierarchy() {
        assert!(Role::User < Role::Admin && Role::Admin < Role::Root);
        assert_eq!(Role::from_code(10), Some(Role::Admin));
        assert_eq!(Role::from_code(0), None);
        assert_eq!(Role::from_code(50), None);
    }

    #[test]
    fn default_setting_nests_sidebar_as_a_string_per_role() {
        let parse = |role| -> serde_json::Value {
            let outer: serde_json::Value = serde_json::from_str(&default_setting(role)).unwrap();
            assert_eq!(outer["gotify_priority"], 0);
            serde_json::from_str(outer["sidebar_modules"].as_str().unwrap()).unwrap()
        };
        assert!(parse(Role::User).get("admin").is_none());
        assert_eq!(parse(Role::Admin)["admin"]["setting"], false);
        assert_eq!(parse(Role::Root)["admin"]["setting"], true);
        assert_eq!(parse(Role::User)["console"]["token"], true);
    }

    #[test]
    fn the_inviter_is_rewarded_up_to_the_daily_limit() {
        let inv = |reward, limit| Invitation {
            inviter_id: UserId(1),
            inviter_reward: reward,
            invitee_bonus: 5,
            reward_daily_limit: limit,
        };
        // (reward, limit, rewarded in the window) -> pays the inviter
        let cases = [
            (100, 0, 0, true),
            (100, 0, 1_000_000, true),
            (100, 3, 0, true),
            (100, 3, 2, true),
            (100, 3, 3, false),
            (100, 3, 50, false),
            (0, 0, 0, false),
            (0, 3, 0, false),
        ];
        for (reward, limit, rewarded, expected) in cases {
            assert_eq!(
                inv(reward, limit).rewards_inviter(rewarded),
                expected,
                "{reward} {limit} {rewarded}"
            );
        }
    }
}
