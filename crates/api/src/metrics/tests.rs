//! The middleware's labels, the endpoint's token check and the counters' outcomes, each
//! recorded into a local recorder (this thread's), so the figures are exact.

use actix_web::middleware::from_fn;
use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpResponse, web};
use metrics_exporter_prometheus::PrometheusRecorder;
use tollgate_domain::throttle::Throttled;

use super::*;

/// A recorder configured as the process's, not installed.
fn local() -> PrometheusRecorder {
    builder().unwrap().build_recorder()
}

/// The value of the series `name{labels}` (labels as rendered, in order), 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

async fn ok() -> HttpResponse {
    HttpResponse::Ok().finish()
}

/// A middleware that fails as the panic handler does: an error, not a reply.
async fn failing(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.path().ends_with("/7") {
        return Err(actix_web::error::ErrorInternalServerError("boom"));
    }
    next.call(req).await
}

#[actix_web::test]
async fn requests_are_labelled_with_the_route_pattern_never_the_path() {
    let recorder = local();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let app = test::init_service(
        App::new()
            .wrap(from_fn(failing))
            .wrap(from_fn(record_http))
            .service(web::scope("/api").route("/user/{id:\\d+}", web::get().to(ok)))
            .default_service(web::to(HttpResponse::NotFound)),
    )
    .await;
    for uri in [
        "/api/user/2",
        "/api/user/3",
        "/api/user/7",
        "/api/user/x",
        "/wp-login.php",
    ] {
        // `/api/user/7` answers an error, which `call_service` would not take.
        let _ = test::try_call_service(&app, TestRequest::get().uri(uri).to_request()).await;
    }
    let odd = TestRequest::default()
        .method(Method::from_bytes(b"BREW").unwrap())
        .uri("/api/user/2")
        .to_request();
    test::call_service(&app, odd).await;

    let text = recorder.handle().render();
    let count = |labels: &str| value(&text, &format!("{HTTP_REQUESTS_TOTAL}{{{labels}}}"));
    // As rendered: the text format escapes the backslash.
    let user = r"/api/user/{id:\\d+}";
    assert_eq!(
        count(&format!(r#"method="GET",route="{user}",status="200""#)),
        2.0,
        "{text}"
    );
    // The error of a middleware (a panic's 500) keeps its route.
    assert_eq!(
        count(&format!(r#"method="GET",route="{user}",status="500""#)),
        1.0,
        "{text}"
    );
    assert_eq!(
        count(r#"method="GET",route="unmatched",status="404""#),
        2.0,
        "{text}"
    );
    assert_eq!(
        count(&format!(r#"method="OTHER",route="{user}",status="404""#)),
        1.0,
        "{text}"
    );
    assert!(
        !text.contains("/api/user/2") && !text.contains("wp-login"),
        "{text}"
    );
    // A real histogram: cumulative buckets, `+Inf` equal to the count.
    let bucket = |le: &str| {
        value(
            &text,
            &format!(
                r#"{HTTP_REQUEST_DURATION_SECONDS}_bucket{{method="GET",route="{user}",status="200",le="{le}"}}"#
            ),
        )
    };
    assert_eq!(bucket("+Inf"), 2.0, "{text}");
    assert!(bucket("0.005") <= bucket("10"), "{text}");
    assert!(!text.contains("quantile="), "not a summary: {text}");
}

#[actix_web::test]
async fn the_endpoint_admits_only_the_configured_bearer_token() {
    let handle = local().handle();
    let open = MetricsEndpoint::new(handle.clone(), None, || None);
    let closed = MetricsEndpoint::new(handle, Some(SecretString::from("scrape-token-42")), || None);
    let with = |auth: Option<&str>| {
        let mut req = TestRequest::get().uri("/metrics");
        if let Some(auth) = auth {
            req = req.insert_header((AUTHORIZATION, auth));
        }
        req.to_http_request()
    };
    assert!(open.admits(&with(None)));
    for (auth, admitted) in [
        (None, false),
        (Some("Bearer scrape-token-42"), true),
        (Some("bearer scrape-token-42"), true),
        (Some("Bearer scrape-token-4"), false),
        (Some("Bearer scrape-token-421"), false),
        (Some("Basic scrape-token-42"), false),
        (Some("scrape-token-42"), false),
        (Some("Bearer "), false),
    ] {
        assert_eq!(closed.admits(&with(auth)), admitted, "{auth:?}");
    }
}

#[test]
fn logins_and_second_factors_count_by_outcome() {
    let recorder = local();
    metrics::with_local_recorder(&recorder, || {
        password_login::<()>(Surface::Compat, &Ok(LoginStep::Done(())));
        password_login::<()>(
            Surface::Compat,
            &Ok(LoginStep::SecondFactor {
                challenge: "c".into(),
            }),
        );
        password_login::<()>(Surface::Rest, &Err(LoginError::InvalidCredentials));
        password_login::<()>(
            Surface::Rest,
            &Err(LoginError::Throttled(Throttled {
                retry_after_secs: 30,
            })),
        );
        second_factor_login::<()>(
            Surface::Compat,
            &Err(SecondFactorLoginError::Code(TwoFactorError::WrongCode)),
        );
        second_factor_login::<()>(Surface::Rest, &Err(SecondFactorLoginError::Expired));
        // Not a code check: not a second-factor failure.
        two_factor_refused(TwoFactorOp::Enable, &TwoFactorError::AlreadyEnabled);
        two_factor_refused(TwoFactorOp::Disable, &TwoFactorError::MalformedCode);
    });
    let text = recorder.handle().render();
    let logins = |labels: &str| value(&text, &format!("{LOGINS_TOTAL}{{{labels}}}"));
    for (labels, expected) in [
        (r#"surface="compat",step="password",outcome="success""#, 1.0),
        (
            r#"surface="compat",step="password",outcome="second_factor_required""#,
            1.0,
        ),
        (r#"surface="rest",step="password",outcome="failure""#, 1.0),
        (r#"surface="rest",step="password",outcome="throttled""#, 1.0),
        (
            r#"surface="compat",step="second_factor",outcome="failure""#,
            1.0,
        ),
        (
            r#"surface="rest",step="second_factor",outcome="failure""#,
            1.0,
        ),
    ] {
        assert_eq!(logins(labels), expected, "{labels}: {text}");
    }
    let failures = |labels: &str| value(&text, &format!("{TWO_FACTOR_FAILURES_TOTAL}{{{labels}}}"));
    assert_eq!(
        failures(r#"operation="login",reason="wrong_code""#),
        1.0,
        "{text}"
    );
    assert_eq!(
        failures(r#"operation="disable",reason="malformed_code""#),
        1.0,
        "{text}"
    );
    assert!(!text.contains(r#"operation="enable""#), "{text}");
}

#[test]
fn payment_callbacks_count_by_provider_and_outcome() {
    let recorder = local();
    metrics::with_local_recorder(&recorder, || {
        payment_callback(PaymentProvider::Epay, &Ok(NotifyOutcome::Ignored));
        payment_callback(PaymentProvider::Epay, &Err(NotifyError::BadSignature));
        payment_callback(
            PaymentProvider::Stripe,
            &Err(NotifyError::Settle(SettleError::UnknownOrder("T1".into()))),
        );
        payment_callback(
            PaymentProvider::Stripe,
            &Err(NotifyError::Unexpected(anyhow::anyhow!("db down"))),
        );
    });
    let text = recorder.handle().render();
    let callbacks = |labels: &str| value(&text, &format!("{PAYMENT_CALLBACKS_TOTAL}{{{labels}}}"));
    for labels in [
        r#"provider="epay",outcome="ignored""#,
        r#"provider="epay",outcome="bad_signature""#,
        r#"provider="stripe",outcome="refused""#,
        r#"provider="stripe",outcome="error""#,
    ] {
        assert_eq!(callbacks(labels), 1.0, "{labels}: {text}");
    }
}
