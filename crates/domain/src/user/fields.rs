//! The value types of a user's profile: each holds its one rule and its limit, so services and
//! adapters carry only values that passed the rule, or that were read back from the database.
//!
//! `parse` is for input. `from_stored` is for rows read back from the database, which may
//! predate a rule (accounts imported from New API, or written before a limit was tightened):
//! refusing them would lock their owners out of their own account.

use std::fmt;

/// Why a profile field was refused. Services map it onto their own error, which decides the
/// message each surface shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("display name must be 1 to {max} characters", max = DisplayName::MAX_CHARS)]
    DisplayName,
    #[error("invalid e-mail address")]
    Email,
    #[error("invalid phone number")]
    Phone,
    #[error("avatar must be an http(s) URL of at most {max} characters", max = AvatarUrl::MAX_CHARS)]
    AvatarUrl,
    #[error("remark must be at most {max} characters", max = Remark::MAX_CHARS)]
    Remark,
}

/// A text value type: a private `String`, read with `as_str` (or as a `&str` through `Deref`),
/// shown with `Display`, and built by its `parse` or, for database rows, by `from_stored`.
macro_rules! text_value {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// A value read back from the database, as stored, without the rule of `parse`
            /// (see the module documentation). Only the database adapter calls it.
            pub fn from_stored(stored: impl Into<String>) -> Self {
                Self(stored.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        // Read-only access as text (`Option::as_deref`, `str` methods); nothing can change the
        // value behind its rule.
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}
pub(crate) use text_value;

text_value! {
    /// The name the console shows: after trimming, 1 to [`Self::MAX_CHARS`] characters (not
    /// bytes), no control characters (New API's `max=20`).
    DisplayName
}

impl DisplayName {
    pub const MAX_CHARS: usize = 20;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let name = raw.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS || name.chars().any(char::is_control) {
            return Err(FieldError::DisplayName);
        }
        Ok(Self(name.to_owned()))
    }

    /// A new account's display name: its username, which always passes the rule.
    pub fn of_username(username: &super::Username) -> Self {
        Self(username.as_str().to_owned())
    }
}

// Every username is a valid display name: `Username` is trimmed, free of control characters
// and at most this long.
const _: () = assert!(super::Username::MAX_CHARS <= DisplayName::MAX_CHARS);

text_value! {
    /// A phone number: after trimming, an optional `+` and [`Self::MIN_DIGITS`] to
    /// [`Self::MAX_DIGITS`] ASCII digits (E.164 length), e.g. `13800138000` or
    /// `+8613800138000`.
    Phone
}

impl Phone {
    pub const MIN_DIGITS: usize = 6;
    pub const MAX_DIGITS: usize = 15;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let phone = raw.trim();
        let digits = phone.strip_prefix('+').unwrap_or(phone);
        if (Self::MIN_DIGITS..=Self::MAX_DIGITS).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
        {
            Ok(Self(phone.to_owned()))
        } else {
            Err(FieldError::Phone)
        }
    }
}

text_value! {
    /// An avatar: after trimming, an absolute http(s) URL with a host, at most
    /// [`Self::MAX_CHARS`] characters, kept as sent. Avatars are fetched by browsers, not by
    /// this server, so no address check is needed.
    AvatarUrl
}

impl AvatarUrl {
    pub const MAX_CHARS: usize = 512;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let raw = raw.trim();
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::AvatarUrl);
        }
        match url::Url::parse(raw) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                Ok(Self(raw.to_owned()))
            }
            _ => Err(FieldError::AvatarUrl),
        }
    }
}

text_value! {
    /// An admin's note on a user (New API's `remark`, `max=255`): at most [`Self::MAX_CHARS`]
    /// characters, kept exactly as sent (an empty remark is a remark). Never shown to the user.
    Remark
}

impl Remark {
    pub const MAX_CHARS: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::Remark);
        }
        Ok(Self(raw.to_owned()))
    }
}

#[cfg(test)]
mod tests;
