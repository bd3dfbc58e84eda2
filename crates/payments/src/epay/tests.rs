#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use tollgate_domain::payment::{
    Decimal, EpayGateway, EpayMerchant, ProviderOrderState, ProviderSecret,
};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{EpayClient, epay_sign, epay_verify, order_query_url};

const KEY: &str = "s3cr3tKEY";

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn key() -> ProviderSecret {
    ProviderSecret::new(KEY)
}

/// The purchase parameters of spec §5.2, with `sign`, `sign_type` and an empty value that the
/// rule leaves out.
fn purchase() -> BTreeMap<String, String> {
    params(&[
        ("pid", "1001"),
        ("type", "alipay"),
        ("out_trade_no", "USR1NOab12CD1700000000"),
        (
            "notify_url",
            "https://tollgate.example/api/user/epay/notify",
        ),
        ("return_url", "https://tollgate.example/console/log"),
        ("name", "TUC10"),
        ("money", "73.00"),
        ("device", "pc"),
        ("sign_type", "MD5"),
        ("sign", "ignored"),
        ("param", ""),
    ])
}

// The expected hex strings below were computed independently with Python's hashlib, not with
// this code:
//   items = sorted((k, v) for k, v in p.items() if k not in ("sign", "sign_type") and v != "")
//   hashlib.md5(("&".join(f"{k}={v}" for k, v in items) + key).encode()).hexdigest()

#[test]
fn the_signature_of_purchase_parameters_matches_the_python_vector() {
    assert_eq!(
        epay_sign(&purchase(), &key()),
        "2367a92dc8f9b997ad4849e7e2c71849"
    );
}

#[test]
fn keys_sort_by_byte_order_and_values_stay_raw_utf8() {
    // Byte order puts "B" and "_" before "a"; "x y&z" is hashed as is, not URL-encoded.
    let p = params(&[
        ("b", "2"),
        ("B", "1"),
        ("a", "x y&z"),
        ("name", "充值"),
        ("_", "u"),
    ]);
    assert_eq!(
        epay_sign(&p, &ProviderSecret::new("k")),
        "0096333c269f0c44bcc26ea597015445"
    );
}

#[test]
fn a_notify_signed_by_the_gateway_verifies() {
    let mut notify = params(&[
        ("pid", "1001"),
        ("trade_no", "2024011512345"),
        ("out_trade_no", "USR1NOab12CD1700000000"),
        ("type", "alipay"),
        ("name", "TUC10"),
        ("money", "73.00"),
        ("trade_status", "TRADE_SUCCESS"),
        ("sign_type", "MD5"),
        ("sign", "1f90408591c7bb48bbc11a401317ddb1"),
    ]);
    let client = EpayClient::new(Duration::from_secs(1)).unwrap();
    assert!(client.verify(&notify, &key()));
    assert_eq!(
        client.sign(&notify, &key()),
        "1f90408591c7bb48bbc11a401317ddb1"
    );

    // Tampering with the amount breaks it.
    notify.insert("money".into(), "0.01".into());
    assert!(!epay_verify(&notify, &key()));
}

#[test]
fn the_signature_ignores_sign_sign_type_and_empty_values() {
    let mut p = purchase();
    let expected = epay_sign(&p, &key());
    p.insert("sign".into(), "something else".into());
    p.insert("sign_type".into(), "RSA".into());
    p.insert("extra".into(), String::new());
    assert_eq!(epay_sign(&p, &key()), expected);
    // A non-empty extra parameter is signed.
    p.insert("extra".into(), "1".into());
    assert_ne!(epay_sign(&p, &key()), expected);
}

#[test]
fn verify_refuses_a_wrong_key_a_missing_or_empty_sign_and_an_uppercase_copy() {
    let mut p = purchase();
    let sign = epay_sign(&p, &key());
    p.insert("sign".into(), sign.clone());
    assert!(epay_verify(&p, &key()));
    assert!(!epay_verify(&p, &ProviderSecret::new("other")));

    p.insert("sign".into(), sign.to_uppercase());
    assert!(!epay_verify(&p, &key()));
    p.insert("sign".into(), String::new());
    assert!(!epay_verify(&p, &key()));
    p.remove("sign");
    assert!(!epay_verify(&p, &key()));
}

#[test]
fn the_order_query_url_is_api_php_under_the_address() {
    for (address, expected) in [
        ("https://pay.example.com", "https://pay.example.com/api.php"),
        (
            "https://pay.example.com/",
            "https://pay.example.com/api.php",
        ),
        (
            "http://pay.example.com/epay",
            "http://pay.example.com/epay/api.php",
        ),
    ] {
        assert_eq!(order_query_url(address).unwrap().as_str(), expected);
    }
    for bad in [
        "",
        "pay.example.com",
        "ftp://pay.example.com",
        "https://pay.example.com/?a=1",
    ] {
        assert!(order_query_url(bad).is_err(), "{bad:?} accepted");
    }
}

// --- the order query against a local fake gateway ---

fn merchant(server: &MockServer) -> EpayMerchant {
    EpayMerchant {
        address: server.uri(),
        pid: "1001".into(),
        key: key(),
    }
}

async fn gateway_answering(body: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api.php"))
        .and(query_param("act", "order"))
        .and(query_param("pid", "1001"))
        .and(query_param("key", KEY))
        .and(query_param("out_trade_no", "USR1NOab12CD1700000000"))
        .respond_with(body)
        .expect(1)
        .mount(&server)
        .await;
    server
}

async fn query(server: &MockServer, timeout: Duration) -> anyhow::Result<ProviderOrderState> {
    EpayClient::new(timeout)
        .unwrap()
        .query_order(&merchant(server), "USR1NOab12CD1700000000")
        .await
}

/// No error text may carry the merchant key (it is in the request's query string).
fn assert_no_key(e: &anyhow::Error) {
    for text in [format!("{e}"), format!("{e:#}"), format!("{e:?}")] {
        assert!(!text.contains(KEY), "the key leaked: {text}");
    }
}

#[tokio::test]
async fn a_paid_order_reports_the_exact_amount() {
    let server = gateway_answering(ResponseTemplate::new(200).set_body_json(json!({
        "code": 1, "msg": "查询订单号成功！", "trade_no": "2024011512345",
        "out_trade_no": "USR1NOab12CD1700000000", "type": "alipay", "pid": "1001",
        "money": "73.10", "status": 1
    })))
    .await;

    let state = query(&server, Duration::from_secs(5)).await.unwrap();

    assert_eq!(
        state,
        ProviderOrderState::Paid {
            money: Decimal::new(7310, 2)
        }
    );
}

#[tokio::test]
async fn an_unpaid_order_is_unpaid_also_with_string_codes() {
    let server = gateway_answering(ResponseTemplate::new(200).set_body_json(json!({
        "code": "1", "out_trade_no": "USR1NOab12CD1700000000", "money": "73.00", "status": "0"
    })))
    .await;
    assert_eq!(
        query(&server, Duration::from_secs(5)).await.unwrap(),
        ProviderOrderState::Unpaid
    );
}

#[tokio::test]
async fn an_order_the_gateway_does_not_know_is_unknown() {
    let server = gateway_answering(
        ResponseTemplate::new(200).set_body_json(json!({"code": -1, "msg": "订单号不存在"})),
    )
    .await;
    assert_eq!(
        query(&server, Duration::from_secs(5)).await.unwrap(),
        ProviderOrderState::Unknown
    );
}

#[tokio::test]
async fn unreadable_replies_are_errors_without_the_key() {
    let cases = [
        ResponseTemplate::new(200).set_body_string("<html>502 Bad Gateway</html>"),
        ResponseTemplate::new(200).set_body_json(json!({"msg": "no code"})),
        // A paid amount as a JSON number has been through f64: refused.
        ResponseTemplate::new(200).set_body_json(json!({"code": 1, "status": 1, "money": 73.1})),
        ResponseTemplate::new(200).set_body_json(json!({"code": 1, "status": 1, "money": "abc"})),
        ResponseTemplate::new(200).set_body_json(json!({"code": 1, "status": 1, "money": "-1"})),
        ResponseTemplate::new(200).set_body_json(json!({"code": 1, "status": 7, "money": "1"})),
        ResponseTemplate::new(200).set_body_json(
            json!({"code": 1, "status": 1, "money": "1.00", "out_trade_no": "USR2NOother"}),
        ),
        ResponseTemplate::new(500).set_body_json(json!({"code": 1, "status": 0})),
        // A redirect is not followed (it would carry the key elsewhere).
        ResponseTemplate::new(302).insert_header("Location", "https://elsewhere.example/"),
    ];
    for (i, reply) in cases.into_iter().enumerate() {
        let server = gateway_answering(reply).await;
        let err = query(&server, Duration::from_secs(5))
            .await
            .expect_err(&format!("case {i} was accepted"));
        assert_no_key(&err);
    }
}

#[tokio::test]
async fn a_gateway_slower_than_the_timeout_is_an_error_without_the_key() {
    let server = gateway_answering(
        ResponseTemplate::new(200)
            .set_body_json(json!({"code": 1, "status": 0, "money": "1.00"}))
            .set_delay(Duration::from_secs(3)),
    )
    .await;

    let started = std::time::Instant::now();
    let err = query(&server, Duration::from_millis(300))
        .await
        .expect_err("a late reply was accepted");

    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(format!("{err:#}").contains("did not answer"), "{err:#}");
    assert_no_key(&err);
}

#[tokio::test]
async fn an_unreachable_gateway_is_an_error_without_the_key() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let merchant = EpayMerchant {
        address: format!("http://127.0.0.1:{port}"),
        pid: "1001".into(),
        key: key(),
    };
    let err = EpayClient::new(Duration::from_secs(2))
        .unwrap()
        .query_order(&merchant, "USR1NOab12CD1700000000")
        .await
        .expect_err("no gateway, yet an answer");
    assert_no_key(&err);
}
