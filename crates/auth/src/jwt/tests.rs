//! The codec's unit tests: construction, round trips, time rules, a hostile-token corpus and
//! property tests (proptest) that no mutated, truncated or random token is ever accepted.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::sign;
use proptest::prelude::*;
use serde_json::{Value, json};
use tollgate_domain::ports::SecretGenerator as _;

use super::*;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-tollgate-test";
const OTHER_SECRET: &[u8] = b"fedcba9876543210fedcba9876543210-someone-else";
const ISS: &str = "tollgate";
const AUD: &str = "tollgate-api";
const TTL: i64 = 900;
const LEEWAY: i64 = 30;
const NOW: i64 = 1_790_000_000;

fn codec() -> JwtCodec {
    JwtCodec::new(SECRET, ISS, AUD, TTL, LEEWAY).unwrap()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn hs256_header() -> Value {
    json!({"typ": "JWT", "alg": "HS256"})
}

/// The claims `issue(UserId::new(1), SessionId::new(7), NOW)` produces.
fn good_claims() -> Value {
    json!({
        "iss": ISS, "aud": AUD, "sub": "1", "sid": 7,
        "iat": NOW, "exp": NOW + TTL, "typ": "access"
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

/// `header.payload.signature`, the signature computed with `alg` over the exact
/// signing input, whatever the header claims.
fn forge(header: &Value, claims: &Value, secret: &[u8], alg: Algorithm) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let sig = sign(input.as_bytes(), &EncodingKey::from_secret(secret), alg).unwrap();
    format!("{input}.{sig}")
}

/// A correctly HS256-signed token with our secret and arbitrary claims.
fn signed(claims: &Value) -> String {
    forge(&hs256_header(), claims, SECRET, Algorithm::HS256)
}

fn assert_invalid(c: &JwtCodec, token: &str, now: i64, what: &str) {
    assert_eq!(
        c.verify(token, now),
        Err(TokenRejected::Invalid),
        "accepted or misclassified: {what}: {}",
        &token[..token.len().min(200)]
    );
}

/// The base64url alphabet, in which every segment of a token is written.
const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// One base64url character.
fn b64url_char() -> impl Strategy<Value = char> {
    proptest::sample::select(B64URL).prop_map(char::from)
}

/// `n` base64url characters, `n` in `len`.
fn b64url_string(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(b64url_char(), len).prop_map(|cs| cs.into_iter().collect())
}

/// Property-test settings: as many cases as the hand-made generator ran before, no forking.
fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------- construction

#[test]
fn new_refuses_weak_or_nonsensical_settings() {
    assert!(JwtCodec::new(&[7u8; 31], ISS, AUD, TTL, LEEWAY).is_err());
    assert!(JwtCodec::new(b"", ISS, AUD, TTL, LEEWAY).is_err());
    assert!(JwtCodec::new(&[7u8; 32], ISS, AUD, TTL, LEEWAY).is_ok());
    assert!(JwtCodec::new(SECRET, ISS, AUD, 0, LEEWAY).is_err());
    assert!(JwtCodec::new(SECRET, ISS, AUD, -5, LEEWAY).is_err());
    assert!(JwtCodec::new(SECRET, ISS, AUD, 1, LEEWAY).is_ok());
    assert!(JwtCodec::new(SECRET, ISS, AUD, TTL, -1).is_err());
    assert!(JwtCodec::new(SECRET, ISS, AUD, TTL, 0).is_ok());
    assert!(JwtCodec::new(SECRET, "", AUD, TTL, LEEWAY).is_err());
    assert!(JwtCodec::new(SECRET, ISS, "", TTL, LEEWAY).is_err());
}

#[test]
fn debug_does_not_print_the_key() {
    let secret = b"super-secret-value-that-must-never-be-logged!";
    let c = JwtCodec::new(secret, ISS, AUD, TTL, LEEWAY).unwrap();
    let out = format!("{c:?} {c:#?}");
    let s = std::str::from_utf8(secret).unwrap();
    assert!(!out.contains(s), "{out}");
    assert!(!out.contains("super-secret"), "{out}");
    // Not as bytes either.
    assert!(!out.contains(&format!("{:?}", &secret[..8])), "{out}");
    assert!(out.contains("redacted"));
    assert!(out.contains(ISS));
}

#[test]
fn ttl_secs_is_the_configured_ttl() {
    assert_eq!(codec().ttl_secs(), TTL);
}

// ---------------------------------------------------------------- positive

#[test]
fn issue_then_verify_round_trips() {
    let c = codec();
    let token = c.issue(UserId::new(42), SessionId::new(9001), NOW).unwrap();
    let claims = c.verify(&token, NOW).unwrap();
    assert_eq!(
        claims,
        AccessClaims {
            user_id: UserId::new(42),
            session_id: SessionId::new(9001),
            issued_at: NOW,
            expires_at: NOW + TTL,
        }
    );
    // Valid over its whole life.
    assert_eq!(c.verify(&token, NOW + TTL), Ok(claims));
}

#[test]
fn issued_token_has_the_documented_shape() {
    let token = codec()
        .issue(UserId::new(1), SessionId::new(7), NOW)
        .unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(header["alg"], "HS256");
    assert_eq!(claims, good_claims());
    // The hand-forged control token used by the corpus carries the same claims.
    assert!(codec().verify(&signed(&good_claims()), NOW).is_ok());
}

#[test]
fn tokens_issued_at_different_times_differ() {
    let c = codec();
    let a = c.issue(UserId::new(1), SessionId::new(7), NOW).unwrap();
    let b = c.issue(UserId::new(1), SessionId::new(7), NOW + 1).unwrap();
    assert_ne!(a, b);
    assert_eq!(c.verify(&a, NOW + 1).unwrap().issued_at, NOW);
    assert_eq!(c.verify(&b, NOW + 1).unwrap().issued_at, NOW + 1);
}

#[test]
fn issue_refuses_what_verify_would_refuse() {
    let c = codec();
    assert!(c.issue(UserId::new(0), SessionId::new(7), NOW).is_err());
    assert!(c.issue(UserId::new(-1), SessionId::new(7), NOW).is_err());
    assert!(c.issue(UserId::new(1), SessionId::new(0), NOW).is_err());
    assert!(c.issue(UserId::new(1), SessionId::new(7), 0).is_err());
    assert!(
        c.issue(UserId::new(1), SessionId::new(7), i64::MAX)
            .is_err()
    );
}

#[test]
fn large_ids_round_trip() {
    let c = codec();
    let token = c
        .issue(UserId::new(i64::MAX), SessionId::new(i64::MAX), NOW)
        .unwrap();
    let claims = c.verify(&token, NOW).unwrap();
    assert_eq!(claims.user_id, UserId::new(i64::MAX));
    assert_eq!(claims.session_id, SessionId::new(i64::MAX));
}

// ---------------------------------------------------------------- time

#[test]
fn expiry_uses_now_and_the_leeway() {
    let c = codec();
    let token = c.issue(UserId::new(1), SessionId::new(7), NOW).unwrap();
    let exp = NOW + TTL;
    // Just within the leeway: accepted.
    assert!(c.verify(&token, exp + LEEWAY).is_ok());
    assert!(c.verify(&token, exp + 1).is_ok());
    // One second beyond: expired.
    assert_eq!(
        c.verify(&token, exp + LEEWAY + 1),
        Err(TokenRejected::Expired)
    );
    assert_eq!(
        c.verify(&token, exp + 86_400 * 365),
        Err(TokenRejected::Expired)
    );
    assert_eq!(c.verify(&token, i64::MAX), Err(TokenRejected::Expired));
}

#[test]
fn zero_leeway_expires_exactly_after_exp() {
    let c = JwtCodec::new(SECRET, ISS, AUD, TTL, 0).unwrap();
    let token = c.issue(UserId::new(1), SessionId::new(7), NOW).unwrap();
    assert!(c.verify(&token, NOW + TTL).is_ok());
    assert_eq!(c.verify(&token, NOW + TTL + 1), Err(TokenRejected::Expired));
}

#[test]
fn the_system_clock_is_not_consulted() {
    // Issued and verified in 2001: the real clock says it expired long ago.
    let c = codec();
    let then = 1_000_000_000;
    let token = c.issue(UserId::new(1), SessionId::new(7), then).unwrap();
    assert!(c.verify(&token, then + 10).is_ok());
    // And a token from the far future verifies when `now` is the far future.
    let later = 4_000_000_000;
    let token = c.issue(UserId::new(1), SessionId::new(7), later).unwrap();
    assert!(c.verify(&token, later).is_ok());
}

#[test]
fn iat_in_the_future_is_refused_beyond_the_leeway() {
    let c = codec();
    let token = c
        .issue(UserId::new(1), SessionId::new(7), NOW + LEEWAY)
        .unwrap();
    assert!(c.verify(&token, NOW).is_ok());
    let token = c
        .issue(UserId::new(1), SessionId::new(7), NOW + LEEWAY + 1)
        .unwrap();
    assert_invalid(&c, &token, NOW, "iat just beyond the leeway");
    let token = c
        .issue(UserId::new(1), SessionId::new(7), NOW + 10 * 365 * 86_400)
        .unwrap();
    assert_invalid(&c, &token, NOW, "iat ten years ahead");
}

#[test]
fn expired_is_reported_only_for_otherwise_valid_tokens() {
    let c = codec();
    let late = NOW + TTL + LEEWAY + 1;
    // Bad signature and expired: Invalid, not Expired (no oracle for forgers).
    let forged = forge(
        &hs256_header(),
        &good_claims(),
        OTHER_SECRET,
        Algorithm::HS256,
    );
    assert_invalid(&c, &forged, late, "expired + wrong key");
    // Wrong audience and expired: Invalid.
    let t = signed(&with(good_claims(), "aud", json!("elsewhere")));
    assert_invalid(&c, &t, late, "expired + wrong aud");
    // Wrong typ and expired: Invalid.
    let t = signed(&with(good_claims(), "typ", json!("refresh")));
    assert_invalid(&c, &t, late, "expired + refresh typ");
    // Bad sub and expired: Invalid.
    let t = signed(&with(good_claims(), "sub", json!("0")));
    assert_invalid(&c, &t, late, "expired + sub 0");
    // `none` and expired: Invalid.
    let t = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&good_claims()));
    assert_invalid(&c, &t, late, "expired + alg none");
    // The control: the genuine token is Expired.
    assert_eq!(
        c.verify(&signed(&good_claims()), late),
        Err(TokenRejected::Expired)
    );
}

// ---------------------------------------------------------------- hostile corpus

/// Every entry must be rejected as `Invalid` at `NOW`, where the genuine token is valid.
fn hostile_corpus() -> Vec<(String, String)> {
    let c = codec();
    let good = c.issue(UserId::new(1), SessionId::new(7), NOW).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let (h, p, s) = (parts[0], parts[1], parts[2]);
    let claims = good_claims();
    let mut v: Vec<(String, String)> = Vec::new();
    let mut add = |what: &str, token: String| v.push((what.to_owned(), token));

    // --- algorithm confusion
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let hdr = json!({"typ": "JWT", "alg": alg});
        add(
            &format!("alg {alg:?}, empty signature"),
            format!("{}.{}.", b64(&hdr), b64(&claims)),
        );
        add(
            &format!("alg {alg:?}, original signature"),
            format!("{}.{}.{s}", b64(&hdr), b64(&claims)),
        );
        add(
            &format!("alg {alg:?}, HS256 signature over its own header"),
            forge(&hdr, &claims, SECRET, Algorithm::HS256),
        );
    }
    add(
        "no alg in header",
        forge(&json!({"typ": "JWT"}), &claims, SECRET, Algorithm::HS256),
    );
    add(
        "alg null",
        forge(&json!({"alg": null}), &claims, SECRET, Algorithm::HS256),
    );
    add(
        "alg array",
        forge(
            &json!({"alg": ["HS256"]}),
            &claims,
            SECRET,
            Algorithm::HS256,
        ),
    );
    add(
        "alg lowercase hs256",
        forge(&json!({"alg": "hs256"}), &claims, SECRET, Algorithm::HS256),
    );
    add(
        "HS384 header, HS384 signature, same secret",
        forge(
            &json!({"typ": "JWT", "alg": "HS384"}),
            &claims,
            SECRET,
            Algorithm::HS384,
        ),
    );
    add(
        "HS512 header, HS512 signature, same secret",
        forge(
            &json!({"typ": "JWT", "alg": "HS512"}),
            &claims,
            SECRET,
            Algorithm::HS512,
        ),
    );
    add(
        "HS384 via jsonwebtoken::encode, same secret",
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS384),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap(),
    );
    add(
        "HS512 via jsonwebtoken::encode, same secret",
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap(),
    );
    for alg in ["RS256", "RS512", "PS256", "ES256", "ES384", "EdDSA"] {
        add(
            &format!("{alg} header, HS256 signature with our secret (key confusion)"),
            forge(
                &json!({"typ": "JWT", "alg": alg}),
                &claims,
                SECRET,
                Algorithm::HS256,
            ),
        );
    }
    add(
        "HS256 header with a crit extension",
        forge(
            &json!({"typ": "JWT", "alg": "HS256", "crit": ["exp"], "exp": 1}),
            &claims,
            SECRET,
            Algorithm::HS256,
        ),
    );
    add(
        "header typ JWE",
        forge(
            &json!({"typ": "JWE", "alg": "HS256"}),
            &claims,
            SECRET,
            Algorithm::HS256,
        ),
    );
    add("header is not JSON", {
        let input = format!("{}.{}", URL_SAFE_NO_PAD.encode("HS256"), b64(&claims));
        let sig = sign(
            input.as_bytes(),
            &EncodingKey::from_secret(SECRET),
            Algorithm::HS256,
        )
        .unwrap();
        format!("{input}.{sig}")
    });

    // --- keys and signatures
    add(
        "signed with a different secret",
        forge(&hs256_header(), &claims, OTHER_SECRET, Algorithm::HS256),
    );
    add(
        "signed with a different secret via our own codec",
        JwtCodec::new(OTHER_SECRET, ISS, AUD, TTL, LEEWAY)
            .unwrap()
            .issue(UserId::new(1), SessionId::new(7), NOW)
            .unwrap(),
    );
    add(
        "signed with an empty-ish short secret",
        forge(&hs256_header(), &claims, b"x", Algorithm::HS256),
    );
    let tampered = with(claims.clone(), "sub", json!("2"));
    add(
        "payload tampered (sub 1 -> 2), original signature",
        format!("{h}.{}.{s}", b64(&tampered)),
    );
    add(
        "payload tampered (sid 7 -> 8), original signature",
        format!("{h}.{}.{s}", b64(&with(claims.clone(), "sid", json!(8)))),
    );
    add(
        "payload tampered (exp extended), original signature",
        format!(
            "{h}.{}.{s}",
            b64(&with(claims.clone(), "exp", json!(NOW + 1_000_000)))
        ),
    );
    add(
        "header swapped for HS512, original signature",
        format!("{}.{p}.{s}", b64(&json!({"typ": "JWT", "alg": "HS512"}))),
    );
    {
        let mut sig: Vec<u8> = s.as_bytes().to_vec();
        let i = sig.len() / 2;
        sig[i] = if sig[i] == b'A' { b'B' } else { b'A' };
        add(
            "one flipped character in the signature",
            format!("{h}.{p}.{}", String::from_utf8(sig).unwrap()),
        );
    }
    add("signature removed", format!("{h}.{p}."));
    add("signature of another token", {
        let other = c.issue(UserId::new(2), SessionId::new(7), NOW).unwrap();
        let other_sig = other.rsplit('.').next().unwrap().to_owned();
        format!("{h}.{p}.{other_sig}")
    });
    add("signature in standard base64 with padding", {
        let raw = URL_SAFE_NO_PAD.decode(s).unwrap();
        let std = base64::engine::general_purpose::STANDARD.encode(raw);
        format!("{h}.{p}.{std}")
    });
    add("signature doubled", format!("{h}.{p}.{s}{s}"));

    // --- structure
    add("empty string", String::new());
    add("only dots", "..".to_owned());
    add("four dots", "....".to_owned());
    add("two segments (header.payload)", format!("{h}.{p}"));
    add("one segment", h.to_owned());
    add("four segments (extra trailing)", format!("{good}.{s}"));
    add("trailing dot", format!("{good}."));
    add("leading dot", format!(".{good}"));
    add("extra leading segment", format!("{h}.{good}"));
    add("empty header segment", format!(".{p}.{s}"));
    add("empty payload segment", format!("{h}..{s}"));
    add("whitespace around", format!(" {good} "));
    add("Bearer prefix left in", format!("Bearer {good}"));
    add("newline inside", format!("{h}.{p}\n.{s}"));
    add("padded segments", format!("{h}=.{p}=.{s}="));
    add("unicode garbage", "ｅｙＪ.ｅｙＪ.ｓｉｇ".to_owned());
    add("control bytes", "\u{0}\u{1}\u{7f}.\u{0}.\u{0}".to_owned());
    add(
        "opaque 43-char refresh token",
        crate::OsSecrets.token().plaintext,
    );
    add(
        "a fixed 43-char base64url string",
        "dGhpcyBpcyBhIHJlZnJlc2ggdG9rZW4gbm90IGEgSldU".to_owned(),
    );
    add("a JSON body instead of a token", claims.to_string());
    add(
        "a JSON body with a token field",
        json!({"access_token": good}).to_string(),
    );
    add("a 1 MB string", "a".repeat(1 << 20));
    add(
        "a 1 MB three-segment token",
        format!(
            "{}.{}.{}",
            "a".repeat(350_000),
            "b".repeat(350_000),
            "c".repeat(350_000)
        ),
    );
    add("a 1 MB run of dots", ".".repeat(1 << 20));
    add(
        "a valid signature over a huge payload",
        signed(&with(claims.clone(), "pad", json!("x".repeat(10_000)))),
    );
    add("payload not JSON, valid signature", {
        let input = format!("{h}.{}", URL_SAFE_NO_PAD.encode("not json"));
        let sig = sign(
            input.as_bytes(),
            &EncodingKey::from_secret(SECRET),
            Algorithm::HS256,
        )
        .unwrap();
        format!("{input}.{sig}")
    });
    add(
        "payload a JSON array, valid signature",
        signed(&json!([claims.clone()])),
    );
    add("payload deeply nested JSON, valid signature", {
        let nested = format!("{}1{}", "[".repeat(2000), "]".repeat(2000));
        let input = format!("{h}.{}", URL_SAFE_NO_PAD.encode(nested));
        let sig = sign(
            input.as_bytes(),
            &EncodingKey::from_secret(SECRET),
            Algorithm::HS256,
        )
        .unwrap();
        format!("{input}.{sig}")
    });

    // --- claims, correctly signed with our secret
    add(
        "wrong aud",
        signed(&with(claims.clone(), "aud", json!("someone-else"))),
    );
    add("missing aud", signed(&without(claims.clone(), "aud")));
    add(
        "aud as array",
        signed(&with(claims.clone(), "aud", json!([AUD]))),
    );
    add(
        "aud as array with another",
        signed(&with(claims.clone(), "aud", json!([AUD, "x"]))),
    );
    add(
        "aud null",
        signed(&with(claims.clone(), "aud", Value::Null)),
    );
    add(
        "wrong iss",
        signed(&with(claims.clone(), "iss", json!("evil"))),
    );
    add("missing iss", signed(&without(claims.clone(), "iss")));
    add(
        "iss as array",
        signed(&with(claims.clone(), "iss", json!([ISS]))),
    );
    add("missing sid", signed(&without(claims.clone(), "sid")));
    add(
        "sid as string",
        signed(&with(claims.clone(), "sid", json!("7"))),
    );
    add(
        "sid as float",
        signed(&with(claims.clone(), "sid", json!(7.5))),
    );
    add("sid 0", signed(&with(claims.clone(), "sid", json!(0))));
    add(
        "sid negative",
        signed(&with(claims.clone(), "sid", json!(-7))),
    );
    add(
        "sid beyond i64",
        signed(&with(claims.clone(), "sid", json!(u64::MAX))),
    );
    add("missing sub", signed(&without(claims.clone(), "sub")));
    for sub in [
        "0",
        "-1",
        "abc",
        "",
        "+1",
        "01",
        " 1",
        "1 ",
        "1.0",
        "1e3",
        "9223372036854775808",
    ] {
        add(
            &format!("sub {sub:?}"),
            signed(&with(claims.clone(), "sub", json!(sub))),
        );
    }
    add(
        "sub as number",
        signed(&with(claims.clone(), "sub", json!(1))),
    );
    add(
        "typ refresh",
        signed(&with(claims.clone(), "typ", json!("refresh"))),
    );
    add(
        "typ Access (case)",
        signed(&with(claims.clone(), "typ", json!("Access"))),
    );
    add(
        "typ as number",
        signed(&with(claims.clone(), "typ", json!(1))),
    );
    add("missing typ", signed(&without(claims.clone(), "typ")));
    add("missing exp", signed(&without(claims.clone(), "exp")));
    add(
        "exp as string",
        signed(&with(claims.clone(), "exp", json!((NOW + TTL).to_string()))),
    );
    add(
        "exp as float",
        signed(&with(
            claims.clone(),
            "exp",
            json!((NOW + TTL) as f64 + 0.5),
        )),
    );
    add(
        "exp before iat",
        signed(&with(claims.clone(), "exp", json!(NOW - 1))),
    );
    add(
        "exp negative",
        signed(&with(claims.clone(), "exp", json!(-1))),
    );
    add("missing iat", signed(&without(claims.clone(), "iat")));
    add(
        "iat as string",
        signed(&with(claims.clone(), "iat", json!(NOW.to_string()))),
    );
    add(
        "iat far in the future",
        signed(&with(
            with(claims.clone(), "iat", json!(NOW + 86_400)),
            "exp",
            json!(NOW + 86_400 + TTL),
        )),
    );
    add("iat zero", signed(&with(claims.clone(), "iat", json!(0))));
    // Issue 7.12: a lifetime longer than we ever issue (a leaked key's forgery, or a
    // token minted elsewhere), and not-before in the future.
    add(
        "exp a year after iat",
        signed(&with(claims.clone(), "exp", json!(NOW + 365 * 86_400))),
    );
    add(
        "exp - iat one second beyond ttl + leeway",
        signed(&with(claims.clone(), "exp", json!(NOW + TTL + LEEWAY + 1))),
    );
    add(
        "exp i64::MAX",
        signed(&with(claims.clone(), "exp", json!(i64::MAX))),
    );
    add(
        "nbf in the future beyond the leeway",
        signed(&with(claims.clone(), "nbf", json!(NOW + LEEWAY + 1))),
    );
    add(
        "nbf far in the future",
        signed(&with(claims.clone(), "nbf", json!(NOW + 86_400))),
    );
    add(
        "nbf as string",
        signed(&with(claims.clone(), "nbf", json!(NOW.to_string()))),
    );
    add(
        "nbf as float",
        signed(&with(claims.clone(), "nbf", json!(NOW as f64 + 0.5))),
    );
    add("empty claims object", signed(&json!({})));
    add("duplicate sub key", {
        let body = format!(
            r#"{{"iss":"{ISS}","aud":"{AUD}","sub":"1","sub":"2","sid":7,"iat":{NOW},"exp":{},"typ":"access"}}"#,
            NOW + TTL
        );
        let input = format!("{h}.{}", URL_SAFE_NO_PAD.encode(body));
        let sig = sign(
            input.as_bytes(),
            &EncodingKey::from_secret(SECRET),
            Algorithm::HS256,
        )
        .unwrap();
        format!("{input}.{sig}")
    });
    v
}

#[test]
fn the_control_token_is_valid() {
    // Guards the corpus: the tokens below differ from a valid one only in what they test.
    let c = codec();
    assert!(
        c.verify(
            &c.issue(UserId::new(1), SessionId::new(7), NOW).unwrap(),
            NOW
        )
        .is_ok()
    );
    assert!(c.verify(&signed(&good_claims()), NOW).is_ok());
    assert!(
        c.verify(
            &forge(
                &json!({"alg": "HS256"}),
                &good_claims(),
                SECRET,
                Algorithm::HS256
            ),
            NOW
        )
        .is_ok(),
        "a header without typ is still fine"
    );
    // The longest lifetime the codec accepts is its ttl plus the leeway; `nbf`, which
    // we never issue, is accepted when it is not in the future beyond the leeway.
    assert!(
        c.verify(
            &signed(&with(good_claims(), "exp", json!(NOW + TTL + LEEWAY))),
            NOW
        )
        .is_ok()
    );
    for nbf in [NOW - 86_400, NOW, NOW + LEEWAY] {
        assert!(
            c.verify(&signed(&with(good_claims(), "nbf", json!(nbf))), NOW)
                .is_ok(),
            "nbf {nbf}"
        );
    }
    // Unknown extra claims are tolerated (forward compatibility).
    assert!(
        c.verify(&signed(&with(good_claims(), "jti", json!("x"))), NOW)
            .is_ok()
    );
}

#[test]
fn the_hostile_corpus_is_rejected_entirely() {
    let c = codec();
    let corpus = hostile_corpus();
    assert!(corpus.len() >= 100, "corpus shrank to {}", corpus.len());
    let mut accepted = Vec::new();
    for (what, token) in &corpus {
        match c.verify(token, NOW) {
            Err(TokenRejected::Invalid) => {}
            other => accepted.push(format!("{what}: {other:?}")),
        }
    }
    assert!(
        accepted.is_empty(),
        "not rejected as Invalid:\n{}",
        accepted.join("\n")
    );
}

proptest! {
    // Each case changes every position once: as many checks as before, at every position.
    #![proptest_config(cases(3))]

    /// Any one character of a genuine token replaced by another token character (base64url
    /// or the dot) is refused, at every position.
    #[test]
    fn every_single_character_change_is_rejected(
        shifts in proptest::collection::vec(1..=B64URL.len(), 64),
    ) {
        let c = codec();
        let good = c.issue(UserId::new(1), SessionId::new(7), NOW).unwrap();
        let alphabet = [B64URL, b"."].concat();
        for (i, shift) in (0..good.len()).zip(shifts.iter().cycle()) {
            let mut t = good.clone().into_bytes();
            let from = alphabet.iter().position(|&ch| ch == t[i]).unwrap();
            t[i] = alphabet[(from + shift) % alphabet.len()];
            let t = String::from_utf8(t).unwrap();
            assert_invalid(&c, &t, NOW, &format!("char {i} changed"));
        }
    }
}

#[test]
fn every_truncation_is_rejected() {
    let c = codec();
    let good = c.issue(UserId::new(1), SessionId::new(7), NOW).unwrap();
    for n in 0..good.len() {
        assert_invalid(&c, &good[..n], NOW, &format!("prefix of {n} bytes"));
        assert_invalid(&c, &good[n + 1..], NOW, &format!("suffix from {}", n + 1));
    }
}

proptest! {
    #![proptest_config(cases(1000))]

    /// Arbitrary bytes, made into a string lossily (replacement chars, controls).
    #[test]
    fn random_bytes_never_panic_and_are_rejected(
        raw in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let token = String::from_utf8_lossy(&raw).into_owned();
        assert_invalid(&codec(), &token, NOW, "random bytes");
    }

    /// Base64url soup with dots sprinkled in (one character in twenty).
    #[test]
    fn random_base64url_with_dots_is_rejected(
        chars in proptest::collection::vec(
            prop_oneof![19 => b64url_char(), 1 => Just('.')],
            0..600,
        ),
    ) {
        let token: String = chars.into_iter().collect();
        assert_invalid(&codec(), &token, NOW, "base64url soup");
    }

    /// Three well-formed segments of random base64url, the last as long as an HS256 signature.
    #[test]
    fn three_random_base64url_segments_are_rejected(
        header in b64url_string(1..200),
        payload in b64url_string(1..200),
        signature in b64url_string(43..44),
    ) {
        let token = format!("{header}.{payload}.{signature}");
        assert_invalid(&codec(), &token, NOW, "three random segments");
    }
}

proptest! {
    #![proptest_config(cases(500))]

    /// A genuine header and signature around any payload is refused.
    #[test]
    fn a_genuine_header_with_random_payloads_is_rejected(
        raw in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let c = codec();
        let good = c.issue(UserId::new(1), SessionId::new(7), NOW).unwrap();
        let (h, rest) = good.split_once('.').unwrap();
        let s = rest.rsplit('.').next().unwrap();
        let token = format!("{h}.{}.{s}", URL_SAFE_NO_PAD.encode(raw));
        assert_invalid(&c, &token, NOW, "random payload");
    }
}

#[test]
fn verify_survives_extreme_now_values() {
    let c = codec();
    let token = c.issue(UserId::new(1), SessionId::new(7), NOW).unwrap();
    assert_invalid(&c, &token, i64::MIN, "now = i64::MIN (iat in the future)");
    assert_eq!(c.verify(&token, i64::MAX), Err(TokenRejected::Expired));
    let c = JwtCodec::new(SECRET, ISS, AUD, TTL, i64::MAX).unwrap();
    assert!(c.verify(&token, i64::MAX).is_ok());
}
