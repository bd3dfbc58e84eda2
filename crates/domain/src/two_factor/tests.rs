use super::*;

#[test]
fn totp_codes_are_six_digits_after_removing_spaces() {
    let cases: [(&str, Result<&str, TotpFormatError>); 9] = [
        ("123456", Ok("123456")),
        (" 123 456 ", Ok("123456")),
        ("123\t456", Ok("123456")),
        ("", Err(TotpFormatError::Missing)),
        ("   ", Err(TotpFormatError::Missing)),
        ("12345", Err(TotpFormatError::Length)),
        ("1234567", Err(TotpFormatError::Length)),
        ("12345a", Err(TotpFormatError::NotNumeric)),
        // Six characters, not six ASCII digits (fullwidth digits are refused too).
        ("１２３４５６", Err(TotpFormatError::NotNumeric)),
    ];
    for (raw, expected) in cases {
        let got = TotpCode::parse(raw);
        match expected {
            Ok(code) => assert_eq!(got.map(|c| c.as_str().to_owned()), Ok(code.to_owned())),
            Err(e) => assert_eq!(got.map(|c| c.as_str().to_owned()), Err(e), "{raw:?}"),
        }
    }
}

#[test]
fn backup_codes_ignore_dashes_spaces_and_case() {
    for raw in [
        "ABCD-1234",
        "abcd-1234",
        "ABCD1234",
        " ab cd-12 34 ",
        "A-B-C-D-1-2-3-4",
    ] {
        assert_eq!(
            BackupCode::parse(raw).map(|c| c.as_str().to_owned()),
            Some("ABCD1234".to_owned()),
            "{raw:?}"
        );
    }
    for raw in [
        "ABCD-123",
        "ABCD-12345",
        "ABCD_1234",
        "ÄBCD-1234",
        "",
        "ABCD-123!",
    ] {
        assert_eq!(BackupCode::parse(raw), None, "{raw:?}");
    }
    let code = BackupCode::parse("wxyz9876").expect("well-formed");
    assert_eq!(code.display(), "WXYZ-9876");
}

#[test]
fn a_second_factor_is_a_totp_when_six_digits_else_a_backup_code() {
    assert!(matches!(
        SecondFactor::parse("123 456"),
        Some(SecondFactor::Totp(_))
    ));
    assert!(matches!(
        SecondFactor::parse("abcd-1234"),
        Some(SecondFactor::Backup(_))
    ));
    // Eight digits are a backup code (digits are in its alphabet).
    assert!(matches!(
        SecondFactor::parse("12345678"),
        Some(SecondFactor::Backup(_))
    ));
    for raw in ["", "12345", "1234567", "abc", "ABCD-12!4"] {
        assert_eq!(SecondFactor::parse(raw), None, "{raw:?}");
    }
}

#[test]
fn secrets_and_codes_are_redacted_in_debug() {
    let secret = TotpSecret::new("JBSWY3DPEHPK3PXP");
    let code = TotpCode::parse("123456").expect("code");
    let backup = BackupCode::parse("ABCD1234").expect("code");
    let stored = StoredBackupCode {
        id: 7,
        hash: "$argon2id$secret-hash".to_owned(),
    };
    let shown = format!("{secret:?} {code:?} {backup:?} {stored:?}");
    for secret in ["JBSWY3DPEHPK3PXP", "123456", "ABCD1234", "argon2id"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[test]
fn the_enabled_rate_has_one_decimal() {
    let rate = |enabled, total| {
        TwoFactorCounts {
            total_users: total,
            enabled_users: enabled,
        }
        .enabled_rate()
    };
    assert_eq!(rate(0, 0), "0.0%");
    assert_eq!(rate(0, 5), "0.0%");
    assert_eq!(rate(1, 3), "33.3%");
    assert_eq!(rate(2, 3), "66.7%");
    assert_eq!(rate(1, 8), "12.5%");
    assert_eq!(rate(3, 3), "100.0%");
    assert_eq!(rate(1, 1000), "0.1%");
    assert_eq!(rate(1, 3000), "0.0%");
}
