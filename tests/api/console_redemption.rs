//! Replays the console's recorded calls on the redemption page (`fixtures/console_redemption.json`,
//! from shared/console-traffic): list, mint, search, open the edit form, disable, delete and
//! delete the invalid codes. Each call, with this run's own ids and credentials, must now succeed
//! with the shape the console reads; where the recording has a successful reply, the reply's
//! keys must be the same. Whole bodies are not compared (ids, keys and times differ by run).

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp};

const FIXTURE: &str = include_str!("fixtures/console_redemption.json");

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

/// This run's id of the recording's code `recorded` (ids were given in creation order there
/// and are here).
async fn our_id(app: &TestApp, recorded: i64) -> i64 {
    let ids = app
        .query_i64("SELECT id FROM redemptions ORDER BY id")
        .await;
    ids[usize::try_from(recorded - 1).unwrap()][0]
}

/// The recorded path with the recorded code id (`/api/redemption/3/`) replaced by ours.
async fn our_path(app: &TestApp, url: &str) -> String {
    let Some(rest) = url.strip_prefix("/api/redemption/") else {
        return url.to_owned();
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return url.to_owned();
    }
    let id = our_id(app, digits.parse().unwrap()).await;
    format!("/api/redemption/{id}{}", &rest[digits.len()..])
}

/// The item keys every list, search and read must serve (a recorded list item's keys).
fn item_keys(calls: &[Value]) -> BTreeSet<String> {
    let item = calls
        .iter()
        .find_map(|c| c["recorded_response"]["data"]["items"].get(0))
        .expect("a recorded list item");
    keys(item)
}

fn assert_page(data: &Value, expected_item_keys: &BTreeSet<String>, what: &str) {
    assert_eq!(
        keys(data),
        ["items", "page", "page_size", "total"]
            .map(String::from)
            .into(),
        "{what}"
    );
    for n in ["page", "page_size", "total"] {
        assert!(data[n].is_u64(), "{what}: {n} in {data}");
    }
    let items = data["items"].as_array().expect("items");
    assert_eq!(data["total"].as_u64(), Some(items.len() as u64), "{what}");
    for item in items {
        assert_eq!(&keys(item), expected_item_keys, "{what}");
    }
}

#[tokio::test]
async fn the_consoles_recorded_redemption_calls_now_succeed_with_the_shapes_it_reads() {
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    let calls = fixture["calls"].as_array().unwrap();
    let expected_item_keys = item_keys(calls);

    // Arrange the recording's starting state: two "console-test" codes, the first redeemed.
    let app = TestApp::spawn().await;
    let root: Session = app.root().await;
    let buyer = app.user("buyer").await;
    let minted = app
        .create_codes(
            &root,
            json!({"name": "console-test", "quota": 1_000_000, "count": 2}),
        )
        .await
        .success();
    app.redeem(&buyer, minted[0].as_str().unwrap())
        .await
        .success();

    for call in calls {
        let step = call["step"].as_str().unwrap();
        let method = Method::from_bytes(call["method"].as_str().unwrap().as_bytes()).unwrap();
        let url = call["url"].as_str().unwrap();
        let path = our_path(&app, url).await;
        let mut body = call["request_body"].clone();
        if let Some(id) = body.get("id").and_then(Value::as_i64) {
            body["id"] = our_id(&app, id).await.into();
        }
        let body = (!body.is_null()).then_some(body);
        let reply = app.call(&root, method.clone(), &path, body.clone()).await;
        let what = format!(
            "{step}: {method} {url} (recorded HTTP {})",
            call["recorded_status"]
        );
        let data = reply.success();
        let recorded = &call["recorded_response"];
        if recorded["success"] == true {
            assert_eq!(
                recorded["data"].is_object(),
                data.is_object(),
                "{what}: {data}"
            );
            if recorded["data"].is_object() {
                assert_eq!(keys(&recorded["data"]), keys(&data), "{what}");
            }
        }

        match (method.as_str(), url) {
            ("GET", u) if u.starts_with("/api/redemption/?") => {
                assert_page(&data, &expected_item_keys, &what);
            }
            ("GET", u) if u.starts_with("/api/redemption/search") => {
                assert_page(&data, &expected_item_keys, &what);
                let names: Vec<&str> = data["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["name"].as_str().unwrap())
                    .collect();
                assert_eq!(names, ["ui-made"], "{what}");
            }
            ("GET", _) => {
                // The edit form reads the code's fields.
                assert_eq!(keys(&data), expected_item_keys, "{what}");
                assert_eq!(data["name"], "ui-made", "{what}");
            }
            ("POST", _) => {
                let created = data.as_array().expect("the new keys");
                assert_eq!(created.len(), 1, "{what}");
            }
            ("PUT", _) => {
                // The console reads `data.status` after a status-only update.
                let sent = body.as_ref().unwrap();
                assert_eq!(data["status"], sent["status"], "{what}: {data}");
                assert_eq!(data["id"], sent["id"], "{what}");
            }
            ("DELETE", "/api/redemption/invalid") => {
                // Left by then: the used "console-test" code (invalid) and the unused one;
                // "ui-made" was disabled and then deleted.
                assert_eq!(data, json!(1), "{what}");
            }
            ("DELETE", _) => assert_eq!(reply.body, json!({"success": true, "message": ""})),
            other => panic!("{what}: no check for {other:?}"),
        }
    }

    // Only the unused "console-test" code is left, and nothing vanished from the ledger.
    let left = app
        .call(
            &root,
            Method::GET,
            "/api/redemption/?p=1&page_size=10",
            None,
        )
        .await
        .success();
    let items = left["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{left}");
    assert_eq!(
        (items[0]["name"].as_str(), items[0]["status"].as_i64()),
        (Some("console-test"), Some(1))
    );
    app.assert_ledger_balanced().await;
}
