//! The two e-mail addresses a user has, as two types because they play two roles.
//!
//! [`Email`] is the account's address: an identity. It is unique across accounts and will
//! become a login name once addresses can be verified (issue 7.7), so it is normalised (trimmed,
//! lowercased: uniqueness and login ignore case) and must look deliverable on the Internet (a dot
//! in the domain, a local part within RFC 5321's limit).
//!
//! [`NotificationEmail`] is where quota warnings go: a setting inside the user's `setting` JSON,
//! unique to nobody and never a login. It keeps New API's accepting rule (docs/newapi-behaviour.md
//! §5.7), which clients rely on: stored as typed, case kept, any domain (an intranet relay's
//! `ops@mailhost` is fine). It only has to be safe in a mail header.

use super::fields::{FieldError, text_value};
use std::fmt;

text_value! {
    /// An account's e-mail address: trimmed and lowercased, at most [`Self::MAX_LEN`] bytes,
    /// one `@`, a local part of 1 to [`Self::MAX_LOCAL_LEN`] bytes, a domain with a dot that
    /// neither starts nor ends with one, and no whitespace or control characters.
    Email
}

impl Email {
    /// RFC 5321's longest forward path, in bytes.
    pub const MAX_LEN: usize = 254;
    /// RFC 5321's longest local part, in bytes.
    pub const MAX_LOCAL_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let email = raw.trim().to_lowercase();
        let (local, domain) = email.split_once('@').ok_or(FieldError::Email)?;
        let ok = email.len() <= Self::MAX_LEN
            && !local.is_empty()
            && local.len() <= Self::MAX_LOCAL_LEN
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(FieldError::Email);
        }
        Ok(Self(email))
    }
}

text_value! {
    /// Where e-mail notifications go, exactly as typed: one `@` with something on both sides,
    /// at most [`Self::MAX_LEN`] bytes, and no whitespace or control characters (the address
    /// ends up in mail headers). Why this is not an [`Email`]: see the module documentation.
    NotificationEmail
}

impl NotificationEmail {
    /// The same path limit as an account's address.
    pub const MAX_LEN: usize = Email::MAX_LEN;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let (local, domain) = raw.split_once('@').ok_or(FieldError::Email)?;
        let ok = raw.len() <= Self::MAX_LEN
            && !local.is_empty()
            && !domain.is_empty()
            && !domain.contains('@')
            && !raw.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(FieldError::Email);
        }
        Ok(Self(raw.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_address_is_trimmed_and_lowercased() {
        assert_eq!(Email::parse(" a@b.co ").unwrap().as_str(), "a@b.co");
        assert_eq!(
            Email::parse("Alice@Example.COM").unwrap().as_str(),
            "alice@example.com"
        );
    }

    #[test]
    fn an_account_address_needs_one_at_a_local_part_and_a_dotted_domain() {
        for bad in [
            "",
            "a",
            "a@",
            "@b.co",
            "a@b",
            "a@@b.co",
            "a b@c.co",
            "a@b.co.",
            "a@.b",
            "a@b\u{7}.co",
        ] {
            assert_eq!(Email::parse(bad), Err(FieldError::Email), "{bad}");
        }
    }

    #[test]
    fn an_account_address_keeps_rfc_5321_lengths() {
        let local = |n| format!("{}@b.co", "a".repeat(n));
        assert!(Email::parse(&local(Email::MAX_LOCAL_LEN)).is_ok());
        assert!(Email::parse(&local(Email::MAX_LOCAL_LEN + 1)).is_err());
        // 64 + 1 + 189 = 254 bytes in all.
        let domain = |n: usize| format!("{}@{}.co", "a".repeat(64), "d".repeat(n - 3));
        assert_eq!(domain(189).len(), Email::MAX_LEN);
        assert!(Email::parse(&domain(189)).is_ok());
        assert!(Email::parse(&domain(190)).is_err());
    }

    #[test]
    fn a_notification_address_is_kept_as_typed_with_any_domain() {
        for good in ["me@example.com", "Ops@MailHost", "a@b.c", "x+tag@intranet"] {
            assert_eq!(NotificationEmail::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn a_notification_address_must_be_safe_in_a_mail_header() {
        // The settings tests (`user_settings.rs`) walk the spec's rows; these are the edges.
        let refused = |s: &str| NotificationEmail::parse(s) == Err(FieldError::Email);
        assert!(refused("") && refused("@") && refused("a@") && refused("@b"));
        assert!(refused(" a@b") && refused("a@b ") && refused("a\t@b") && refused("a@b\0"));
        assert!(refused("a@b\r\nBcc: c@d") && refused("a@b@c"));
        let at_limit = format!("{}@b", "a".repeat(NotificationEmail::MAX_LEN - 2));
        assert!(NotificationEmail::parse(&at_limit).is_ok());
        assert!(refused(&format!("a{at_limit}")));
    }
}
