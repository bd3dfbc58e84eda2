use std::time::Duration;

use wiremock::matchers::{body_string, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

fn client(server: &MockServer, timeout: Duration) -> TurnstileClient {
    let url = Url::parse(&format!("{}/siteverify", server.uri())).unwrap();
    TurnstileClient::new(url, timeout).unwrap()
}

async fn answering(reply: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/siteverify"))
        .respond_with(reply)
        .mount(&server)
        .await;
    server
}

fn secret() -> ProviderSecret {
    ProviderSecret::new("0x4AAA-secret")
}

#[tokio::test]
async fn the_token_secret_and_address_are_posted_as_a_form() {
    // Arrange: the server accepts exactly this form.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/siteverify"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string(
            "secret=0x4AAA-secret&response=tok+%2F%3D&remoteip=203.0.113.5",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "success": true, "challenge_ts": "2026-12-01T00:00:00Z", "hostname": "example.com"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server, Duration::from_secs(5));

    // Act / Assert
    assert!(
        c.verify(&secret(), "tok /=", Some("203.0.113.5"))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_refused_token_is_false_and_every_failure_is_an_error() {
    let refused = answering(ResponseTemplate::new(200).set_body_json(
        serde_json::json!({"success": false, "error-codes": ["timeout-or-duplicate"]}),
    ))
    .await;
    assert!(
        !client(&refused, Duration::from_secs(5))
            .verify(&secret(), "used", None)
            .await
            .unwrap()
    );

    let cases = [
        ResponseTemplate::new(500),
        ResponseTemplate::new(200).set_body_string("<html>not json</html>"),
        ResponseTemplate::new(302).insert_header("location", "https://elsewhere.example/"),
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"success": true}))
            .set_delay(Duration::from_secs(3)),
    ];
    for reply in cases {
        let server = answering(reply).await;
        let err = client(&server, Duration::from_millis(500))
            .verify(&secret(), "tok-7f3a", None)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("0x4AAA-secret") && !err.contains("tok-7f3a"),
            "{err}"
        );
    }
}
