//! Issue 7.4: presenting an already-rotated refresh token revokes its whole session (the token
//! family, RFC 9700 §4.14.2), audited; the race loser of two concurrent refreshes is a replay.

use serde_json::json;

use crate::helpers::{ROOT_PASSWORD, ROOT_USERNAME, TestApp};
use crate::reply::{Reply, send};
use crate::rest_helpers::{Tokens, bearer};

async fn audit_count(app: &TestApp, user_id: i64) -> i64 {
    app.query_i64(&format!(
        "SELECT COUNT(*) FROM audit WHERE action = 'refresh_token.reused' AND target_id = {user_id}"
    ))
    .await[0][0]
}

#[tokio::test]
async fn replaying_a_rotated_refresh_token_revokes_the_whole_session() {
    let app = TestApp::spawn().await;
    let t0 = app.rest_user("alice").await;
    // Another session of the same user must survive: only the replayed family dies.
    let other = app.rest_tokens("alice", crate::helpers::PASSWORD).await;
    let t1 = Tokens::from_data(&app.rest_refresh(&t0.refresh).await.ok(200, "令牌已刷新"));
    assert_eq!(t1.sid, t0.sid);
    app.profile_of(&t1.access).await;
    assert_eq!(audit_count(&app, t0.user_id).await, 0);

    // The thief (or the victim) replays rt0.
    let error = app.rest_refresh(&t0.refresh).await.err(401, "未认证");
    assert_eq!(error, "invalid or expired refresh token");

    // The whole family is dead: rt1, and every access token of the session.
    app.rest_refresh(&t1.refresh).await.err(401, "未认证");
    app.get_profile(&t1.access).await.unauthenticated();
    app.get_profile(&t0.access).await.unauthenticated();
    // The other session is untouched.
    app.profile_of(&other.access).await;
    app.rest_refresh(&other.refresh).await.ok(200, "令牌已刷新");

    // Audited once, with the session; a further replay changes nothing more.
    assert_eq!(audit_count(&app, t0.user_id).await, 1);
    app.rest_refresh(&t0.refresh).await.err(401, "未认证");
    assert_eq!(audit_count(&app, t0.user_id).await, 1);
    let root = app.rest_tokens(ROOT_USERNAME, ROOT_PASSWORD).await;
    let listed = send(bearer(
        &app,
        reqwest::Method::GET,
        &format!(
            "/api/v1/admin/audit?action=refresh_token.reused&target={}",
            t0.user_id
        ),
        &root.access,
    ))
    .await
    .ok(200, "获取成功");
    let entry = &listed["entries"][0];
    assert_eq!(entry["actor_id"], t0.user_id);
    assert_eq!(
        entry["after"],
        json!({"session": t0.sid, "reason": "refresh_token_reuse"})
    );
    assert_eq!(entry["ip"], "127.0.0.1");
}

#[tokio::test]
async fn a_refresh_token_that_was_never_issued_revokes_nothing() {
    let app = TestApp::spawn().await;
    let t0 = app.rest_user("alice").await;
    app.rest_refresh("never-issued").await.err(401, "未认证");
    app.rest_refresh(&format!("{}x", t0.refresh))
        .await
        .err(401, "未认证");
    app.profile_of(&t0.access).await;
    app.rest_refresh(&t0.refresh).await.ok(200, "令牌已刷新");
    assert_eq!(audit_count(&app, t0.user_id).await, 0);
}

/// Two clients present the same current token at once: exactly one gets a new pair, the other
/// presented a token that was (by then) rotated, which is a replay: the session is revoked, so
/// the winner's new pair dies too. Clients must not refresh one token concurrently.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_loser_of_a_concurrent_refresh_is_a_replay_and_revokes_the_session() {
    let app = TestApp::spawn().await;
    for round in 0..4 {
        let t0 = app.rest_user(&format!("racer{round}")).await;
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..2 {
            let req = app
                .client
                .post(app.url("/api/v1/auth/refresh"))
                .json(&json!({"refresh_token": t0.refresh}));
            set.spawn(send(req));
        }
        let replies: Vec<Reply> = set.join_all().await;
        let winners: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
        assert_eq!(winners.len(), 1, "round {round}: {replies:?}");
        let won = Tokens::from_data(&winners[0].ok(200, "令牌已刷新"));
        for r in replies.iter().filter(|r| r.status != 200) {
            r.err(401, "未认证");
        }
        app.get_profile(&won.access).await.unauthenticated();
        app.rest_refresh(&won.refresh).await.err(401, "未认证");
        assert_eq!(audit_count(&app, t0.user_id).await, 1, "round {round}");
    }
}
