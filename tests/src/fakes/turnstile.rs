//! A fake Cloudflare Turnstile `siteverify` endpoint: it accepts the tokens it issued, each
//! once, for one secret key, and records every call.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{Running, lock, serve};

/// One `siteverify` call as the fake received it (form fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteVerifyCall {
    pub secret: String,
    pub response: String,
    pub remoteip: Option<String>,
}

#[derive(Default)]
struct State {
    /// Issued and not yet redeemed.
    live: HashSet<String>,
    issued: usize,
    calls: Vec<SiteVerifyCall>,
}

struct Shared {
    secret: String,
    state: Mutex<State>,
}

/// A fake `siteverify` for the site whose secret key is `secret`. Like Cloudflare it answers
/// HTTP 200 `{"success": true}` for a token it issued ([`FakeTurnstile::issue`]) the first time
/// it is redeemed, and `{"success": false, "error-codes": [...]}` otherwise:
/// `timeout-or-duplicate` for a token redeemed again, `invalid-input-response` for one it
/// never issued, `invalid-input-secret` for a wrong secret. Point `turnstile.verify_url` at
/// [`FakeTurnstile::verify_url`].
pub struct FakeTurnstile {
    shared: Arc<Shared>,
    running: Running,
}

impl FakeTurnstile {
    /// Starts the fake on a free port of 127.0.0.1 (inside a Tokio runtime).
    pub async fn start(secret: &str) -> FakeTurnstile {
        let shared = Arc::new(Shared {
            secret: secret.to_owned(),
            state: Mutex::new(State::default()),
        });
        let data = web::Data::from(shared.clone());
        let running = serve(move |cfg| {
            cfg.app_data(data.clone())
                .route("/turnstile/v0/siteverify", web::post().to(siteverify));
        });
        FakeTurnstile { shared, running }
    }

    /// The URL of the endpoint, for `turnstile.verify_url`.
    pub fn verify_url(&self) -> String {
        format!("{}/turnstile/v0/siteverify", self.running.base_url)
    }

    /// A new token, good for one successful redemption (what the browser widget would hand
    /// the page after a solved challenge).
    pub fn issue(&self) -> String {
        let mut state = lock(&self.shared.state);
        state.issued += 1;
        let token = format!("XXXX.DUMMY.TOKEN.{}", state.issued);
        state.live.insert(token.clone());
        token
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<SiteVerifyCall> {
        lock(&self.shared.state).calls.clone()
    }
}

async fn siteverify(
    shared: web::Data<Shared>,
    form: web::Form<std::collections::HashMap<String, String>>,
) -> HttpResponse {
    let field = |k: &str| form.get(k).cloned();
    let call = SiteVerifyCall {
        secret: field("secret").unwrap_or_default(),
        response: field("response").unwrap_or_default(),
        remoteip: field("remoteip"),
    };
    let mut state = lock(&shared.state);
    let outcome = if call.secret != shared.secret {
        Err("invalid-input-secret")
    } else if state.live.remove(&call.response) {
        Ok(())
    } else if call.response.starts_with("XXXX.DUMMY.TOKEN.") {
        Err("timeout-or-duplicate")
    } else {
        Err("invalid-input-response")
    };
    state.calls.push(call);
    match outcome {
        Ok(()) => HttpResponse::Ok().json(json!({
            "success": true,
            "challenge_ts": "2026-12-01T00:00:00.000Z",
            "hostname": "localhost",
            "error-codes": [],
        })),
        Err(code) => HttpResponse::Ok().json(json!({"success": false, "error-codes": [code]})),
    }
}
