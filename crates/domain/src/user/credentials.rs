//! The rules on what a person types to log in: usernames (length, characters, look-alikes and
//! their canonical key) and passwords (length).

use std::fmt;

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

/// A username: after trimming and NFKC normalisation, 1 to [`Self::MAX_CHARS`] Unicode
/// characters; printable ASCII except `@`, or characters Unicode recommends for identifiers
/// (UTS 39 General Security Profile, which leaves out invisible, default-ignorable,
/// bidi-control and format characters, symbols and emoji); letters of one script, or of Latin
/// with Han, kana, Hangul or another script that does not imitate Latin (UTS 39 "moderately
/// restrictive": Latin mixed with Cyrillic or Greek is refused).
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
