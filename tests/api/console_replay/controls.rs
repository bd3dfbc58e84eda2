//! Positive controls: the replay's checks do see what would break the console, so a green
//! replay means something.

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::checks::Checks;
use super::driver::Replay;
use super::outside_envelope;
use super::script;
use super::shapes::{not_found, setting, status_fields, user_row};
use crate::reply::Reply;

fn reply(status: u16, content_type: &str, body: Value) -> Reply {
    Reply {
        status,
        content_type: content_type.to_owned(),
        headers: HeaderMap::new(),
        body,
    }
}

fn json_reply(status: u16, body: Value) -> Reply {
    reply(status, "application/json", body)
}

/// The findings of `f` on `body`, joined.
fn findings(body: &Value, f: impl FnOnce(&mut Checks<'_>)) -> String {
    let mut c = Checks::new(body);
    f(&mut c);
    c.found.join("\n")
}

#[test]
fn the_checks_see_what_the_console_would_trip_over() {
    // A 401 (the console logs out) and an empty 405 (it shows "no server").
    let r = json_reply(401, json!({"success": false, "message": "无权进行此操作"}));
    let found = findings(&r.body, |c| not_found(c, &r));
    assert!(found.contains("a 401 logs the console out"), "{found}");
    let r = reply(405, "", Value::Null);
    let found = findings(&r.body, |c| not_found(c, &r));
    assert!(found.contains("expected HTTP 404"), "{found}");

    // A user row without `DeletedAt`, or with a password; a well-formed row passes.
    let row = json!({"id": 2, "username": "a", "display_name": "a", "role": 1, "status": 1,
        "group": "default", "quota": 0, "used_quota": 0, "aff_count": 0,
        "aff_history_quota": 0, "inviter_id": 0, "password": "", "DeletedAt": null});
    assert_eq!(findings(&json!({"row": row}), |c| user_row(c, "row")), "");
    let mut bad = row.clone();
    bad.as_object_mut().unwrap().remove("DeletedAt");
    bad["password"] = json!("hash");
    let found = findings(&json!({"row": bad}), |c| user_row(c, "row"));
    assert!(found.contains("row.DeletedAt: missing"), "{found}");
    assert!(found.contains("row.password"), "{found}");

    // `setting` that JSON.parse rejects, or that is not a string.
    let found = findings(&json!({"data": {"setting": "{not json"}}), |c| {
        setting(c);
    });
    assert!(found.contains("JSON.parse would throw"), "{found}");
    let found = findings(&json!({"data": {"setting": {}}}), |c| {
        setting(c);
    });
    assert!(found.contains("expected a string"), "{found}");

    // `/api/status` without `chats`, not set up, with an OAuth chooser.
    let found = findings(
        &json!({"data": {"setup": false, "github_oauth": true}}),
        status_fields,
    );
    for field in [
        "data.chats",
        "data.setup",
        "data.github_oauth",
        "data.price",
    ] {
        assert!(found.contains(field), "{field} not reported: {found}");
    }

    // A top-up price inside the envelope.
    let r = json_reply(200, json!({"success": true, "message": "", "data": "7.30"}));
    let found = findings(&r.body, |c| outside_envelope(c, &r));
    assert!(found.contains("outside the envelope"), "{found}");
}

#[tokio::test]
async fn the_replay_sees_when_it_goes_off_script() {
    // Step 06's `GET /api/user/self` was sent logged in as user 2; played logged out, the
    // header differs from the recording and the server answers 401.
    let mut replay = Replay::arrange(script::load()).await;
    let calls = replay.calls();
    let call = calls
        .iter()
        .find(|c| c.step == "06-login-user" && c.url == "/api/user/self")
        .expect("the recorded call");
    replay.play(call, true).await;
    let all = replay.problems.join("\n");
    assert!(all.contains("replay off script"), "{all}");
    assert!(all.contains("a 401 logs the console out"), "{all}");
    assert!(
        all.starts_with("[06-login-user] GET /api/user/self"),
        "{all}"
    );
}
