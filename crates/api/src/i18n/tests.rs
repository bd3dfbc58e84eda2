use super::*;

#[test]
fn quota_formats_exactly_in_dollars_or_points() {
    assert_eq!(
        format_quota(500_000, 500_000, "USD", Locale::ZhCn),
        "＄1.000000 额度"
    );
    assert_eq!(
        format_quota(1, 500_000, "USD", Locale::En),
        "$0.000002 quota"
    );
    assert_eq!(
        format_quota(-750_000, 500_000, "USD", Locale::En),
        "$-1.500000 quota"
    );
    assert_eq!(
        format_quota(i64::MAX, 500_000, "USD", Locale::En),
        "$18446744073709.551614 quota"
    );
    assert_eq!(
        format_quota(42, 500_000, "TOKENS", Locale::ZhCn),
        "42 点额度"
    );
}

#[test]
fn accept_language_picks_the_best_supported_tag() {
    let zh = Locale::ZhCn;
    assert_eq!(Locale::negotiate(None, zh), zh);
    assert_eq!(Locale::negotiate(Some("en-US,en;q=0.9"), zh), Locale::En);
    assert_eq!(
        Locale::negotiate(Some("fr-FR, en;q=0.5, zh;q=0.8"), Locale::En),
        zh
    );
    assert_eq!(Locale::negotiate(Some("fr, de"), Locale::En), Locale::En);
    assert_eq!(Locale::negotiate(Some("en;q=0"), zh), zh);
    assert_eq!(Locale::negotiate(Some("zh-CN"), Locale::En), zh);
}

#[test]
fn every_message_has_both_languages() {
    use Msg::*;
    for m in [
        InvalidParams,
        NotLoggedIn,
        RedeemUsed,
        RedemptionCountTooLarge,
        Internal,
    ]
    .into_iter()
    .chain(Msg::ALL.iter().copied())
    {
        assert!(!m.text(Locale::ZhCn).is_empty() && !m.text(Locale::En).is_empty());
        assert_ne!(m.text(Locale::ZhCn), m.text(Locale::En));
    }
}

#[test]
fn auth_messages_are_new_apis_exact_strings() {
    assert_eq!(
        Msg::NotLoggedIn.text(Locale::ZhCn),
        "无权进行此操作，未登录且未提供 access token"
    );
    assert_eq!(Msg::UserBanned.text(Locale::ZhCn), "用户已被封禁");
}

const ZH_CN: &str = include_str!("../../locales/zh-CN.json");
const EN: &str = include_str!("../../locales/en.json");

/// The `{name}`s of a text, sorted: written here again rather than taken from the build
/// script, so the two disagree if either is wrong.
fn names(text: &str) -> Vec<&str> {
    let mut names: Vec<&str> = text
        .split('{')
        .skip(1)
        .map(|s| s.split_once('}').map_or(s, |(name, _)| name))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

#[test]
fn every_key_is_in_both_locales_non_empty_with_the_same_placeholders_and_generated() {
    let zh: serde_json::Map<String, serde_json::Value> = serde_json::from_str(ZH_CN).unwrap();
    let en: serde_json::Map<String, serde_json::Value> = serde_json::from_str(EN).unwrap();
    assert_eq!(
        zh.keys().collect::<Vec<_>>(),
        en.keys().collect::<Vec<_>>(),
        "both locales list the same keys in the same order"
    );
    assert_eq!(Msg::ALL.len() + TEMPLATES.len(), zh.len());
    for (key, zh_text) in &zh {
        let zh_text = zh_text.as_str().unwrap();
        let en_text = en[key].as_str().unwrap();
        assert!(
            !zh_text.trim().is_empty() && !en_text.trim().is_empty(),
            "{key}"
        );
        let placeholders = names(zh_text);
        assert_eq!(placeholders, names(en_text), "{key}");
        if placeholders.is_empty() {
            let msg = Msg::ALL.iter().find(|m| m.key() == key).unwrap();
            assert_eq!(msg.text(Locale::ZhCn), zh_text, "{key}");
            assert_eq!(msg.text(Locale::En), en_text, "{key}");
        } else {
            let (_, generated) = TEMPLATES.iter().find(|(k, _)| k == key).unwrap();
            assert_eq!(*generated, placeholders.as_slice(), "{key}");
        }
    }
}

#[test]
fn messages_with_placeholders_fill_them_in_each_locale() {
    assert_eq!(
        transfer_minimum("＄1.000000 额度", Locale::ZhCn),
        "划转失败 转移额度最小为＄1.000000 额度！"
    );
    assert_eq!(
        transfer_minimum("42 quota points", Locale::En),
        "Transfer failed: minimum transfer quota is 42 quota points!"
    );
    assert_eq!(
        mint_limit_exceeded("7 点额度", Locale::ZhCn),
        "超出管理员 24 小时内的兑换码生成额度上限，剩余可生成 7 点额度"
    );
    assert_eq!(
        mint_limit_exceeded("$0.5 quota", Locale::En),
        "Exceeds the administrators' minting limit per 24 hours; $0.5 quota left"
    );
    assert_eq!(
        option_value_invalid("GroupRatio", Locale::ZhCn),
        "选项值无效：GroupRatio"
    );
    assert_eq!(
        option_unknown("NoSuchOption", Locale::En),
        "Invalid option value: unknown option NoSuchOption"
    );
}

fn check(zh: &str, en: &str) -> Result<Vec<catalogue::Message>, String> {
    catalogue::parse(&[("zh-CN", zh), ("en", en)])
}

#[test]
fn the_build_refuses_a_catalogue_that_is_incomplete_or_inconsistent() {
    let ok = check(
        r#"{"Hello": "你好", "Min": "最小{min}"}"#,
        r#"{"Hello": "Hi", "Min": "at least {min}"}"#,
    )
    .unwrap();
    assert_eq!(ok.len(), 2);
    assert_eq!(ok[1].placeholders, ["min"]);
    for (zh, en, why) in [
        (
            r#"{"A": "甲", "B": "乙"}"#,
            r#"{"A": "a"}"#,
            "B is in zh-CN.json but missing from en.json",
        ),
        (
            r#"{"A": "甲"}"#,
            r#"{"A": "a", "B": "b"}"#,
            "B is in en.json but missing from zh-CN.json",
        ),
        (
            r#"{"A": "甲"}"#,
            r#"{"A": " "}"#,
            "en.json: A: the text is empty",
        ),
        (
            r#"{"A": "甲{n}"}"#,
            r#"{"A": "a {m}"}"#,
            "A: placeholders [\"m\"] in en.json differ",
        ),
        (
            r#"{"A": "甲{n}"}"#,
            r#"{"A": "a"}"#,
            "A: placeholders [] in en.json differ",
        ),
        (r#"{"A": "甲{n"}"#, r#"{"A": "a {n}"}"#, "unclosed '{'"),
        (r#"{"A": "甲}"}"#, r#"{"A": "a"}"#, "unmatched '}'"),
        (
            r#"{"A": "甲{N}"}"#,
            r#"{"A": "a {N}"}"#,
            "must be a snake_case name",
        ),
        (
            r#"{"A": "甲{locale}"}"#,
            r#"{"A": "a {locale}"}"#,
            "other than `locale`",
        ),
        (
            r#"{"a_b": "甲"}"#,
            r#"{"a_b": "a"}"#,
            "is not a PascalCase name",
        ),
        (r#"{"A": 1}"#, r#"{"A": "a"}"#, "the text must be a string"),
        (r#"["A"]"#, r#"{"A": "a"}"#, "must be one JSON object"),
    ] {
        let err = check(zh, en).unwrap_err();
        assert!(err.contains(why), "{zh} / {en}: {err}");
    }
}

#[test]
fn the_generated_code_types_placeholders_and_escapes_texts() {
    let messages = check(
        r#"{"Quote": "说\"好\"", "MintLimitExceeded": "剩余 {remaining}，至少 {min}"}"#,
        r#"{"Quote": "say \"yes\" <b>", "MintLimitExceeded": "{remaining} left, {min} at least"}"#,
    )
    .unwrap();
    let code = catalogue::generate(&messages);
    assert!(code.contains("    Quote,\n"), "{code}");
    assert!(
        code.contains(r#"Msg::Quote => "say \"yes\" <b>","#),
        "{code}"
    );
    assert!(code.contains(r#"/// en: say "yes" \<b\>"#), "{code}");
    assert!(
        code.contains(
            "pub fn mint_limit_exceeded(min: impl ::std::fmt::Display, \
             remaining: impl ::std::fmt::Display, locale: Locale) -> String {"
        ),
        "{code}"
    );
    assert!(code.contains(r#"Locale::En => format!("{remaining} left, {min} at least"),"#));
    assert!(code.contains(r#"("MintLimitExceeded", &["min", "remaining"]),"#));
}

/// The catalogue keeps New API's exact texts, so their numbers are written out; each must be
/// the limit of the value type that enforces it.
#[test]
fn length_messages_state_the_limits_of_their_types() {
    use tollgate_domain::{DisplayName, Password, Remark, Username};
    let (u, d, r) = (
        Username::MAX_CHARS,
        DisplayName::MAX_CHARS,
        Remark::MAX_CHARS,
    );
    let (p_min, p_max) = (Password::MIN_CHARS, Password::MAX_CHARS);
    let cases = [
        (
            Msg::UsernameLength,
            format!("1 to {u} "),
            format!("1-{u}个"),
        ),
        (
            Msg::PasswordLength,
            format!("{p_min} to {p_max} "),
            format!("{p_min}-{p_max}个"),
        ),
        (
            Msg::DisplayNameLength,
            format!("1 to {d} "),
            format!("1-{d}个"),
        ),
        (
            Msg::RemarkLength,
            format!("at most {r} "),
            format!("超过{r}个"),
        ),
    ];
    for (msg, en, zh) in cases {
        assert!(msg.text(Locale::En).contains(&en), "{msg:?}: {en}");
        assert!(msg.text(Locale::ZhCn).contains(&zh), "{msg:?}: {zh}");
    }
}
