//! A fake Stripe API: Checkout Sessions (create, retrieve) and signed webhook deliveries.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use tollgate_domain::payment::ProviderSecret;
use tollgate_payments::stripe_signature_header;
use url::Url;

use super::{Running, lock, serve};

/// The unit amount (minor units) of the fake's one price unless the test gives another.
pub const DEFAULT_UNIT_AMOUNT: i64 = 800;

/// One Checkout Session as the fake knows it: what it was created with and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSession {
    /// `cs_test_fake000001`, ...
    pub id: String,
    /// `http://fake/pay/{id}`.
    pub url: String,
    pub client_reference_id: Option<String>,
    /// `line_items[0][price]`.
    pub price: String,
    /// `line_items[0][quantity]`.
    pub quantity: u32,
    pub allow_promotion_codes: bool,
    pub customer_email: Option<String>,
    /// `customer_creation` as sent (`always` when an e-mail was given).
    pub customer_creation: Option<String>,
    pub success_url: String,
    pub cancel_url: String,
    pub idempotency_key: Option<String>,
    /// `open`, `complete` or `expired`.
    pub status: String,
    /// `unpaid` or `paid`.
    pub payment_status: String,
    /// `quantity × unit amount`, in minor units.
    pub amount_total: i64,
    pub currency: String,
    /// Set when the session is marked paid (`cus_fake...`).
    pub customer: Option<String>,
    /// Every form field of the create request, as received.
    pub form: BTreeMap<String, String>,
}

impl FakeSession {
    /// The session as Stripe's API shows it (also `data.object` of its webhook events).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "checkout.session",
            "mode": "payment",
            "url": if self.status == "open" { Value::from(self.url.clone()) } else { Value::Null },
            "client_reference_id": self.client_reference_id,
            "status": self.status,
            "payment_status": self.payment_status,
            "amount_subtotal": self.amount_total,
            "amount_total": self.amount_total,
            "currency": self.currency,
            "customer": self.customer,
            "customer_email": self.customer_email,
            "success_url": self.success_url,
            "cancel_url": self.cancel_url,
        })
    }
}

/// A webhook delivery: the raw body and its `Stripe-Signature` header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedWebhook {
    pub body: String,
    pub signature: String,
}

#[derive(Default)]
struct State {
    sessions: Vec<FakeSession>,
    next: u64,
    create_requests: usize,
    retrieve_requests: usize,
    refuse_next_create: Option<(u16, String)>,
}

struct Shared {
    secret: String,
    unit_amount: i64,
    state: Mutex<State>,
}

/// A fake of Stripe's API that accepts the API secret `secret` as a bearer token:
///
/// - `POST /v1/checkout/sessions` (form-encoded) checks the secret and the fields
///   (`mode=payment`, `line_items[0][price]`, `line_items[0][quantity]` ≥ 1, `success_url`,
///   `cancel_url`), and answers `{"id":"cs_test_fake…","url":"http://fake/pay/cs_test_fake…",…}`.
///   A repeated `Idempotency-Key` with the same form answers the same session (Stripe's replay);
///   with another form it answers 400 `idempotency_error`.
/// - `GET /v1/checkout/sessions/{id}` answers the session as it is now, or 404
///   `resource_missing`.
/// - Errors have Stripe's shape, `{"error":{"type","code","message"}}`; a wrong secret is 401.
///
/// The test moves sessions on with [`FakeStripe::mark_paid`] / [`FakeStripe::mark_expired`] and
/// builds signed webhook deliveries with [`FakeStripe::webhook`].
pub struct FakeStripe {
    shared: Arc<Shared>,
    running: Running,
}

impl FakeStripe {
    /// Starts the fake with price unit amount [`DEFAULT_UNIT_AMOUNT`] (inside a Tokio runtime).
    pub async fn start(secret: &str) -> FakeStripe {
        Self::start_with_unit_amount(secret, DEFAULT_UNIT_AMOUNT).await
    }

    /// Starts the fake; every price costs `unit_amount` minor units (USD).
    pub async fn start_with_unit_amount(secret: &str, unit_amount: i64) -> FakeStripe {
        let shared = Arc::new(Shared {
            secret: secret.to_owned(),
            unit_amount,
            state: Mutex::new(State::default()),
        });
        let data = web::Data::from(shared.clone());
        let running = serve(move |cfg| {
            cfg.app_data(data.clone())
                .route("/v1/checkout/sessions", web::post().to(create_session))
                .route(
                    "/v1/checkout/sessions/{id}",
                    web::get().to(retrieve_session),
                );
        });
        FakeStripe { shared, running }
    }

    /// The API base URL to configure (`payments.stripe_api_base`).
    pub fn api_base(&self) -> Url {
        Url::parse(&self.running.base_url)
            .unwrap_or_else(|e| panic!("the fake's own URL does not parse: {e}"))
    }

    /// Every session created, oldest first.
    pub fn sessions(&self) -> Vec<FakeSession> {
        lock(&self.shared.state).sessions.clone()
    }

    pub fn session(&self, id: &str) -> Option<FakeSession> {
        lock(&self.shared.state)
            .sessions
            .iter()
            .find(|s| s.id == id)
            .cloned()
    }

    /// The session created for our order `client_reference_id` (the newest when several).
    pub fn session_for(&self, client_reference_id: &str) -> Option<FakeSession> {
        lock(&self.shared.state)
            .sessions
            .iter()
            .rev()
            .find(|s| s.client_reference_id.as_deref() == Some(client_reference_id))
            .cloned()
    }

    /// How many create requests arrived (idempotent replays and refusals included).
    pub fn create_requests(&self) -> usize {
        lock(&self.shared.state).create_requests
    }

    /// How many retrieve requests arrived.
    pub fn retrieve_requests(&self) -> usize {
        lock(&self.shared.state).retrieve_requests
    }

    /// The next create request is answered with HTTP `status` and Stripe's error shape
    /// carrying `message` (type `invalid_request_error`, or `api_error` for a 5xx).
    pub fn refuse_next_create(&self, status: u16, message: &str) {
        lock(&self.shared.state).refuse_next_create = Some((status, message.to_owned()));
    }

    /// The customer paid: `complete` / `paid`, with customer `cus_` + the session id's rest
    /// (`cs_test_fake000001` → `cus_test_fake000001`). Panics when the session does not exist.
    pub fn mark_paid(&self, id: &str) -> FakeSession {
        self.update(id, |s| {
            s.status = "complete".into();
            s.payment_status = "paid".into();
            s.customer = Some(format!("cus_{}", s.id.trim_start_matches("cs_")));
        })
    }

    /// The session ran out: `expired` / `unpaid`. Panics when the session does not exist.
    pub fn mark_expired(&self, id: &str) -> FakeSession {
        self.update(id, |s| {
            s.status = "expired".into();
            s.payment_status = "unpaid".into();
        })
    }

    fn update(&self, id: &str, change: impl FnOnce(&mut FakeSession)) -> FakeSession {
        let mut state = lock(&self.shared.state);
        let session = state
            .sessions
            .iter_mut()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("the fake Stripe has no session {id}"));
        change(session);
        session.clone()
    }

    /// A webhook event of type `kind` (e.g. `checkout.session.completed`) about session `id` as
    /// it is now, signed with `webhook_secret` at `timestamp` (see [`super::unix_now`]).
    /// Panics when the session does not exist.
    pub fn webhook(
        &self,
        id: &str,
        kind: &str,
        webhook_secret: &str,
        timestamp: i64,
    ) -> SignedWebhook {
        let session = self
            .session(id)
            .unwrap_or_else(|| panic!("the fake Stripe has no session {id}"));
        signed_stripe_webhook(
            &stripe_event(&format!("evt_{kind}_{id}"), kind, session.to_json()),
            webhook_secret,
            timestamp,
        )
    }
}

/// A Stripe event `{"id","object":"event","type","data":{"object"}}` around `object`.
pub fn stripe_event(id: &str, kind: &str, object: Value) -> Value {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2025-01-27.acacia",
        "type": kind,
        "livemode": false,
        "data": { "object": object },
    })
}

/// `event` serialised, with the `Stripe-Signature` Stripe would send for it at `timestamp`.
pub fn signed_stripe_webhook(event: &Value, webhook_secret: &str, timestamp: i64) -> SignedWebhook {
    let body = event.to_string();
    let signature = stripe_signature_header(
        body.as_bytes(),
        &ProviderSecret::new(webhook_secret),
        timestamp,
    );
    SignedWebhook { body, signature }
}

fn stripe_error(status: u16, kind: &str, code: Option<&str>, message: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    HttpResponse::build(status)
        .json(json!({"error": {"type": kind, "code": code, "message": message}}))
}

/// `None` when the bearer token is the secret; else the 401 Stripe answers.
fn refuse_unauthorised(req: &HttpRequest, shared: &Shared) -> Option<HttpResponse> {
    let expected = format!("Bearer {}", shared.secret);
    let given = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    (given != Some(expected.as_str())).then(|| {
        stripe_error(
            401,
            "invalid_request_error",
            None,
            "Invalid API Key provided: sk_****",
        )
    })
}

async fn create_session(
    req: HttpRequest,
    shared: web::Data<Shared>,
    body: web::Bytes,
) -> HttpResponse {
    let mut state = lock(&shared.state);
    state.create_requests += 1;
    if let Some(refusal) = refuse_unauthorised(&req, &shared) {
        return refusal;
    }
    if let Some((status, message)) = state.refuse_next_create.take() {
        let kind = if status >= 500 {
            "api_error"
        } else {
            "invalid_request_error"
        };
        return stripe_error(status, kind, None, &message);
    }
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let idempotency_key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(key) = &idempotency_key
        && let Some(earlier) = state
            .sessions
            .iter()
            .find(|s| s.idempotency_key.as_ref() == Some(key))
    {
        return if earlier.form == form {
            HttpResponse::Ok().json(earlier.to_json())
        } else {
            stripe_error(
                400,
                "idempotency_error",
                None,
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            )
        };
    }
    for required in [
        "line_items[0][price]",
        "line_items[0][quantity]",
        "success_url",
        "cancel_url",
    ] {
        if form.get(required).is_none_or(String::is_empty) {
            return stripe_error(
                400,
                "invalid_request_error",
                Some("parameter_missing"),
                &format!("Missing required param: {required}."),
            );
        }
    }
    if form.get("mode").map(String::as_str) != Some("payment") {
        return stripe_error(
            400,
            "invalid_request_error",
            None,
            "This fake knows only mode=payment.",
        );
    }
    let quantity = match form["line_items[0][quantity]"].parse::<u32>() {
        Ok(q) if q >= 1 => q,
        _ => {
            return stripe_error(
                400,
                "invalid_request_error",
                Some("parameter_invalid_integer"),
                "Invalid integer: line_items[0][quantity]",
            );
        }
    };
    state.next += 1;
    let id = format!("cs_test_fake{:06}", state.next);
    let session = FakeSession {
        url: format!("http://fake/pay/{id}"),
        id,
        client_reference_id: form.get("client_reference_id").cloned(),
        price: form["line_items[0][price]"].clone(),
        quantity,
        allow_promotion_codes: form.get("allow_promotion_codes").map(String::as_str)
            == Some("true"),
        customer_email: form.get("customer_email").cloned(),
        customer_creation: form.get("customer_creation").cloned(),
        success_url: form["success_url"].clone(),
        cancel_url: form["cancel_url"].clone(),
        idempotency_key,
        status: "open".into(),
        payment_status: "unpaid".into(),
        amount_total: i64::from(quantity).saturating_mul(shared.unit_amount),
        currency: "usd".into(),
        customer: None,
        form,
    };
    let reply = session.to_json();
    state.sessions.push(session);
    HttpResponse::Ok().json(reply)
}

async fn retrieve_session(
    req: HttpRequest,
    shared: web::Data<Shared>,
    id: web::Path<String>,
) -> HttpResponse {
    let mut state = lock(&shared.state);
    state.retrieve_requests += 1;
    if let Some(refusal) = refuse_unauthorised(&req, &shared) {
        return refusal;
    }
    match state.sessions.iter().find(|s| s.id == *id) {
        Some(session) => HttpResponse::Ok().json(session.to_json()),
        None => stripe_error(
            404,
            "invalid_request_error",
            Some("resource_missing"),
            &format!("No such checkout.session: '{id}'"),
        ),
    }
}
