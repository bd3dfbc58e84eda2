use super::*;
use crate::groups::GroupSettings;
use crate::options::{RuntimeOptions, StaticOptions};
use crate::services::RegistrationPolicy;

fn set(s: &mut SiteSettings, key: &str, value: &str) -> Result<(), OptionError> {
    s.set(key, value).expect("a site key")
}

#[test]
fn every_listed_key_round_trips_and_the_derived_key_is_not_stored() {
    let mut s = SiteSettings::default();
    for (k, v) in [
        ("SystemName", " My Gateway "),
        ("Logo", "/logo.png"),
        (
            "Footer",
            "<a href=\"https://example.com\">Example</a>\n© 2025",
        ),
        ("Notice", "# Welcome\n\tIndented"),
        ("About", "https://example.com/about"),
        ("HomePageContent", "Hello"),
        ("QuotaPerUnit", "1000"),
        ("QuotaDisplayType", "CNY"),
        ("TopUpLink", "https://shop.example.com/buy?item=1"),
        ("DefaultUseAutoGroup", "true"),
    ] {
        set(&mut s, k, v).unwrap();
    }
    assert_eq!(s.system_name, "My Gateway");
    let listed: Vec<&str> = s.to_map().iter().map(|(k, _)| *k).collect();
    assert_eq!(listed, KEYS);
    let stored: Vec<&str> = s.to_storage_map().iter().map(|(k, _)| *k).collect();
    assert!(!stored.contains(&DERIVED_KEY) && stored.len() == KEYS.len() - 1);
    let mut copy = SiteSettings::default();
    for (k, v) in s.to_map() {
        set(&mut copy, k, &v).unwrap();
    }
    assert_eq!(copy, s);
    let mut from_storage = SiteSettings::default();
    for (k, v) in s.to_storage_map() {
        set(&mut from_storage, k, &v).unwrap();
    }
    assert_eq!(from_storage, s);
    assert!(SiteSettings::default().set("PayAddress", "x").is_none());
}

#[test]
fn invalid_values_are_refused_and_change_nothing() {
    let mut s = SiteSettings::default();
    let before = s.clone();
    let long = |n: usize| "x".repeat(n);
    let cases = [
        ("SystemName", String::new()),
        ("SystemName", "   ".to_owned()),
        ("SystemName", long(MAX_NAME_CHARS + 1)),
        ("SystemName", "two\nlines".to_owned()),
        ("Logo", "javascript:alert(1)".to_owned()),
        ("Logo", "//evil.example.com/x.png".to_owned()),
        ("Logo", "logo.png".to_owned()),
        ("Logo", "https://u:p@example.com/x.png".to_owned()),
        ("Logo", "/a b.png".to_owned()),
        ("Footer", long(MAX_FOOTER_CHARS + 1)),
        ("Footer", "bell\u{7}".to_owned()),
        ("Notice", long(MAX_CONTENT_CHARS + 1)),
        ("About", "nul\u{0}".to_owned()),
        ("QuotaPerUnit", "0".to_owned()),
        ("QuotaPerUnit", "-500000".to_owned()),
        ("QuotaPerUnit", "1.5".to_owned()),
        ("QuotaPerUnit", "lots".to_owned()),
        ("QuotaPerUnit", "1000000000001".to_owned()),
        ("QuotaDisplayType", "usd".to_owned()),
        ("QuotaDisplayType", "EUR".to_owned()),
        (DERIVED_KEY, "yes".to_owned()),
        ("TopUpLink", "ftp://shop.example.com".to_owned()),
        ("TopUpLink", "/relative".to_owned()),
        ("TopUpLink", "https://shop.example.com/a b".to_owned()),
        ("DefaultUseAutoGroup", "1".to_owned()),
    ];
    for (k, v) in cases {
        assert!(set(&mut s, k, &v).is_err(), "{k}={v:.40}");
        assert_eq!(s, before, "{k}={v:.40} changed something");
    }
}

#[test]
fn limits_and_spellings_that_are_accepted() {
    let mut s = SiteSettings::default();
    set(&mut s, "QuotaPerUnit", " 500000.0 ").unwrap();
    assert_eq!(s.quota_per_unit, 500_000);
    set(&mut s, "QuotaPerUnit", &MAX_QUOTA_PER_UNIT.to_string()).unwrap();
    set(&mut s, "SystemName", &"名".repeat(MAX_NAME_CHARS)).unwrap();
    set(&mut s, "Notice", &"字".repeat(MAX_CONTENT_CHARS)).unwrap();
    set(&mut s, "Logo", "https://cdn.example.com/logo.svg").unwrap();
    set(&mut s, "Logo", "").unwrap();
    set(&mut s, "TopUpLink", "").unwrap();
    assert_eq!((s.logo.as_str(), s.top_up_link.as_str()), ("", ""));
}

#[test]
fn display_in_currency_follows_and_sets_the_display_type() {
    let mut s = SiteSettings::default();
    let currency = |s: &SiteSettings| {
        s.to_map()
            .into_iter()
            .find(|(k, _)| *k == DERIVED_KEY)
            .map(|(_, v)| v)
    };
    assert_eq!(currency(&s).as_deref(), Some("true"));
    set(&mut s, DERIVED_KEY, "false").unwrap();
    assert_eq!(s.quota_display, QuotaDisplay::Tokens);
    assert_eq!(currency(&s).as_deref(), Some("false"));
    set(&mut s, DERIVED_KEY, "true").unwrap();
    assert_eq!(s.quota_display, QuotaDisplay::Usd);
    // A currency already chosen stays.
    set(&mut s, "QuotaDisplayType", "CNY").unwrap();
    set(&mut s, DERIVED_KEY, "true").unwrap();
    assert_eq!(s.quota_display, QuotaDisplay::Cny);
    set(&mut s, "QuotaDisplayType", "TOKENS").unwrap();
    assert_eq!(currency(&s).as_deref(), Some("false"));
}

#[test]
fn the_configuration_is_checked_by_the_same_rules() {
    let s = SiteSettings::configured("Shop", 1000, QuotaDisplay::Tokens).unwrap();
    assert_eq!(
        (s.system_name.as_str(), s.quota_per_unit, s.quota_display),
        ("Shop", 1000, QuotaDisplay::Tokens)
    );
    for (name, per_unit) in [("", 1000), ("Shop", 0), ("Shop", -1)] {
        assert!(
            SiteSettings::configured(name, per_unit, QuotaDisplay::Usd).is_err(),
            "{name:?} {per_unit}"
        );
    }
}

#[tokio::test]
async fn the_service_reads_the_current_options() {
    let mut o: RuntimeOptions =
        StaticOptions::with(RegistrationPolicy::default(), GroupSettings::default()).0;
    o.site.notice = "notice".into();
    o.site.about = "about".into();
    o.site.home_page_content = "home".into();
    o.payments.server_address = "https://pay.example.com".into();
    let svc = SiteService::new(Arc::new(StaticOptions(o)));
    assert_eq!(svc.text(SiteText::Notice).await.unwrap(), "notice");
    assert_eq!(svc.text(SiteText::About).await.unwrap(), "about");
    assert_eq!(svc.text(SiteText::HomePage).await.unwrap(), "home");
    let status = svc.status().await.unwrap();
    assert_eq!(status.server_address, "https://pay.example.com");
    assert_eq!(status.quota_per_unit, 500_000);
}
