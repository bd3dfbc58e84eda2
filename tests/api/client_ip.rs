//! Issue 10: the client address is the socket peer unless `server.trusted_proxies` names the
//! peer; only then is `X-Forwarded-For` read. A spoofed header from an untrusted peer changes
//! nothing: not the per-address limits, not the address the audit log records.

use serde_json::json;
use tollgate_api::proxies::TrustedProxies;

use crate::helpers::{PASSWORD, TestApp};
use crate::reply::{Reply, send};

async fn register_from(app: &TestApp, name: &str, forwarded_for: &str) -> Reply {
    send(
        app.client
            .post(app.url("/api/user/register"))
            .header("X-Forwarded-For", forwarded_for)
            .json(&json!({"username": name, "password": PASSWORD})),
    )
    .await
}

async fn failed_login_from(app: &TestApp, forwarded_for: &str) {
    let reply = send(
        app.client
            .post(app.url("/api/user/login"))
            .header("X-Forwarded-For", forwarded_for)
            .json(&json!({"username": "nobody", "password": "wrong-password"})),
    )
    .await;
    assert_eq!(reply.body["success"], false, "{reply}");
}

async fn failed_logins_recorded_from(app: &TestApp, ip: &str) -> i64 {
    app.query_i64(&format!(
        "SELECT COUNT(*) FROM audit WHERE action = 'login.failed' AND ip = '{ip}'"
    ))
    .await[0][0]
}

#[tokio::test]
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing() {
    // Arrange: no trusted proxies (the default); 2 registrations per address.
    let app = TestApp::spawn_with(|s| s.rate_limits.register_per_ip_per_hour = 2).await;

    // Act: every request claims another address.
    assert_eq!(register_from(&app, "one", "198.51.100.1").await.status, 200);
    assert_eq!(register_from(&app, "two", "198.51.100.2").await.status, 200);
    let third = register_from(&app, "three", "198.51.100.3").await;
    failed_login_from(&app, "198.51.100.4").await;

    // Assert: they all counted as 127.0.0.1.
    assert_eq!(third.status, 429, "{third}");
    assert_eq!(failed_logins_recorded_from(&app, "127.0.0.1").await, 1);
    assert_eq!(failed_logins_recorded_from(&app, "198.51.100.4").await, 0);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    // Arrange: the test client (127.0.0.1) is a trusted proxy.
    let app = TestApp::spawn_with(|s| {
        s.rate_limits.register_per_ip_per_hour = 2;
        s.server.trusted_proxies = TrustedProxies::parse(&["127.0.0.0/8"]).unwrap();
    })
    .await;

    // Act / Assert: each forwarded address has its own allowance...
    for (name, ip) in [("a1", "198.51.100.1"), ("a2", "198.51.100.1")] {
        assert_eq!(register_from(&app, name, ip).await.status, 200);
    }
    assert_eq!(register_from(&app, "a3", "198.51.100.1").await.status, 429);
    // ...a client-written entry left of the proxy's own is not believed...
    let spoofed = register_from(&app, "a4", "203.0.113.77, 198.51.100.1").await;
    assert_eq!(spoofed.status, 429, "{spoofed}");
    assert_eq!(register_from(&app, "b1", "198.51.100.2").await.status, 200);
    // ...and the audit log records the forwarded address, not the proxy's.
    failed_login_from(&app, "198.51.100.9").await;
    assert_eq!(failed_logins_recorded_from(&app, "198.51.100.9").await, 1);
    assert_eq!(failed_logins_recorded_from(&app, "127.0.0.1").await, 0);

    // A garbled header falls back to the peer.
    failed_login_from(&app, "not-an-address").await;
    assert_eq!(failed_logins_recorded_from(&app, "127.0.0.1").await, 1);
}
