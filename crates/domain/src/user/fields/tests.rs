use super::*;
use crate::user::Username;

#[test]
fn a_display_name_is_1_to_max_characters_counted_not_bytes() {
    assert!(DisplayName::parse(&"名".repeat(DisplayName::MAX_CHARS)).is_ok());
    assert_eq!(
        DisplayName::parse(&"名".repeat(DisplayName::MAX_CHARS + 1)),
        Err(FieldError::DisplayName)
    );
    assert_eq!(DisplayName::parse(""), Err(FieldError::DisplayName));
    assert_eq!(DisplayName::parse("   "), Err(FieldError::DisplayName));
}

#[test]
fn a_display_name_is_trimmed_and_refuses_control_characters() {
    assert_eq!(DisplayName::parse("  Alice ").unwrap().as_str(), "Alice");
    // Trimming happens before counting: surrounding blanks do not use up the limit.
    let padded = format!(" {} ", "a".repeat(DisplayName::MAX_CHARS));
    assert!(DisplayName::parse(&padded).is_ok());
    assert_eq!(DisplayName::parse("a\u{7}b"), Err(FieldError::DisplayName));
    assert_eq!(DisplayName::parse("a\nb"), Err(FieldError::DisplayName));
}

#[test]
fn every_username_is_a_display_name() {
    let name = Username::parse(&"名".repeat(Username::MAX_CHARS)).unwrap();
    let shown = DisplayName::of_username(&name);
    assert_eq!(DisplayName::parse(shown.as_str()), Ok(shown));
}

#[test]
fn a_phone_is_an_optional_plus_and_6_to_15_digits() {
    let digits = |n| "1".repeat(n);
    for good in [
        digits(Phone::MIN_DIGITS),
        digits(Phone::MAX_DIGITS),
        format!("+{}", digits(Phone::MAX_DIGITS)),
        "13800138000".to_owned(),
        "+8613800138000".to_owned(),
    ] {
        assert_eq!(Phone::parse(&good).unwrap().as_str(), good);
    }
    for bad in [
        digits(Phone::MIN_DIGITS - 1),
        digits(Phone::MAX_DIGITS + 1),
        format!("+{}", digits(Phone::MAX_DIGITS + 1)),
        "+".to_owned(),
        "138-0013-8000".to_owned(),
        "++13800138000".to_owned(),
        "１３８００１３８０００".to_owned(),
    ] {
        assert_eq!(Phone::parse(&bad), Err(FieldError::Phone), "{bad}");
    }
}

#[test]
fn an_avatar_is_an_http_url_with_a_host_up_to_the_limit() {
    for good in ["https://cdn.example.com/a.png", "http://example.com"] {
        assert_eq!(AvatarUrl::parse(good).unwrap().as_str(), good);
    }
    for bad in [
        "javascript:alert(1)",
        "ftp://example.com/a.png",
        "data:image/png;base64,AAAA",
        "/relative/a.png",
        "https://",
        "not a url",
    ] {
        assert_eq!(AvatarUrl::parse(bad), Err(FieldError::AvatarUrl), "{bad}");
    }
    let url = |len: usize| format!("https://e.com/{}", "a".repeat(len - 14));
    assert_eq!(
        url(AvatarUrl::MAX_CHARS).chars().count(),
        AvatarUrl::MAX_CHARS
    );
    assert!(AvatarUrl::parse(&url(AvatarUrl::MAX_CHARS)).is_ok());
    assert_eq!(
        AvatarUrl::parse(&url(AvatarUrl::MAX_CHARS + 1)),
        Err(FieldError::AvatarUrl)
    );
}

#[test]
fn a_remark_is_at_most_max_characters_and_kept_as_sent() {
    assert!(Remark::parse(&"备".repeat(Remark::MAX_CHARS)).is_ok());
    assert_eq!(
        Remark::parse(&"备".repeat(Remark::MAX_CHARS + 1)),
        Err(FieldError::Remark)
    );
    assert_eq!(Remark::parse("").unwrap().as_str(), "");
    assert_eq!(Remark::parse(" vip ").unwrap().as_str(), " vip ");
}

#[test]
fn stored_values_are_kept_even_when_they_predate_a_rule() {
    let legacy = "x".repeat(DisplayName::MAX_CHARS + 5);
    assert!(DisplayName::parse(&legacy).is_err());
    assert_eq!(DisplayName::from_stored(legacy.clone()).as_str(), legacy);
    assert_eq!(DisplayName::from_stored(legacy.clone()).to_string(), legacy);
}

#[test]
fn errors_name_the_limits_of_their_type() {
    assert_eq!(
        FieldError::DisplayName.to_string(),
        format!(
            "display name must be 1 to {} characters",
            DisplayName::MAX_CHARS
        )
    );
    assert!(FieldError::Remark.to_string().contains("255"));
    assert!(FieldError::AvatarUrl.to_string().contains("512"));
}
