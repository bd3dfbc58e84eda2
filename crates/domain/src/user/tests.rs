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
        inviter_id: UserId::new(1),
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
