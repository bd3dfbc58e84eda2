//! Bearer JWTs on `/api/v1`: a hostile-token corpus over HTTP (every one must be a 401
//! envelope) against a genuine token that works, plus revocation, deletion and disabling.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, TestApp};
use crate::reply::{Reply, send};
use crate::rest_helpers::{
    JWT_SECRET, Mac, Tokens, access_claims, b64, b64_json, bearer, forge, hs256_header, jwt_claims,
    jwt_header, mac, now_unix, password_change, sign_jwt, signing_input, spawn_with_secret, with,
    without,
};

const OTHER_SECRET: &[u8] = b"not-the-server-secret-but-just-as-long-0123456789";

/// One way of presenting (or not presenting) credentials to `GET /api/v1/users/profile`.
struct Case {
    name: String,
    authorization: Option<String>,
    /// A compat `session` cookie and the matching `New-Api-User` header.
    cookie: Option<Session>,
}

fn bearer_case(name: impl Into<String>, token: impl AsRef<str>) -> Case {
    Case {
        name: name.into(),
        authorization: Some(format!("Bearer {}", token.as_ref())),
        cookie: None,
    }
}

fn header_case(name: impl Into<String>, authorization: impl Into<String>) -> Case {
    Case {
        name: name.into(),
        authorization: Some(authorization.into()),
        cookie: None,
    }
}

async fn present(app: &TestApp, case: &Case) -> Reply {
    let mut req = app.client.get(app.url("/api/v1/users/profile"));
    if let Some(auth) = &case.authorization {
        req = req.header("Authorization", auth);
    }
    if let Some(s) = &case.cookie {
        req = req
            .header("Cookie", format!("session={}", s.cookie))
            .header("New-Api-User", s.id.to_string());
    }
    send(req).await
}

/// The three segments of a token.
fn parts(token: &str) -> (String, String, String) {
    let mut it = token.split('.').map(str::to_owned);
    let (Some(h), Some(p), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        panic!("not a three-segment token: {token}");
    };
    (h, p, s)
}

/// `s` with its character at `at` replaced by a different base64url character.
fn flip_char(s: &str, at: usize) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[tokio::test]
async fn rest_jwt_genuine_and_correctly_forged_tokens_are_accepted() {
    let app = spawn_with_secret().await;
    let alice = app.rest_user("alice").await;
    // The server signs with the configured key, exactly as computed here.
    let (h, p, sig) = parts(&alice.access);
    assert_eq!(
        jwt_header(&alice.access),
        json!({"typ": "JWT", "alg": "HS256"})
    );
    assert_eq!(
        b64(&mac(
            Mac::Hs256,
            JWT_SECRET.as_bytes(),
            format!("{h}.{p}").as_bytes()
        )),
        sig
    );
    assert_eq!(app.profile_of(&alice.access).await["username"], "alice");
    // A token built here with the right key and claims is accepted, so every refusal in the
    // corpus below is caused by its one defect.
    let claims = access_claims(alice.user_id, alice.sid);
    assert_eq!(
        jwt_claims(&alice.access)
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        claims.as_object().unwrap().keys().collect::<Vec<_>>()
    );
    let now = now_unix();
    let accepted = [
        ("forged baseline", forge(&claims)),
        (
            "expired, within the 30 s leeway",
            forge(&with(
                &with(&claims, "iat", json!(now - 910)),
                "exp",
                json!(now - 10),
            )),
        ),
        (
            "issued slightly in the future, within the leeway",
            forge(&with(
                &with(&claims, "iat", json!(now + 10)),
                "exp",
                json!(now + 910),
            )),
        ),
    ];
    for (name, token) in accepted {
        let reply = app.get_profile(&token).await;
        assert_eq!(reply.status, 200, "{name}: {}", reply.body);
        assert_eq!(reply.ok(200, "获取成功")["id"], alice.user_id, "{name}");
    }
    // The scheme is case-insensitive (RFC 7235).
    send(
        app.client
            .get(app.url("/api/v1/users/profile"))
            .header("Authorization", format!("bearer {}", alice.access)),
    )
    .await
    .ok(200, "获取成功");
}

#[tokio::test]
async fn rest_jwt_hostile_token_corpus_is_rejected() {
    let app = spawn_with_secret().await;
    let alice = app.rest_user("alice").await;
    let bob = app.rest_user("bob").await;
    let compat = app.login("alice", PASSWORD).await;
    let compat_token = app.access_token(&compat).await;
    let secret = JWT_SECRET.as_bytes();
    let now = now_unix();
    let c = access_claims(alice.user_id, alice.sid);
    let (gh, gp, gsig) = parts(&alice.access);
    let mut cases: Vec<Case> = Vec::new();

    // alg none, with and without a signature, in several spellings.
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": alg, "typ": "JWT"});
        let input = signing_input(&header, &c);
        cases.push(bearer_case(
            format!("alg {alg}, no signature"),
            format!("{input}."),
        ));
        cases.push(bearer_case(
            format!("alg {alg}, HS256 signature"),
            sign_jwt(Mac::Hs256, secret, &header, &c),
        ));
        cases.push(bearer_case(
            format!("alg {alg}, genuine token's signature"),
            format!("{input}.{gsig}"),
        ));
    }
    // Other algorithms, signed with the server's own secret.
    for (alg, m) in [("HS384", Mac::Hs384), ("HS512", Mac::Hs512)] {
        cases.push(bearer_case(
            format!("{alg} signed with the secret"),
            sign_jwt(m, secret, &json!({"alg": alg, "typ": "JWT"}), &c),
        ));
    }
    for alg in ["RS256", "ES256", "PS256", "EdDSA"] {
        cases.push(bearer_case(
            format!("{alg} header, HS256 signature"),
            sign_jwt(Mac::Hs256, secret, &json!({"alg": alg, "typ": "JWT"}), &c),
        ));
    }
    cases.push(bearer_case(
        "header without alg",
        sign_jwt(Mac::Hs256, secret, &json!({"typ": "JWT"}), &c),
    ));
    cases.push(bearer_case(
        "crit header",
        sign_jwt(
            Mac::Hs256,
            secret,
            &json!({"alg": "HS256", "typ": "JWT", "crit": ["exp"]}),
            &c,
        ),
    ));
    // The wrong key.
    cases.push(bearer_case(
        "wrong secret",
        sign_jwt(Mac::Hs256, OTHER_SECRET, &hs256_header(), &c),
    ));
    cases.push(bearer_case(
        "empty key",
        sign_jwt(Mac::Hs256, b"", &hs256_header(), &c),
    ));
    // Correctly signed, wrong claims.
    let expired = with(
        &with(&c, "iat", json!(now - 2000)),
        "exp",
        json!(now - 1100),
    );
    cases.push(bearer_case("expired long ago", forge(&expired)));
    let just_expired = with(&with(&c, "iat", json!(now - 945)), "exp", json!(now - 45));
    cases.push(bearer_case(
        "expired just beyond the leeway",
        forge(&just_expired),
    ));
    let future = with(
        &with(&c, "iat", json!(now + 3600)),
        "exp",
        json!(now + 4500),
    );
    cases.push(bearer_case("issued in the future", forge(&future)));
    cases.push(bearer_case(
        "exp equal to iat",
        forge(&with(&c, "exp", c["iat"].clone())),
    ));
    // Issue 7.12: a lifetime beyond the configured ttl (900 s) plus the leeway (30 s), and a
    // not-before in the future.
    cases.push(bearer_case(
        "a lifetime of a year",
        forge(&with(&c, "exp", json!(now + 365 * 86_400))),
    ));
    cases.push(bearer_case(
        "a lifetime of ttl + leeway + 1",
        forge(&with(&c, "exp", json!(now + 931))),
    ));
    cases.push(bearer_case(
        "nbf an hour ahead",
        forge(&with(&c, "nbf", json!(now + 3600))),
    ));
    for (name, claims) in [
        ("wrong audience", with(&c, "aud", json!("other-api"))),
        ("audience as an array", with(&c, "aud", json!([c["aud"]]))),
        ("missing audience", without(&c, "aud")),
        ("wrong issuer", with(&c, "iss", json!("evil"))),
        ("issuer in another case", with(&c, "iss", json!("Tollgate"))),
        ("missing issuer", without(&c, "iss")),
        ("missing sid", without(&c, "sid")),
        ("sid 0", with(&c, "sid", json!(0))),
        ("negative sid", with(&c, "sid", json!(-alice.sid))),
        (
            "sid as a string",
            with(&c, "sid", json!(alice.sid.to_string())),
        ),
        (
            "sid of another user's session",
            with(&c, "sid", json!(bob.sid)),
        ),
        (
            "another user's sub on my session",
            with(&c, "sub", json!(bob.user_id.to_string())),
        ),
        ("sid that does not exist", with(&c, "sid", json!(999_999))),
        (
            "sub of no user",
            with(&with(&c, "sub", json!("999999")), "sid", json!(alice.sid)),
        ),
        (
            "sub with a leading zero",
            with(&c, "sub", json!(format!("0{}", alice.user_id))),
        ),
        ("sub as a number", with(&c, "sub", json!(alice.user_id))),
        ("missing sub", without(&c, "sub")),
        ("typ refresh", with(&c, "typ", json!("refresh"))),
        ("missing typ", without(&c, "typ")),
        ("missing exp", without(&c, "exp")),
        ("missing iat", without(&c, "iat")),
    ] {
        cases.push(bearer_case(name, forge(&claims)));
    }
    // Tampering with a genuine token.
    let escalated = b64_json(&with(
        &jwt_claims(&alice.access),
        "sub",
        json!(bob.user_id.to_string()),
    ));
    cases.push(bearer_case(
        "payload changed to another user, original signature",
        format!("{gh}.{escalated}.{gsig}"),
    ));
    let longer = jwt_claims(&alice.access);
    let longer = with(
        &longer,
        "exp",
        json!(longer["exp"].as_i64().unwrap() + 86_400),
    );
    cases.push(bearer_case(
        "expiry extended, original signature",
        format!("{gh}.{}.{gsig}", b64_json(&longer)),
    ));
    cases.push(bearer_case(
        "first signature character flipped",
        format!("{gh}.{gp}.{}", flip_char(&gsig, 0)),
    ));
    cases.push(bearer_case(
        "middle signature character flipped",
        format!("{gh}.{gp}.{}", flip_char(&gsig, gsig.len() / 2)),
    ));
    cases.push(bearer_case(
        "payload character flipped",
        format!("{gh}.{}.{gsig}", flip_char(&gp, 3)),
    ));
    let access = &alice.access;
    cases.push(bearer_case(
        "truncated by 5 characters",
        &access[..access.len() - 5],
    ));
    cases.push(bearer_case(
        "truncated to half",
        &access[..access.len() / 2],
    ));
    cases.push(bearer_case("signature removed", format!("{gh}.{gp}.")));
    cases.push(bearer_case("two segments", format!("{gh}.{gp}")));
    cases.push(bearer_case("four segments", format!("{access}.{gsig}")));
    cases.push(bearer_case(
        "padded base64 segments",
        format!("{gh}=.{gp}=.{gsig}="),
    ));
    let standard = gsig.replace('-', "+").replace('_', "/");
    if standard != gsig {
        cases.push(bearer_case(
            "signature in standard base64",
            format!("{gh}.{gp}.{standard}"),
        ));
    }
    // Wrong schemes and foreign credentials.
    cases.push(header_case("no scheme", access.as_str()));
    cases.push(header_case(
        "Basic scheme with the JWT",
        format!("Basic {access}"),
    ));
    cases.push(header_case(
        "Basic credentials",
        format!(
            "Basic {}",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                format!("alice:{PASSWORD}")
            )
        ),
    ));
    cases.push(header_case("Token scheme", format!("Token {access}")));
    cases.push(header_case("Bearer: scheme", format!("Bearer: {access}")));
    cases.push(header_case("BearerX scheme", format!("BearerX {access}")));
    cases.push(bearer_case("refresh token as access token", &alice.refresh));
    cases.push(bearer_case("compat access token", &compat_token));
    cases.push(header_case(
        "compat access token without scheme",
        compat_token.as_str(),
    ));
    cases.push(bearer_case("compat session cookie value", &compat.cookie));
    cases.push(Case {
        name: "compat session cookie".into(),
        authorization: None,
        cookie: Some(compat.clone()),
    });
    cases.push(Case {
        name: "no credentials".into(),
        authorization: None,
        cookie: None,
    });
    cases.push(header_case("empty bearer", "Bearer "));
    cases.push(header_case("bare Bearer", "Bearer"));
    cases.push(header_case("empty header", ""));
    cases.push(bearer_case("100 KB of junk", "a".repeat(100 * 1024)));
    cases.push(bearer_case(
        "100 KB validly signed token",
        forge(&with(&c, "pad", json!("x".repeat(100 * 1024)))),
    ));

    let mut failures = Vec::new();
    for case in &cases {
        let reply = present(&app, case).await;
        if let Err(e) = reply.check_unauthenticated() {
            failures.push(format!("{}: {e}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} hostile requests were not refused with the 401 envelope:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(cases.len() > 70, "the corpus shrank: {}", cases.len());
    // The genuine credentials still work after all that.
    assert_eq!(app.profile_of(&alice.access).await["username"], "alice");
    assert_eq!(app.profile_of(&forge(&c)).await["username"], "alice");
    assert_eq!(app.get_self(&compat).await["success"], true);
}

#[tokio::test]
async fn rest_jwt_hostile_tokens_change_nothing_on_write_endpoints() {
    let app = spawn_with_secret().await;
    let alice = app.rest_user("alice").await;
    let before = app.profile_of(&alice.access).await;
    let c = access_claims(alice.user_id, alice.sid);
    let none = format!(
        "{}.",
        signing_input(&json!({"alg": "none", "typ": "JWT"}), &c)
    );
    let wrong_key = sign_jwt(Mac::Hs256, OTHER_SECRET, &hs256_header(), &c);
    for token in [&none, &wrong_key] {
        app.put_profile(token, &json!({"username": "pwned"}))
            .await
            .unauthenticated();
        app.put_password(
            token,
            &password_change(PASSWORD, "pwned-password", "pwned-password"),
        )
        .await
        .unauthenticated();
        app.rest_logout(token).await.unauthenticated();
    }
    assert_eq!(app.profile_of(&alice.access).await, before);
    app.rest_tokens("alice", PASSWORD).await;
    app.rest_refresh(&alice.refresh).await.ok(200, "令牌已刷新");
}

#[tokio::test]
async fn rest_jwt_a_token_for_a_revoked_session_is_refused() {
    let app = spawn_with_secret().await;
    let first = app.rest_user("alice").await;
    let second = app.rest_tokens("alice", PASSWORD).await;
    app.rest_logout(&first.access).await.ok(200, "已退出登录");
    // A fresh, validly signed token naming the revoked session is refused...
    app.get_profile(&forge(&access_claims(first.user_id, first.sid)))
        .await
        .unauthenticated();
    app.get_profile(&first.access).await.unauthenticated();
    // ...while the same forgery for the live session is accepted.
    app.profile_of(&forge(&access_claims(second.user_id, second.sid)))
        .await;
    app.profile_of(&second.access).await;
}

#[tokio::test]
async fn rest_jwt_a_token_of_a_soft_deleted_user_is_refused() {
    let app = spawn_with_secret().await;
    let alice = app.rest_user("alice").await;
    let forged = forge(&access_claims(alice.user_id, alice.sid));
    app.profile_of(&alice.access).await;
    app.profile_of(&forged).await;
    app.exec("UPDATE users SET deleted_at = 1 WHERE username = 'alice'")
        .await;
    app.get_profile(&alice.access).await.unauthenticated();
    app.get_profile(&forged).await.unauthenticated();
    app.put_profile(&alice.access, &json!({"username": "ghost"}))
        .await
        .unauthenticated();
    app.rest_refresh(&alice.refresh).await.err(401, "未认证");
}

#[tokio::test]
async fn rest_jwt_a_token_of_a_disabled_user_is_403() {
    let app = spawn_with_secret().await;
    let alice: Tokens = app.rest_user("alice").await;
    let forged = forge(&access_claims(alice.user_id, alice.sid));
    app.exec("UPDATE users SET status = 2 WHERE username = 'alice'")
        .await;
    app.get_profile(&alice.access).await.disabled();
    app.get_profile(&forged).await.disabled();
    let error = send(
        bearer(&app, Method::GET, "/api/v1/users/profile", &alice.access)
            .header("Accept-Language", "en"),
    )
    .await
    .err(403, "Account disabled");
    assert_eq!(error, "account disabled");
    // A bad token of a disabled user is still a 401: the account state is not revealed.
    app.get_profile(&sign_jwt(
        Mac::Hs256,
        OTHER_SECRET,
        &hs256_header(),
        &access_claims(alice.user_id, alice.sid),
    ))
    .await
    .unauthenticated();
}

#[tokio::test]
async fn rest_jwt_tokens_do_not_cross_installations() {
    // No secret configured: each installation generates its own random key.
    let a = TestApp::spawn().await;
    let b = TestApp::spawn().await;
    let at_a = a.rest_user("alice").await;
    let at_b = b.rest_user("alice").await;
    // Same user id and session id in both databases: only the key tells them apart.
    assert_eq!((at_a.user_id, at_a.sid), (at_b.user_id, at_b.sid));
    assert_eq!(
        jwt_claims(&at_a.access)["sub"],
        jwt_claims(&at_b.access)["sub"]
    );
    a.profile_of(&at_a.access).await;
    b.profile_of(&at_b.access).await;
    b.get_profile(&at_a.access).await.unauthenticated();
    a.get_profile(&at_b.access).await.unauthenticated();
    // Nor does the key default to the secret other tests configure.
    a.get_profile(&forge(&access_claims(at_a.user_id, at_a.sid)))
        .await
        .unauthenticated();
}

#[tokio::test]
async fn rest_jwt_the_access_token_does_not_work_on_the_compat_surface() {
    let app = spawn_with_secret().await;
    let alice = app.rest_user("alice").await;
    let res = send(
        app.client
            .get(app.url("/api/user/self"))
            .header("Authorization", format!("Bearer {}", alice.access))
            .header("New-Api-User", alice.user_id.to_string()),
    )
    .await;
    let body: Value = res.body;
    assert_eq!(body["success"], false, "{body}");
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");
}
