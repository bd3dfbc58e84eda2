use super::*;
use crate::groups::GroupSettings;
use crate::options::{RuntimeOptions, StaticOptions};
use crate::services::RegistrationPolicy;

fn options(turnstile: TurnstileSettings) -> Arc<dyn OptionsSource> {
    let mut o: RuntimeOptions =
        StaticOptions::with(RegistrationPolicy::default(), GroupSettings::default()).0;
    o.turnstile = turnstile;
    Arc::new(StaticOptions(o))
}

fn on() -> TurnstileSettings {
    TurnstileSettings {
        enabled: true,
        site_key: "0x4AAA-site".into(),
        secret_key: "0x4AAA-secret".into(),
    }
}

#[test]
fn the_check_turns_on_only_with_both_keys_and_stays_consistent() {
    let mut t = TurnstileSettings::default();
    assert!(matches!(
        t.set("TurnstileCheckEnabled", "true"),
        Some(Err(OptionError::InvalidValue { .. }))
    ));
    t.set("TurnstileSiteKey", " site ").unwrap().unwrap();
    assert!(t.set("TurnstileCheckEnabled", "true").unwrap().is_err());
    t.set(SECRET_KEY, "secret").unwrap().unwrap();
    t.set("TurnstileCheckEnabled", "true").unwrap().unwrap();
    assert_eq!(
        t,
        TurnstileSettings {
            enabled: true,
            site_key: "site".into(),
            secret_key: "secret".into(),
        }
    );
    // Clearing a key while on is refused and changes nothing; turning it off first works.
    let before = t.clone();
    assert!(t.set(SECRET_KEY, "").unwrap().is_err());
    assert!(t.set("TurnstileSiteKey", "").unwrap().is_err());
    assert!(t.set("TurnstileCheckEnabled", "yes").unwrap().is_err());
    assert!(t.set("TurnstileSiteKey", "a b").unwrap().is_err());
    assert_eq!(t, before);
    t.set("TurnstileCheckEnabled", "false").unwrap().unwrap();
    t.set(SECRET_KEY, "").unwrap().unwrap();
    assert!(t.set("NotTurnstile", "x").is_none());
}

#[test]
fn the_secret_is_stored_but_never_listed() {
    let t = on();
    let listed = t.to_map();
    assert_eq!(
        listed,
        [
            ("TurnstileSiteKey", "0x4AAA-site".to_owned()),
            ("TurnstileCheckEnabled", "true".to_owned())
        ]
    );
    assert!(listed.iter().all(|(_, v)| !v.contains("secret")));
    assert_eq!(t.secrets(), [(SECRET_KEY, "0x4AAA-secret".to_owned())]);
    // Stored values apply in `KEYS` order: the keys before the switch.
    let mut copy = TurnstileSettings::default();
    let stored: Vec<_> = listed.into_iter().chain(t.secrets()).collect();
    for key in KEYS {
        let (_, v) = stored.iter().find(|(k, _)| *k == key).unwrap();
        copy.set(key, v).unwrap().unwrap();
    }
    assert_eq!(copy, t);
}

#[tokio::test]
async fn off_needs_no_token_and_never_asks_the_provider() {
    let check = HumanCheck::new(
        Arc::new(MockHumanVerifier::new()),
        options(TurnstileSettings::default()),
    );
    check.check(None, Some("203.0.113.5")).await.unwrap();
    check.check(Some("anything"), None).await.unwrap();
}

#[tokio::test]
async fn on_every_request_needs_a_token_the_provider_accepts() {
    // Arrange: the provider accepts "good" from 203.0.113.5 with the configured secret.
    let mut verifier = MockHumanVerifier::new();
    verifier
        .expect_verify()
        .withf(|secret, _, ip| secret.expose() == "0x4AAA-secret" && *ip == Some("203.0.113.5"))
        .returning(|_, token, _| match token {
            "good" => Ok(true),
            "down" => Err(anyhow::anyhow!("connection refused")),
            _ => Ok(false),
        })
        .times(4);
    let check = HumanCheck::new(Arc::new(verifier), options(on()));
    let ip = Some("203.0.113.5");

    // Act / Assert
    assert!(matches!(
        check.check(None, ip).await,
        Err(HumanCheckError::TokenMissing)
    ));
    assert!(matches!(
        check.check(Some("  "), ip).await,
        Err(HumanCheckError::TokenMissing)
    ));
    assert!(matches!(
        check.check(Some("bad"), ip).await,
        Err(HumanCheckError::Failed)
    ));
    assert!(matches!(
        check.check(Some("down"), ip).await,
        Err(HumanCheckError::Unavailable(_))
    ));
    // A token longer than any Cloudflare issues is not sent.
    let long = "x".repeat(MAX_TOKEN_CHARS + 1);
    assert!(matches!(
        check.check(Some(&long), ip).await,
        Err(HumanCheckError::Failed)
    ));
    // A pass is not remembered: each request is verified (the mock counts four calls).
    check.check(Some(" good "), ip).await.unwrap();
    check.check(Some("good"), ip).await.unwrap();
    assert_eq!(
        check.status().await.unwrap(),
        TurnstileStatus {
            enabled: true,
            site_key: "0x4AAA-site".into()
        }
    );
}
