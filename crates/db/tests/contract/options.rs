//! `OptionsRepository`: values are inserted or replaced with their audit records, all or
//! nothing.

use super::*;

fn values(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn option_audit() -> AuditEntry {
    AuditEntry::new(AuditAction::OptionChanged, Some(UserId::new(1)), None, NOW)
}

async fn options_are_upserted_with_their_audit_all_or_nothing(db: DatabaseConnection) {
    let options = SeaOptionsRepository::new(db.clone());
    let mut want = options.load().await.unwrap();
    assert!(!want.contains_key("ContractA"));

    // New keys are inserted, with every audit record given.
    let first = values(&[("ContractA", "1"), ("ContractB", "two")]);
    options
        .save(&first, &[option_audit(), option_audit()], NOW)
        .await
        .unwrap();
    want.extend(first);
    assert_eq!(options.load().await.unwrap(), want);
    assert_eq!(audit_count(&db, AuditAction::OptionChanged).await, 2);

    // An existing key is replaced; the others stay.
    let second = values(&[("ContractA", "3")]);
    options
        .save(&second, &[option_audit()], NOW + 1)
        .await
        .unwrap();
    want.extend(second);
    assert_eq!(options.load().await.unwrap(), want);
    assert_eq!(audit_count(&db, AuditAction::OptionChanged).await, 3);

    // The audit record cannot be written: no value is kept either.
    exec(&db, "ALTER TABLE audit RENAME TO audit_away").await;
    let failed = options
        .save(
            &values(&[("ContractA", "4"), ("ContractC", "5")]),
            &[option_audit()],
            NOW + 2,
        )
        .await;
    exec(&db, "ALTER TABLE audit_away RENAME TO audit").await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(options.load().await.unwrap(), want);
    assert_eq!(audit_count(&db, AuditAction::OptionChanged).await, 3);

    // Nothing to save is a no-op.
    options.save(&[], &[], NOW + 3).await.unwrap();
    assert_eq!(options.load().await.unwrap(), want);
}

stories!(options_are_upserted_with_their_audit_all_or_nothing);
