use serde::Deserialize;
use serde_json::json;

use super::*;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Body {
    #[allow(dead_code)]
    name: Option<String>,
    #[allow(dead_code)]
    count: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Strict {
    #[allow(dead_code)]
    password: String,
}

#[test]
fn every_c0_c1_and_del_character_is_refused_and_line_breaks_only_where_allowed() {
    for c in (0u32..0x20).chain(0x7f..0xa0).filter_map(char::from_u32) {
        let body = json!({"name": format!("a{c}b")});
        assert_eq!(
            check_body(&body, &[]).unwrap_err(),
            InputError::new(Part::Body, Some("name"), Reason::ControlCharacter),
            "{:?}",
            c
        );
        let multiline = check_body(&body, &["name"]);
        assert_eq!(multiline.is_ok(), matches!(c, '\t' | '\n' | '\r'), "{c:?}");
    }
    // Nested strings and keys too; printable text, including non-ASCII, is fine.
    assert!(check_body(&json!({"a": {"b": ["x\u{0}"]}}), &[]).is_err());
    assert!(check_body(&json!({"a\u{0}": 1}), &[]).is_err());
    assert!(check_body(&json!("\u{85}"), &[]).is_err());
    assert!(check_body(&json!({"name": "Zoë 名前 🚀 \u{a0}"}), &[]).is_ok());
}

#[test]
fn errors_name_the_field_and_a_fixed_reason_never_the_input() {
    let wrong = deserialize_body::<Body>(&json!({"name": "ok", "count": "secret-value"}));
    let err = wrong.unwrap_err();
    assert_eq!(
        err,
        InputError::new(Part::Body, Some("count"), Reason::WrongType)
    );
    assert_eq!(err.to_string(), "body field count: wrong type or value");
    let missing = deserialize_body::<Strict>(&json!({})).unwrap_err();
    assert_eq!(missing.to_string(), "body field password: missing");
    let not_object = deserialize_body::<Body>(&json!("hunter2")).unwrap_err();
    assert_eq!(not_object.to_string(), "body: must be a JSON object");
    assert!(!not_object.to_string().contains("hunter2"));
    // A client's key is never echoed unless it is a plain identifier.
    let odd = InputError::new(Part::Body, Some("a b<script>"), Reason::WrongType);
    assert_eq!(odd.to_string(), "body: wrong type or value");
}

#[test]
fn queries_are_checked_per_parameter() {
    #[derive(Debug, Deserialize)]
    struct Q {
        #[allow(dead_code)]
        p: Option<i64>,
        #[allow(dead_code)]
        keyword: Option<String>,
    }
    assert!(parse_query::<Q>("p=2&keyword=al%20ice").is_ok());
    let err = parse_query::<Q>("p=abc&keyword=x").err().unwrap();
    assert_eq!(err.to_string(), "query field p: wrong type or value");
    let err = parse_query::<Q>("keyword=a%00b").err().unwrap();
    assert_eq!(
        err.to_string(),
        "query field keyword: control characters are not allowed"
    );
    let err = parse_query::<Q>("p=99999999999999999999").err().unwrap();
    assert_eq!(err.to_string(), "query field p: wrong type or value");
}
