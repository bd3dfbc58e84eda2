#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use tollgate_domain::payment::{
    CheckoutRequest, Decimal, ProviderOrderState, ProviderSecret, StripeGateway, StripeSession,
    WebhookRejection,
};
use url::Url;
use wiremock::matchers::{any, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{StripeApiError, StripeClient, stripe_signature_header, verify_stripe_webhook};

const SECRET: &str = "sk_test_51SecretValue";
const WEBHOOK_SECRET: &str = "whsec_test_secret";
const T: i64 = 1_700_000_000;
const EVENT: &str = r#"{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"id":"cs_test_1","object":"checkout.session","client_reference_id":"ref_1","status":"complete","payment_status":"paid","amount_total":5997,"currency":"usd","customer":"cus_1"}}}"#;
// Computed independently with Python, not with this code:
//   hmac.new(b"whsec_test_secret", f"1700000000.{EVENT}".encode(), hashlib.sha256).hexdigest()
const V1: &str = "ef00b3dfec7f1e73f70c7023c0c390ded0cdec81c2d52fda250c6490c00d509e";
// The same with the key b"whsec_other".
const V1_OTHER_SECRET: &str = "cfdc7dcd4422c8c8afe7f89c515cb1539956610d27bd100b0383cc4542aca678";

fn webhook_secret() -> ProviderSecret {
    ProviderSecret::new(WEBHOOK_SECRET)
}

fn verify(payload: &str, header: Option<&str>, now: i64) -> Result<String, WebhookRejection> {
    verify_stripe_webhook(payload.as_bytes(), header, &webhook_secret(), now).map(|e| e.id)
}

fn good_header() -> String {
    format!("t={T},v1={V1}")
}

#[test]
fn the_signature_header_matches_the_python_vector() {
    assert_eq!(
        stripe_signature_header(EVENT.as_bytes(), &webhook_secret(), T),
        good_header()
    );
}

#[test]
fn a_signed_event_verifies_and_carries_its_session() {
    let client = StripeClient::new(
        Url::parse("http://127.0.0.1:9").unwrap(),
        Duration::from_secs(1),
    )
    .unwrap();

    let event = client
        .verify_webhook(EVENT.as_bytes(), Some(&good_header()), &webhook_secret(), T)
        .unwrap();

    assert_eq!(event.id, "evt_1");
    assert_eq!(event.kind, "checkout.session.completed");
    let session = event.session.unwrap();
    assert_eq!(
        session,
        StripeSession {
            id: "cs_test_1".into(),
            client_reference_id: Some("ref_1".into()),
            status: "complete".into(),
            payment_status: "paid".into(),
            amount_total: Some(5997),
            currency: Some("usd".into()),
            customer: Some("cus_1".into()),
        }
    );
    assert_eq!(
        session.order_state(),
        ProviderOrderState::Paid {
            money: Decimal::new(5997, 2)
        }
    );
}

#[test]
fn the_tolerance_holds_both_ways_and_no_further() {
    let h = good_header();
    assert_eq!(verify(EVENT, Some(&h), T + 300).unwrap(), "evt_1");
    assert_eq!(verify(EVENT, Some(&h), T - 300).unwrap(), "evt_1");
    assert_eq!(
        verify(EVENT, Some(&h), T + 301),
        Err(WebhookRejection::Stale)
    );
    assert_eq!(
        verify(EVENT, Some(&h), T - 301),
        Err(WebhookRejection::Stale)
    );
    assert_eq!(
        verify(EVENT, Some(&h), i64::MAX),
        Err(WebhookRejection::Stale)
    );
    assert_eq!(
        verify(EVENT, Some(&h), i64::MIN),
        Err(WebhookRejection::Stale)
    );
}

#[test]
fn a_tampered_payload_or_another_secret_is_a_bad_signature() {
    let tampered = EVENT.replace("5997", "9999");
    assert_eq!(
        verify(&tampered, Some(&good_header()), T),
        Err(WebhookRejection::BadSignature)
    );
    let other = format!("t={T},v1={V1_OTHER_SECRET}");
    assert_eq!(
        verify(EVENT, Some(&other), T),
        Err(WebhookRejection::BadSignature)
    );
    // The right signature under another timestamp is not valid either.
    let moved = format!("t={},v1={V1}", T + 1);
    assert_eq!(
        verify(EVENT, Some(&moved), T),
        Err(WebhookRejection::BadSignature)
    );
    let wrong_secret = verify_stripe_webhook(
        EVENT.as_bytes(),
        Some(&good_header()),
        &ProviderSecret::new("whsec_other"),
        T,
    );
    assert_eq!(wrong_secret.unwrap_err(), WebhookRejection::BadSignature);
}

#[test]
fn any_of_several_v1_values_may_match_and_other_schemes_are_ignored() {
    for header in [
        format!("t={T},v1={V1_OTHER_SECRET},v1={V1}"),
        format!("t={T}, v1={V1}, v0=deadbeef"),
        format!("v1={V1},t={T}"),
        format!("t={T},v1=not-hex,v1={V1}"),
    ] {
        assert_eq!(
            verify(EVENT, Some(&header), T).unwrap(),
            "evt_1",
            "{header}"
        );
    }
    // v0 alone (Stripe's test scheme) is not accepted as a signature.
    assert_eq!(
        verify(EVENT, Some(&format!("t={T},v0={V1}")), T),
        Err(WebhookRejection::MalformedSignature)
    );
    assert_eq!(
        verify(EVENT, Some(&format!("t={T},v1=zz")), T),
        Err(WebhookRejection::BadSignature)
    );
}

#[test]
fn a_missing_or_malformed_header_is_refused() {
    assert_eq!(
        verify(EVENT, None, T),
        Err(WebhookRejection::MissingSignature)
    );
    assert_eq!(
        verify(EVENT, Some("  "), T),
        Err(WebhookRejection::MissingSignature)
    );
    for header in [
        "garbage".to_owned(),
        format!("v1={V1}"),
        format!("t={T}"),
        format!("t=abc,v1={V1}"),
        format!("t=-{T},v1={V1}"),
        format!("t=,v1={V1}"),
        format!("t={T},t={T},v1={V1}"),
        format!("t=99999999999999999999,v1={V1}"),
        format!("t={T};v1={V1}"),
    ] {
        assert_eq!(
            verify(EVENT, Some(&header), T),
            Err(WebhookRejection::MalformedSignature),
            "{header}"
        );
    }
}

#[test]
fn an_empty_webhook_secret_verifies_nothing() {
    let empty = ProviderSecret::new("");
    // Signed with the empty key, which anyone can do.
    let header = stripe_signature_header(EVENT.as_bytes(), &empty, T);
    assert_eq!(
        verify_stripe_webhook(EVENT.as_bytes(), Some(&header), &empty, T).unwrap_err(),
        WebhookRejection::BadSignature
    );
}

#[test]
fn a_signed_body_that_is_not_an_event_is_a_bad_payload() {
    for body in [
        "not json",
        "{}",
        r#"{"id":"evt_1","type":"x"}"#,
        r#"{"id":"evt_1","type":"x","data":{"object":"str"}}"#,
        // A checkout.session without payment_status.
        r#"{"id":"evt_1","type":"x","data":{"object":{"object":"checkout.session","id":"cs_1"}}}"#,
    ] {
        let header = stripe_signature_header(body.as_bytes(), &webhook_secret(), T);
        assert_eq!(
            verify(body, Some(&header), T),
            Err(WebhookRejection::BadPayload),
            "{body}"
        );
    }
}

#[test]
fn events_about_other_objects_have_no_session_and_expanded_customers_are_read() {
    let body = r#"{"id":"evt_2","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","object":"payment_intent"}}}"#;
    let header = stripe_signature_header(body.as_bytes(), &webhook_secret(), T);
    let event =
        verify_stripe_webhook(body.as_bytes(), Some(&header), &webhook_secret(), T).unwrap();
    assert_eq!(event.kind, "payment_intent.succeeded");
    assert_eq!(event.session, None);

    let body = r#"{"id":"evt_3","type":"checkout.session.expired","data":{"object":{"id":"cs_test_2","object":"checkout.session","status":"expired","payment_status":"unpaid","customer":{"id":"cus_9","object":"customer"},"amount_total":null}}}"#;
    let header = stripe_signature_header(body.as_bytes(), &webhook_secret(), T);
    let session = verify_stripe_webhook(body.as_bytes(), Some(&header), &webhook_secret(), T)
        .unwrap()
        .session
        .unwrap();
    assert_eq!(session.customer.as_deref(), Some("cus_9"));
    assert_eq!(session.client_reference_id, None);
    assert_eq!(session.order_state(), ProviderOrderState::Expired);
}

// --- the REST API against a local fake ---

fn secret() -> ProviderSecret {
    ProviderSecret::new(SECRET)
}

fn client(server: &MockServer) -> StripeClient {
    StripeClient::new(Url::parse(&server.uri()).unwrap(), Duration::from_secs(5)).unwrap()
}

fn checkout(email: Option<&str>, promotions: bool) -> CheckoutRequest {
    CheckoutRequest {
        client_reference_id: "ref_abc".into(),
        price_id: "price_123".into(),
        quantity: 3,
        allow_promotion_codes: promotions,
        customer_email: email.map(str::to_owned),
        success_url: "https://tollgate.example/console/log?a=1&b=2".into(),
        cancel_url: "https://tollgate.example/console/topup".into(),
        idempotency_key: "topup-ref_abc".into(),
    }
}

async fn form_of_the_one_request(server: &MockServer) -> BTreeMap<String, String> {
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        r.headers.get("content-type").unwrap(),
        "application/x-www-form-urlencoded"
    );
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&r.body).into_owned().collect();
    let map: BTreeMap<String, String> = form.iter().cloned().collect();
    assert_eq!(map.len(), form.len(), "a field was sent twice: {form:?}");
    map
}

fn pairs(p: &[(&str, &str)]) -> BTreeMap<String, String> {
    p.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn creating_a_session_sends_the_form_the_secret_and_the_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(header("authorization", format!("Bearer {SECRET}").as_str()))
        .and(header("idempotency-key", "topup-ref_abc"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_test_a1B2", "object": "checkout.session",
            "url": "https://checkout.stripe.com/c/pay/cs_test_a1B2", "status": "open"
        })))
        .expect(1)
        .mount(&server)
        .await;

    let session = client(&server)
        .create_checkout_session(&secret(), &checkout(Some("ann@example.com"), true))
        .await
        .unwrap();

    assert_eq!(session.id, "cs_test_a1B2");
    assert_eq!(
        session.url,
        "https://checkout.stripe.com/c/pay/cs_test_a1B2"
    );
    assert_eq!(
        form_of_the_one_request(&server).await,
        pairs(&[
            ("mode", "payment"),
            ("client_reference_id", "ref_abc"),
            ("line_items[0][price]", "price_123"),
            ("line_items[0][quantity]", "3"),
            ("allow_promotion_codes", "true"),
            ("customer_email", "ann@example.com"),
            ("customer_creation", "always"),
            (
                "success_url",
                "https://tollgate.example/console/log?a=1&b=2"
            ),
            ("cancel_url", "https://tollgate.example/console/topup"),
        ])
    );
}

#[tokio::test]
async fn without_an_email_no_customer_fields_are_sent_and_a_base_path_is_kept() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/stripe/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_test_x", "url": "http://fake/pay/cs_test_x"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let base = Url::parse(&format!("{}/stripe/", server.uri())).unwrap();
    let client = StripeClient::new(base, Duration::from_secs(5)).unwrap();

    client
        .create_checkout_session(&secret(), &checkout(None, false))
        .await
        .unwrap();

    let form = form_of_the_one_request(&server).await;
    assert_eq!(form["allow_promotion_codes"], "false");
    assert!(!form.contains_key("customer_email"));
    assert!(!form.contains_key("customer_creation"));
}

#[tokio::test]
async fn a_stripe_refusal_carries_stripes_message_and_never_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "type": "invalid_request_error", "code": "resource_missing", "param": "line_items[0][price]",
            // A message that echoes the secret: cut out here whatever Stripe sends.
            "message": format!("No such price: 'price_123' (key {SECRET})")
        }})))
        .expect(1)
        .mount(&server)
        .await;

    let err = client(&server)
        .create_checkout_session(&secret(), &checkout(None, false))
        .await
        .unwrap_err();

    let api = err
        .downcast_ref::<StripeApiError>()
        .expect("a StripeApiError");
    assert_eq!(api.status, 400);
    assert_eq!(api.code.as_deref(), Some("resource_missing"));
    assert_eq!(api.message, "No such price: 'price_123' (key <redacted>)");
    let text = format!("{err:#} {err:?}");
    assert!(text.contains("No such price"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
}

#[tokio::test]
async fn unreadable_creation_replies_are_errors() {
    for reply in [
        ResponseTemplate::new(200).set_body_string("<html>"),
        ResponseTemplate::new(200).set_body_json(json!({"id": "pi_123", "url": "http://x"})),
        ResponseTemplate::new(200).set_body_json(json!({"id": "cs_test_1", "url": null})),
        ResponseTemplate::new(502).set_body_string("bad gateway"),
        ResponseTemplate::new(301).insert_header("Location", "https://elsewhere.example/"),
    ] {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(reply)
            .expect(1)
            .mount(&server)
            .await;
        let err = client(&server)
            .create_checkout_session(&secret(), &checkout(None, false))
            .await
            .unwrap_err();
        assert!(!format!("{err:#} {err:?}").contains(SECRET));
    }
}

#[tokio::test]
async fn nothing_is_sent_without_a_secret_or_with_a_zero_quantity() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let c = client(&server);
    assert!(
        c.create_checkout_session(&ProviderSecret::new(""), &checkout(None, false))
            .await
            .is_err()
    );
    let mut zero = checkout(None, false);
    zero.quantity = 0;
    assert!(c.create_checkout_session(&secret(), &zero).await.is_err());
}

#[tokio::test]
async fn retrieving_a_session_reads_its_state() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/checkout/sessions/cs_test_a1B2"))
        .and(header("authorization", format!("Bearer {SECRET}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_test_a1B2", "object": "checkout.session", "client_reference_id": "ref_abc",
            "status": "complete", "payment_status": "paid", "amount_total": 2400,
            "currency": "usd", "customer": "cus_42", "url": null
        })))
        .expect(1)
        .mount(&server)
        .await;

    let session = client(&server)
        .retrieve_session(&secret(), "cs_test_a1B2")
        .await
        .unwrap();

    assert_eq!(session.client_reference_id.as_deref(), Some("ref_abc"));
    assert_eq!(session.customer.as_deref(), Some("cus_42"));
    assert_eq!(
        session.order_state(),
        ProviderOrderState::Paid {
            money: Decimal::new(2400, 2)
        }
    );
}

#[tokio::test]
async fn a_missing_session_is_stripes_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/checkout/sessions/cs_test_gone"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {
            "type": "invalid_request_error", "code": "resource_missing",
            "message": "No such checkout.session: 'cs_test_gone'"
        }})))
        .expect(1)
        .mount(&server)
        .await;

    let err = client(&server)
        .retrieve_session(&secret(), "cs_test_gone")
        .await
        .unwrap_err();

    let api = err.downcast_ref::<StripeApiError>().unwrap();
    assert_eq!(api.status, 404);
    assert_eq!(api.message, "No such checkout.session: 'cs_test_gone'");
}

#[tokio::test]
async fn a_session_id_that_could_change_the_path_is_refused_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let c = client(&server);
    for id in [
        "",
        "cs_",
        "pi_123",
        "cs_../../v1/customers",
        "cs_a/b",
        "cs_a?expand[]=x",
        "cs_a%2Fb",
        "cs_a#b",
        "cs_ä",
        &format!("cs_{}", "a".repeat(300)),
    ] {
        assert!(c.retrieve_session(&secret(), id).await.is_err(), "{id:?}");
    }
}

#[tokio::test]
async fn a_reply_about_another_session_or_a_slow_one_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/checkout/sessions/cs_test_1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_test_OTHER", "object": "checkout.session", "status": "open",
            "payment_status": "unpaid"
        })))
        .mount(&server)
        .await;
    Mock::given(path("/v1/checkout/sessions/cs_test_slow"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "cs_test_slow", "payment_status": "unpaid"}))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let c = StripeClient::new(
        Url::parse(&server.uri()).unwrap(),
        Duration::from_millis(300),
    )
    .unwrap();

    assert!(c.retrieve_session(&secret(), "cs_test_1").await.is_err());
    let err = c
        .retrieve_session(&secret(), "cs_test_slow")
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("did not answer"), "{err:#}");
}

#[test]
fn the_api_base_must_be_http() {
    for bad in [
        "ftp://api.stripe.com",
        "https://api.stripe.com/?x=1",
        "mailto:a@b.c",
    ] {
        assert!(
            StripeClient::new(Url::parse(bad).unwrap(), Duration::from_secs(1)).is_err(),
            "{bad}"
        );
    }
    let ok = StripeClient::new(
        Url::parse(super::DEFAULT_STRIPE_API_BASE).unwrap(),
        Duration::from_secs(1),
    )
    .unwrap();
    assert_eq!(
        ok.sessions_url(Some("cs_live_1")).as_str(),
        "https://api.stripe.com/v1/checkout/sessions/cs_live_1"
    );
}
