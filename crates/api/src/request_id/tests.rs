use std::io::Write;
use std::sync::{Arc, Mutex};

use actix_web::middleware::from_fn;
use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpResponse, web};

use super::*;

#[test]
fn only_short_plain_ids_are_valid() {
    for (id, valid) in [
        ("abc-123_DEF.4", true),
        ("0f8fad5b-d9cb-469f-a165-70867728950e", true),
        (&"a".repeat(MAX_LEN), true),
        (&"a".repeat(MAX_LEN + 1), false),
        ("", false),
        ("has space", false),
        ("semi;colon", false),
        ("new\nline", false),
        ("ünïcode", false),
        ("quote\"", false),
    ] {
        assert_eq!(is_valid(id), valid, "{id:?}");
    }
}

async fn logs() -> HttpResponse {
    tracing::info!("inside the handler");
    HttpResponse::Ok().finish()
}

/// The reply's `X-Request-Id` when `peer` sends `incoming` to an app that trusts 10.0.0.0/8.
async fn id_for(peer: &str, incoming: Option<&str>) -> String {
    let trusted = web::Data::new(TrustedProxies::parse(&["10.0.0.0/8"]).unwrap());
    let app = test::init_service(
        App::new()
            .app_data(trusted)
            .wrap(from_fn(tag))
            .route("/", web::get().to(logs)),
    )
    .await;
    let mut req = TestRequest::get().uri("/").peer_addr(peer.parse().unwrap());
    if let Some(incoming) = incoming {
        req = req.insert_header((X_REQUEST_ID, incoming));
    }
    let res = test::call_service(&app, req.to_request()).await;
    res.headers()
        .get(X_REQUEST_ID)
        .expect("X-Request-Id")
        .to_str()
        .unwrap()
        .to_owned()
}

fn is_uuid_v4(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok_and(|u| u.get_version_num() == 4)
}

#[actix_web::test]
async fn a_trusted_proxys_valid_id_is_kept_anything_else_is_replaced() {
    assert_eq!(
        id_for("10.1.2.3:4000", Some("edge-42.a_b")).await,
        "edge-42.a_b"
    );
    // An untrusted peer's id, a trusted proxy's invalid one, or none: a new UUID.
    for (peer, incoming) in [
        ("192.0.2.9:4000", Some("edge-42")),
        ("10.1.2.3:4000", Some("bad id")),
        ("10.1.2.3:4000", Some(&*"a".repeat(MAX_LEN + 1))),
        ("10.1.2.3:4000", None),
        ("192.0.2.9:4000", None),
    ] {
        let id = id_for(peer, incoming).await;
        assert!(is_uuid_v4(&id), "{peer} {incoming:?}: {id}");
        assert_ne!(Some(id.as_str()), incoming);
    }
    assert_ne!(
        id_for("192.0.2.9:4000", None).await,
        id_for("192.0.2.9:4000", None).await
    );
}

/// A writer into a shared buffer, for a subscriber under test.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[actix_web::test]
async fn the_handlers_log_lines_carry_the_request_id_in_both_formats() {
    for json in [false, true] {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let builder = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone());
        // This thread's subscriber: the test's requests are served on this thread.
        let _guard = if json {
            tracing::subscriber::set_default(builder.json().finish())
        } else {
            tracing::subscriber::set_default(builder.finish())
        };
        // tracing caches each callsite's interest process-wide: a test on another thread
        // may have cached the request span's as "never" before this scoped subscriber
        // existed. Recompute it (the server's one global subscriber has no such race); a
        // second request covers a cache refilled by a concurrent test in between.
        let mut lines = Vec::new();
        for _ in 0..3 {
            tracing::callsite::rebuild_interest_cache();
            let id = id_for("192.0.2.9:4000", None).await;
            let text = buffer.text();
            let line = text
                .lines()
                .rfind(|l| l.contains("inside the handler"))
                .unwrap_or_else(|| panic!("no log line: {text}"))
                .to_owned();
            let expected = if json {
                format!(r#""request_id":"{id}""#)
            } else {
                format!("request_id={id}")
            };
            if line.contains(&expected) {
                lines.clear();
                break;
            }
            lines.push(line);
        }
        assert!(lines.is_empty(), "json={json}: no request id in {lines:?}");
    }
}
