use super::*;
use crate::user::UserId;

const NOW: i64 = 1_700_000_000;

fn code(status: RedemptionStatus, quota: i64, expires_at: Option<i64>) -> Redemption {
    Redemption {
        id: 7,
        created_by: UserId::new(1),
        code: "c".into(),
        status,
        name: "promo".into(),
        quota,
        created_at: 0,
        redeemed_at: None,
        used_by: None,
        expires_at,
    }
}

fn edit(name: Option<&str>, quota: Option<i64>, expires_at: Option<i64>) -> RedemptionEdit {
    RedemptionEdit {
        name: name.map(str::to_owned),
        quota,
        expires_at,
    }
}

#[test]
fn an_edit_keeps_only_what_differs_and_absent_fields_stay() {
    let seen = code(RedemptionStatus::Enabled, 500, Some(NOW + 60));
    // The console sends the whole code back: unchanged values are no change.
    let same = edit(Some(" promo "), Some(500), Some(NOW + 60));
    assert!(
        plan_edit(&seen, &same, Role::Admin, NOW)
            .unwrap()
            .is_empty()
    );
    assert!(
        plan_edit(&seen, &RedemptionEdit::default(), Role::Admin, NOW)
            .unwrap()
            .is_empty()
    );
    let changes = plan_edit(
        &seen,
        &edit(Some("spring"), Some(400), Some(0)),
        Role::Admin,
        NOW,
    )
    .unwrap();
    assert_eq!(
        changes,
        RedemptionChanges {
            name: Some("spring".into()),
            quota: Some(400),
            expires_at: Some(None),
            status: None,
        }
    );
}

#[test]
fn an_edit_follows_the_rules_of_the_mint() {
    let seen = code(RedemptionStatus::Enabled, 500, None);
    // (edit, refusal) for an admin; None = accepted
    let cases: [(RedemptionEdit, Option<&str>); 10] = [
        (edit(Some(""), None, None), Some("InvalidName")),
        (edit(Some("   "), None, None), Some("InvalidName")),
        (
            edit(Some(&"码".repeat(21)), None, None),
            Some("InvalidName"),
        ),
        (edit(Some(&"码".repeat(20)), None, None), None),
        (edit(None, Some(0), None), Some("InvalidQuota")),
        (edit(None, Some(-5), None), Some("InvalidQuota")),
        (edit(None, Some(499), None), None),
        (edit(None, Some(501), None), Some("QuotaRaiseRootOnly")),
        (edit(None, None, Some(NOW - 1)), Some("ExpiryInPast")),
        (edit(None, None, Some(NOW)), None),
    ];
    for (e, refused) in cases {
        let got = plan_edit(&seen, &e, Role::Admin, NOW)
            .err()
            .map(|err| format!("{err:?}"));
        match refused {
            None => assert_eq!(got, None, "{e:?}"),
            Some(variant) => assert!(
                got.as_deref().is_some_and(|g| g.starts_with(variant)),
                "{e:?}: {got:?}"
            ),
        }
    }
}

#[test]
fn root_may_raise_a_quota_and_nobody_may_make_it_negative() {
    let seen = code(RedemptionStatus::Enabled, 500, None);
    let raised = plan_edit(&seen, &edit(None, Some(10_000), None), Role::Root, NOW).unwrap();
    assert_eq!(raised.quota, Some(10_000));
    assert!(matches!(
        plan_edit(&seen, &edit(None, Some(-1), None), Role::Root, NOW),
        Err(ManageRedemptionError::InvalidQuota)
    ));
}

#[test]
fn an_unchanged_past_expiry_does_not_block_a_rename() {
    let seen = code(RedemptionStatus::Enabled, 500, Some(NOW - 100));
    let changes = plan_edit(
        &seen,
        &edit(Some("renamed"), Some(500), Some(NOW - 100)),
        Role::Admin,
        NOW,
    )
    .unwrap();
    assert_eq!(changes.name.as_deref(), Some("renamed"));
    assert_eq!(changes.expires_at, None);
}

#[test]
fn a_used_code_may_be_renamed_but_keeps_quota_and_expiry() {
    let seen = code(RedemptionStatus::Used, 500, None);
    assert_eq!(
        plan_edit(
            &seen,
            &edit(Some("old"), Some(500), Some(0)),
            Role::Root,
            NOW
        )
        .unwrap()
        .name
        .as_deref(),
        Some("old")
    );
    for e in [
        edit(None, Some(100), None),
        edit(None, None, Some(NOW + 10)),
    ] {
        assert!(
            matches!(
                plan_edit(&seen, &e, Role::Root, NOW),
                Err(ManageRedemptionError::UsedCodeLocked)
            ),
            "{e:?}"
        );
    }
}

/// (current status, requested code, the new status (`None`: no change) or the refusal).
type Case = (
    RedemptionStatus,
    i64,
    Result<Option<RedemptionStatus>, &'static str>,
);

#[test]
fn status_changes_as_a_table() {
    use RedemptionStatus::{Disabled, Enabled, Used};
    let cases: [Case; 10] = [
        (Enabled, 2, Ok(Some(Disabled))),
        (Disabled, 1, Ok(Some(Enabled))),
        (Enabled, 1, Ok(None)),
        (Disabled, 2, Ok(None)),
        (Used, 1, Err("UsedCodeLocked")),
        (Used, 2, Err("UsedCodeLocked")),
        (Enabled, 3, Err("InvalidStatus")),
        (Used, 3, Err("InvalidStatus")),
        (Enabled, 0, Err("InvalidStatus")),
        (Disabled, -1, Err("InvalidStatus")),
    ];
    for (current, requested, expected) in cases {
        let got = plan_status(&code(current, 1, None), requested)
            .map(|c| c.status)
            .map_err(|e| format!("{e:?}"));
        match expected {
            Ok(status) => assert_eq!(got, Ok(status), "{current:?} -> {requested}"),
            Err(variant) => assert_eq!(
                got.err().as_deref(),
                Some(variant),
                "{current:?} -> {requested}"
            ),
        }
    }
}

#[test]
fn invalid_codes_are_used_disabled_or_expired() {
    use RedemptionStatus::{Disabled, Enabled, Used};
    let cases = [
        (Enabled, None, false),
        (Enabled, Some(NOW), false),
        (Enabled, Some(NOW + 1), false),
        (Enabled, Some(NOW - 1), true),
        (Disabled, None, true),
        (Disabled, Some(NOW + 1), true),
        (Used, None, true),
    ];
    for (status, expires_at, invalid) in cases {
        assert_eq!(
            is_invalid(&code(status, 1, expires_at), NOW),
            invalid,
            "{status:?} {expires_at:?}"
        );
    }
}

#[test]
fn the_audit_names_the_code_and_only_the_changed_fields() {
    let seen = code(RedemptionStatus::Enabled, 500, None);
    let changes = RedemptionChanges {
        quota: Some(400),
        status: Some(RedemptionStatus::Disabled),
        ..RedemptionChanges::default()
    };
    let (before, after) = changes.audit_values(&seen);
    assert_eq!(
        before,
        serde_json::json!({"id": 7, "quota": 500, "status": 1})
    );
    assert_eq!(
        after,
        serde_json::json!({"id": 7, "quota": 400, "status": 2})
    );
}

#[test]
fn a_keyword_is_a_name_prefix_and_an_id_when_numeric() {
    assert_eq!(
        RedemptionQuery::from_keyword("  "),
        RedemptionQuery::default()
    );
    assert_eq!(
        RedemptionQuery::from_keyword(" ui-made "),
        RedemptionQuery {
            name_prefix: Some("ui-made".into()),
            id: None
        }
    );
    assert_eq!(
        RedemptionQuery::from_keyword("42"),
        RedemptionQuery {
            name_prefix: Some("42".into()),
            id: Some(42)
        }
    );
    for not_an_id in ["0", "-3", "99999999999999999999"] {
        assert_eq!(
            RedemptionQuery::from_keyword(not_an_id).id,
            None,
            "{not_an_id}"
        );
    }
}
