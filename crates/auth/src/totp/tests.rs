use base64::Engine as _;

use super::*;

/// RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
const RFC_SEED: &[u8; 20] = b"12345678901234567890";

/// Appendix B's SHA-1 column, (time, 8-digit TOTP). A 6-digit code is the same truncated
/// value modulo 10^6, i.e. the last six digits.
const RFC_VECTORS: [(i64, &str); 6] = [
    (59, "94287082"),
    (1_111_111_109, "07081804"),
    (1_111_111_111, "14050471"),
    (1_234_567_890, "89005924"),
    (2_000_000_000, "69279037"),
    (20_000_000_000, "65353130"),
];

fn rfc_secret() -> TotpSecret {
    TotpSecret::new(Secret::from(*RFC_SEED).to_base32())
}

fn code(s: &str) -> TotpCode {
    TotpCode::parse(s).expect("six digits")
}

#[test]
fn the_rfc_6238_sha1_vectors_verify_at_their_step() {
    let engine = TotpRs;
    let secret = rfc_secret();
    assert_eq!(secret.expose(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    for (time, eight) in RFC_VECTORS {
        let six = &eight[2..];
        assert_eq!(
            engine.verify(&secret, &code(six), time).expect("verify"),
            Some(time / 30),
            "t={time} code={six}"
        );
    }
}

#[test]
fn one_step_of_skew_either_side_and_no_more() {
    let engine = TotpRs;
    let secret = rfc_secret();
    // 287082 is the code of step 1 (t = 30..59).
    let c = code("287082");
    for (now, expected) in [
        (0, Some(1)),
        (30, Some(1)),
        (59, Some(1)),
        (60, Some(1)),
        (89, Some(1)),
        (90, None),
    ] {
        assert_eq!(
            engine.verify(&secret, &c, now).expect("verify"),
            expected,
            "now={now}"
        );
    }
}

#[test]
fn a_wrong_code_or_a_bad_secret_does_not_verify() {
    let engine = TotpRs;
    assert_eq!(
        engine
            .verify(&rfc_secret(), &code("287083"), 59)
            .expect("verify"),
        None
    );
    assert!(
        engine
            .verify(&TotpSecret::new("not base32!"), &code("287082"), 59)
            .is_err()
    );
    assert!(engine.verify(&rfc_secret(), &code("287082"), -1).is_err());
}

#[test]
fn new_secrets_are_160_random_bits_in_base32() {
    let engine = TotpRs;
    let a = engine.new_secret().expect("secret");
    let b = engine.new_secret().expect("secret");
    assert_ne!(a, b);
    // 20 bytes are 32 base32 characters, no padding.
    assert_eq!(a.expose().len(), 32);
    assert!(
        a.expose()
            .bytes()
            .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c))
    );
    let decoded = Secret::try_from_base32(a.expose()).expect("base32");
    assert_eq!(decoded.as_bytes().len(), 20);
    // A new secret works with the engine.
    let totp = TotpRs::totp(&a).expect("usable");
    let now = 1_800_000_000;
    let current = totp.generate(now as u64).to_string();
    assert_eq!(
        engine.verify(&a, &code(&current), now).expect("verify"),
        Some(now / 30)
    );
}

#[test]
fn the_provisioning_url_is_percent_encoded() {
    let secret = TotpSecret::new("JBSWY3DPEHPK3PXP");
    let url = TotpRs.provisioning_url(&secret, "New API", "ali ce&x=1/é");
    assert_eq!(
        url,
        "otpauth://totp/New%20API:ali%20ce%26x%3D1%2F%C3%A9?secret=JBSWY3DPEHPK3PXP\
         &issuer=New%20API&algorithm=SHA1&digits=6&period=30"
    );
    // A colon would split the label again: it never appears in the issuer or account.
    let url = TotpRs.provisioning_url(&secret, "Corp:Prod", "a:b");
    assert!(
        url.starts_with("otpauth://totp/Corp%20Prod:a%20b?"),
        "{url}"
    );
    assert!(url.contains("&issuer=Corp%20Prod&"), "{url}");
}

#[test]
fn the_qr_code_is_a_png_data_url() {
    let url = TotpRs.provisioning_url(&rfc_secret(), "Tollgate", "alice");
    let data = TotpRs.qr_data_url(&url).expect("qr");
    let b64 = data
        .strip_prefix("data:image/png;base64,")
        .expect("data URL prefix");
    let png = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // Beyond what a QR code holds.
    assert!(TotpRs.qr_data_url(&"x".repeat(5000)).is_err());
}

#[test]
fn backup_codes_are_eight_characters_of_the_alphabet() {
    let mut seen = std::collections::HashSet::new();
    let mut chars = std::collections::HashSet::new();
    for _ in 0..500 {
        let c = TotpRs.backup_code().expect("code");
        assert_eq!(c.as_str().len(), 8);
        assert!(
            c.as_str()
                .bytes()
                .all(|b| BACKUP_CODE_ALPHABET.contains(&b))
        );
        chars.extend(c.as_str().chars());
        seen.insert(c.as_str().to_owned());
    }
    // 500 draws of 2^41 values do not repeat, and use the whole alphabet.
    assert_eq!(seen.len(), 500);
    assert_eq!(chars.len(), 36);
}
