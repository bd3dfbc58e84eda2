//! The payment fakes of `tollgate_tests::fakes` speak the protocol the real adapters of
//! `tollgate-payments` speak: each fake is driven here by the real client, so a black-box test
//! that uses a fake tests against the same wire format.

use std::collections::BTreeMap;
use std::time::Duration;

use tollgate_domain::payment::{
    CheckoutRequest, Decimal, EpayGateway as _, EpayMerchant, ProviderOrderState, ProviderSecret,
    StripeGateway as _, WebhookRejection,
};
use tollgate_payments::{
    EpayClient, StripeApiError, StripeClient, epay_verify, verify_stripe_webhook,
};
use tollgate_tests::fakes::epay::{FakeEpay, epay_query_string, signed_epay_params};
use tollgate_tests::fakes::stripe::FakeStripe;
use tollgate_tests::fakes::unix_now;

const EPAY_KEY: &str = "fake-epay-key";
const SECRET: &str = "sk_test_fake";
const WEBHOOK_SECRET: &str = "whsec_fake";

#[tokio::test]
async fn the_fake_epay_answers_order_queries_like_a_gateway() {
    let gateway = FakeEpay::start("1001", EPAY_KEY).await;
    let client = EpayClient::new(Duration::from_secs(5)).unwrap();
    let merchant = gateway.merchant();

    gateway.add_order("USR1NOaaaaaa1", "73.00", "alipay");
    assert_eq!(
        client
            .query_order(&merchant, "USR1NOaaaaaa1")
            .await
            .unwrap(),
        ProviderOrderState::Unpaid
    );

    gateway.mark_paid("USR1NOaaaaaa1", "73.00", "wxpay");
    assert_eq!(
        client
            .query_order(&merchant, "USR1NOaaaaaa1")
            .await
            .unwrap(),
        ProviderOrderState::Paid {
            money: Decimal::new(7300, 2)
        }
    );
    assert_eq!(
        client.query_order(&merchant, "USR1NOnever").await.unwrap(),
        ProviderOrderState::Unknown
    );
    let wrong_key = EpayMerchant {
        key: ProviderSecret::new("not-the-key"),
        ..merchant
    };
    assert_eq!(
        client
            .query_order(&wrong_key, "USR1NOaaaaaa1")
            .await
            .unwrap(),
        ProviderOrderState::Unknown
    );
    assert_eq!(gateway.query_count(), 4);
}

#[tokio::test]
async fn the_fake_epay_notify_is_signed_with_the_merchant_key() {
    let gateway = FakeEpay::start("1001", EPAY_KEY).await;
    let order = gateway.mark_paid("USR1NObbbbbb2", "7.30", "alipay");

    let params = gateway.notify_params("USR1NObbbbbb2", "TUC1");

    assert_eq!(params["trade_status"], "TRADE_SUCCESS");
    assert_eq!(params["trade_no"], order.trade_no);
    assert_eq!(params["money"], "7.30");
    assert_eq!(params["pid"], "1001");
    assert_eq!(params["sign_type"], "MD5");
    let key = ProviderSecret::new(EPAY_KEY);
    assert!(epay_verify(&params, &key));
    assert!(!epay_verify(&params, &ProviderSecret::new("other")));

    // The query string carries the same parameters (form-encoded).
    let query = epay_query_string(&params);
    let back: BTreeMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(back, params);

    // Changed and re-signed, it verifies again; changed only, it does not.
    let mut changed = params.clone();
    changed.insert("money".into(), "0.01".into());
    assert!(!epay_verify(&changed, &key));
    assert!(epay_verify(&signed_epay_params(changed, EPAY_KEY), &key));
}

fn checkout(reference: &str, quantity: u32) -> CheckoutRequest {
    CheckoutRequest {
        client_reference_id: reference.into(),
        price_id: "price_fake".into(),
        quantity,
        allow_promotion_codes: true,
        customer_email: Some("ann@example.com".into()),
        success_url: "http://tollgate.test/console/log".into(),
        cancel_url: "http://tollgate.test/console/topup".into(),
        idempotency_key: format!("topup-{reference}"),
    }
}

#[tokio::test]
async fn the_fake_stripe_creates_replays_and_reports_sessions() {
    let stripe = FakeStripe::start(SECRET).await;
    let client = StripeClient::new(stripe.api_base(), Duration::from_secs(5)).unwrap();
    let secret = ProviderSecret::new(SECRET);

    let created = client
        .create_checkout_session(&secret, &checkout("ref_1", 3))
        .await
        .unwrap();
    let again = client
        .create_checkout_session(&secret, &checkout("ref_1", 3))
        .await
        .unwrap();

    assert!(created.id.starts_with("cs_test_"), "{}", created.id);
    assert_eq!(created.url, format!("http://fake/pay/{}", created.id));
    assert_eq!(again, created, "the idempotent replay is the same session");
    assert_eq!(stripe.create_requests(), 2);
    assert_eq!(stripe.sessions().len(), 1);
    let recorded = stripe.session_for("ref_1").unwrap();
    assert_eq!(recorded.id, created.id);
    assert_eq!(recorded.price, "price_fake");
    assert_eq!(recorded.quantity, 3);
    assert_eq!(recorded.amount_total, 2400);
    assert!(recorded.allow_promotion_codes);
    assert_eq!(recorded.customer_email.as_deref(), Some("ann@example.com"));
    assert_eq!(recorded.customer_creation.as_deref(), Some("always"));
    assert_eq!(recorded.idempotency_key.as_deref(), Some("topup-ref_1"));

    // The same key with another form is Stripe's idempotency error.
    let err = client
        .create_checkout_session(&secret, &checkout("ref_1", 4))
        .await
        .unwrap_err();
    assert_eq!(err.downcast_ref::<StripeApiError>().unwrap().status, 400);

    let open = client.retrieve_session(&secret, &created.id).await.unwrap();
    assert_eq!(open.order_state(), ProviderOrderState::Unpaid);

    stripe.mark_paid(&created.id);
    let paid = client.retrieve_session(&secret, &created.id).await.unwrap();
    assert_eq!(
        paid.order_state(),
        ProviderOrderState::Paid {
            money: Decimal::new(2400, 2)
        }
    );
    assert_eq!(paid.client_reference_id.as_deref(), Some("ref_1"));
    assert!(paid.customer.is_some());

    let other = client
        .create_checkout_session(&secret, &checkout("ref_2", 1))
        .await
        .unwrap();
    stripe.mark_expired(&other.id);
    assert_eq!(
        client
            .retrieve_session(&secret, &other.id)
            .await
            .unwrap()
            .order_state(),
        ProviderOrderState::Expired
    );

    let missing = client
        .retrieve_session(&secret, "cs_test_nothere")
        .await
        .unwrap_err();
    assert_eq!(
        missing.downcast_ref::<StripeApiError>().unwrap().status,
        404
    );
    assert_eq!(stripe.retrieve_requests(), 4);
}

#[tokio::test]
async fn the_fake_stripe_refuses_a_wrong_secret_and_on_request() {
    let stripe = FakeStripe::start(SECRET).await;
    let client = StripeClient::new(stripe.api_base(), Duration::from_secs(5)).unwrap();

    let err = client
        .create_checkout_session(&ProviderSecret::new("sk_test_wrong"), &checkout("ref_1", 1))
        .await
        .unwrap_err();
    assert_eq!(err.downcast_ref::<StripeApiError>().unwrap().status, 401);

    stripe.refuse_next_create(400, "No such price: 'price_fake'");
    let err = client
        .create_checkout_session(&ProviderSecret::new(SECRET), &checkout("ref_1", 1))
        .await
        .unwrap_err();
    let api = err.downcast_ref::<StripeApiError>().unwrap();
    assert_eq!(api.message, "No such price: 'price_fake'");
    assert!(stripe.sessions().is_empty());
}

#[tokio::test]
async fn the_fake_stripe_webhook_is_signed_and_describes_the_session() {
    let stripe = FakeStripe::start(SECRET).await;
    let client = StripeClient::new(stripe.api_base(), Duration::from_secs(5)).unwrap();
    let created = client
        .create_checkout_session(&ProviderSecret::new(SECRET), &checkout("ref_9", 2))
        .await
        .unwrap();
    stripe.mark_paid(&created.id);
    let now = unix_now();

    let delivery = stripe.webhook(
        &created.id,
        "checkout.session.completed",
        WEBHOOK_SECRET,
        now,
    );

    let secret = ProviderSecret::new(WEBHOOK_SECRET);
    let event = verify_stripe_webhook(
        delivery.body.as_bytes(),
        Some(&delivery.signature),
        &secret,
        now,
    )
    .unwrap();
    assert_eq!(event.kind, "checkout.session.completed");
    let session = event.session.unwrap();
    assert_eq!(session.id, created.id);
    assert_eq!(session.client_reference_id.as_deref(), Some("ref_9"));
    assert_eq!(
        session.order_state(),
        ProviderOrderState::Paid {
            money: Decimal::new(1600, 2)
        }
    );
    assert_eq!(
        verify_stripe_webhook(
            delivery.body.as_bytes(),
            Some(&delivery.signature),
            &ProviderSecret::new("whsec_other"),
            now
        )
        .unwrap_err(),
        WebhookRejection::BadSignature
    );
}
