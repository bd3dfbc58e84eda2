//! HS256 access tokens for the `/api/v1` surface (DESIGN §5).
//!
//! The algorithm is pinned to HS256; issuer, audience, subject, session, issue time, expiry
//! and the token type are all required. Expiry, issue time and not-before are checked against
//! the caller's clock (the `now` argument), never the system clock, so services stay
//! deterministic under test; a lifetime (`exp - iat`) beyond the configured ttl plus the
//! leeway is refused.

use std::fmt;

use anyhow::{Context as _, bail, ensure};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tollgate_domain::UserId;
use tollgate_domain::ports::{AccessClaims, AccessTokenCodec, TokenRejected};

/// The HMAC key must carry at least 256 bits (RFC 7518 §3.2).
const MIN_SECRET_LEN: usize = 32;

/// Our tokens are about 250 bytes. Anything far larger is refused before any decoding work.
const MAX_TOKEN_LEN: usize = 4096;

/// The value of the private `typ` claim that marks an access token.
const ACCESS_TYP: &str = "access";

#[derive(Serialize)]
struct OutgoingClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: String,
    sid: i64,
    iat: i64,
    exp: i64,
    typ: &'static str,
}

/// What a presented token must carry. Every field but `nbf` is required, and the types are
/// strict: `iss`/`aud` are single strings (not arrays), `sid`/`iat`/`exp`/`nbf` are integers.
#[derive(Deserialize)]
struct IncomingClaims {
    iss: String,
    aud: String,
    sub: String,
    sid: i64,
    iat: i64,
    exp: i64,
    typ: String,
    /// Never issued by us; when present it must be an integer and not in the future.
    nbf: Option<i64>,
}

/// Signs and verifies `/api/v1` access tokens (HS256 JWTs).
pub struct JwtCodec {
    encoding_key: EncodingKey,
    decoding_key: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: i64,
    leeway_secs: i64,
}

impl fmt::Debug for JwtCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtCodec")
            .field("algorithm", &Algorithm::HS256)
            .field("key", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl_secs", &self.ttl_secs)
            .field("leeway_secs", &self.leeway_secs)
            .finish()
    }
}

impl JwtCodec {
    /// A codec for tokens valid `ttl_secs` after issue, accepted up to `leeway_secs` past
    /// expiry (and up to `leeway_secs` before their issue time) to absorb clock skew.
    ///
    /// Refuses a secret shorter than 32 bytes, an empty issuer or audience, a ttl below one
    /// second and a negative leeway.
    pub fn new(
        secret: &[u8],
        issuer: &str,
        audience: &str,
        ttl_secs: i64,
        leeway_secs: i64,
    ) -> anyhow::Result<Self> {
        ensure!(
            secret.len() >= MIN_SECRET_LEN,
            "the JWT secret must be at least {MIN_SECRET_LEN} bytes long"
        );
        ensure!(!issuer.is_empty(), "the JWT issuer must not be empty");
        ensure!(!audience.is_empty(), "the JWT audience must not be empty");
        ensure!(
            ttl_secs >= 1,
            "the access-token ttl must be at least 1 second"
        );
        ensure!(leeway_secs >= 0, "the JWT leeway must not be negative");

        // Exactly one algorithm. The library's own time checks are off because they read the
        // system clock; `verify` checks `exp` and `iat` against its `now` argument instead.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.validate_aud = true;
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;

        Ok(Self {
            encoding_key: EncodingKey::from_secret(secret),
            decoding_key: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl_secs,
            leeway_secs,
        })
    }

    /// Cheap structural checks before any base64 or JSON work: bounded length, the
    /// base64url alphabet, exactly three non-empty segments.
    fn well_formed(token: &str) -> bool {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return false;
        }
        if !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            return false;
        }
        let mut segments = 0usize;
        for segment in token.split('.') {
            if segment.is_empty() {
                return false;
            }
            segments += 1;
        }
        segments == 3
    }

    /// The user id carried in `sub`: a canonical positive decimal integer ("1", never "01",
    /// "+1", " 1" or "0").
    fn parse_sub(sub: &str) -> Option<UserId> {
        let id: i64 = sub.parse().ok()?;
        (id > 0 && id.to_string() == sub).then_some(UserId(id))
    }

    fn check(&self, token: &str, now: i64) -> Result<AccessClaims, TokenRejected> {
        if !Self::well_formed(token) {
            return Err(TokenRejected::Invalid);
        }
        // Verifies the signature (HS256 only) before the claims are even parsed, then checks
        // that iss, aud, sub and exp are present and that iss and aud match.
        let data =
            jsonwebtoken::decode::<IncomingClaims>(token, &self.decoding_key, &self.validation)
                .map_err(|_| TokenRejected::Invalid)?;

        // The library ignores `crit`; we understand no extension, so any `crit` is fatal
        // (RFC 7515 §4.1.11). A `typ` header, when present, must say JWT.
        if data.header.alg != Algorithm::HS256 || data.header.crit.is_some() {
            return Err(TokenRejected::Invalid);
        }
        if let Some(typ) = &data.header.typ
            && !typ.eq_ignore_ascii_case("JWT")
        {
            return Err(TokenRejected::Invalid);
        }

        let c = data.claims;
        if c.iss != self.issuer || c.aud != self.audience || c.typ != ACCESS_TYP {
            return Err(TokenRejected::Invalid);
        }
        let user_id = Self::parse_sub(&c.sub).ok_or(TokenRejected::Invalid)?;
        if c.sid <= 0 || c.iat <= 0 || c.exp <= c.iat {
            return Err(TokenRejected::Invalid);
        }
        // Issued in the future (beyond the allowed skew): not a token we handed out.
        if c.iat > now.saturating_add(self.leeway_secs) {
            return Err(TokenRejected::Invalid);
        }
        // A lifetime longer than any we issue (ttl plus the skew allowance) is not ours: a
        // forgery with a leaked key, or a token minted under another configuration.
        if c.exp - c.iat > self.ttl_secs.saturating_add(self.leeway_secs) {
            return Err(TokenRejected::Invalid);
        }
        // Not yet valid (beyond the allowed skew).
        if c.nbf
            .is_some_and(|nbf| nbf > now.saturating_add(self.leeway_secs))
        {
            return Err(TokenRejected::Invalid);
        }
        // Only an otherwise valid token is reported as expired.
        if now > c.exp.saturating_add(self.leeway_secs) {
            return Err(TokenRejected::Expired);
        }

        Ok(AccessClaims {
            user_id,
            session_id: c.sid,
            issued_at: c.iat,
            expires_at: c.exp,
        })
    }
}

impl AccessTokenCodec for JwtCodec {
    fn issue(&self, user_id: UserId, session_id: i64, now: i64) -> anyhow::Result<String> {
        // Refuse to mint what `verify` would refuse.
        if user_id.get() <= 0 || session_id <= 0 || now <= 0 {
            bail!("cannot issue an access token for user {user_id}, session {session_id} at {now}");
        }
        let exp = now
            .checked_add(self.ttl_secs)
            .context("access-token expiry overflows")?;
        let claims = OutgoingClaims {
            iss: &self.issuer,
            aud: &self.audience,
            sub: user_id.get().to_string(),
            sid: session_id,
            iat: now,
            exp,
            typ: ACCESS_TYP,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding_key)
            .context("signing the access token failed")
    }

    fn verify(&self, token: &str, now: i64) -> Result<AccessClaims, TokenRejected> {
        self.check(token, now)
    }

    fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::crypto::sign;
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

    /// The claims `issue(UserId(1), 7, NOW)` produces.
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

    /// A small deterministic PRNG so the fuzz-ish tests are reproducible.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
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
        let token = c.issue(UserId(42), 9001, NOW).unwrap();
        let claims = c.verify(&token, NOW).unwrap();
        assert_eq!(
            claims,
            AccessClaims {
                user_id: UserId(42),
                session_id: 9001,
                issued_at: NOW,
                expires_at: NOW + TTL,
            }
        );
        // Valid over its whole life.
        assert_eq!(c.verify(&token, NOW + TTL), Ok(claims));
    }

    #[test]
    fn issued_token_has_the_documented_shape() {
        let token = codec().issue(UserId(1), 7, NOW).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(header["alg"], "HS256");
        assert_eq!(claims, good_claims());
        // The hand-forged control token used by the corpus carries the same claims.
        assert!(codec().verify(&signed(&good_claims()), NOW).is_ok());
    }

    #[test]
    fn tokens_issued_at_different_times_differ() {
        let c = codec();
        let a = c.issue(UserId(1), 7, NOW).unwrap();
        let b = c.issue(UserId(1), 7, NOW + 1).unwrap();
        assert_ne!(a, b);
        assert_eq!(c.verify(&a, NOW + 1).unwrap().issued_at, NOW);
        assert_eq!(c.verify(&b, NOW + 1).unwrap().issued_at, NOW + 1);
    }

    #[test]
    fn issue_refuses_what_verify_would_refuse() {
        let c = codec();
        assert!(c.issue(UserId(0), 7, NOW).is_err());
        assert!(c.issue(UserId(-1), 7, NOW).is_err());
        assert!(c.issue(UserId(1), 0, NOW).is_err());
        assert!(c.issue(UserId(1), 7, 0).is_err());
        assert!(c.issue(UserId(1), 7, i64::MAX).is_err());
    }

    #[test]
    fn large_ids_round_trip() {
        let c = codec();
        let token = c.issue(UserId(i64::MAX), i64::MAX, NOW).unwrap();
        let claims = c.verify(&token, NOW).unwrap();
        assert_eq!(claims.user_id, UserId(i64::MAX));
        assert_eq!(claims.session_id, i64::MAX);
    }

    // ---------------------------------------------------------------- time

    #[test]
    fn expiry_uses_now_and_the_leeway() {
        let c = codec();
        let token = c.issue(UserId(1), 7, NOW).unwrap();
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
        let token = c.issue(UserId(1), 7, NOW).unwrap();
        assert!(c.verify(&token, NOW + TTL).is_ok());
        assert_eq!(c.verify(&token, NOW + TTL + 1), Err(TokenRejected::Expired));
    }

    #[test]
    fn the_system_clock_is_not_consulted() {
        // Issued and verified in 2001: the real clock says it expired long ago.
        let c = codec();
        let then = 1_000_000_000;
        let token = c.issue(UserId(1), 7, then).unwrap();
        assert!(c.verify(&token, then + 10).is_ok());
        // And a token from the far future verifies when `now` is the far future.
        let later = 4_000_000_000;
        let token = c.issue(UserId(1), 7, later).unwrap();
        assert!(c.verify(&token, later).is_ok());
    }

    #[test]
    fn iat_in_the_future_is_refused_beyond_the_leeway() {
        let c = codec();
        let token = c.issue(UserId(1), 7, NOW + LEEWAY).unwrap();
        assert!(c.verify(&token, NOW).is_ok());
        let token = c.issue(UserId(1), 7, NOW + LEEWAY + 1).unwrap();
        assert_invalid(&c, &token, NOW, "iat just beyond the leeway");
        let token = c.issue(UserId(1), 7, NOW + 10 * 365 * 86_400).unwrap();
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
        let good = c.issue(UserId(1), 7, NOW).unwrap();
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
                .issue(UserId(1), 7, NOW)
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
            let other = c.issue(UserId(2), 7, NOW).unwrap();
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
        assert!(c.verify(&c.issue(UserId(1), 7, NOW).unwrap(), NOW).is_ok());
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

    #[test]
    fn every_single_character_change_is_rejected() {
        let c = codec();
        let good = c.issue(UserId(1), 7, NOW).unwrap();
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let bytes = good.as_bytes();
        for i in 0..bytes.len() {
            for _ in 0..3 {
                let mut t = bytes.to_vec();
                let mut ch = alphabet[rng.below(alphabet.len())];
                while ch == bytes[i] {
                    ch = alphabet[rng.below(alphabet.len())];
                }
                t[i] = ch;
                let t = String::from_utf8(t).unwrap();
                assert_invalid(&c, &t, NOW, &format!("char {i} changed"));
            }
        }
    }

    #[test]
    fn every_truncation_is_rejected() {
        let c = codec();
        let good = c.issue(UserId(1), 7, NOW).unwrap();
        for n in 0..good.len() {
            assert_invalid(&c, &good[..n], NOW, &format!("prefix of {n} bytes"));
            assert_invalid(&c, &good[n + 1..], NOW, &format!("suffix from {}", n + 1));
        }
    }

    #[test]
    fn random_garbage_never_panics_and_is_rejected() {
        let c = codec();
        let mut rng = XorShift(0xdead_beef_cafe_f00d);
        let b64url = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for round in 0..3000 {
            let len = rng.below(600);
            let token = match round % 3 {
                // Arbitrary bytes, made into a string lossily (replacement chars, controls).
                0 => {
                    let raw: Vec<u8> = (0..len).map(|_| (rng.next() & 0xff) as u8).collect();
                    String::from_utf8_lossy(&raw).into_owned()
                }
                // Base64url soup with dots sprinkled in.
                1 => (0..len)
                    .map(|_| {
                        if rng.below(20) == 0 {
                            '.'
                        } else {
                            char::from(b64url[rng.below(b64url.len())])
                        }
                    })
                    .collect(),
                // Three well-formed segments of random base64url.
                _ => {
                    let mut seg = |n: usize| -> String {
                        (0..n.max(1))
                            .map(|_| char::from(b64url[rng.below(b64url.len())]))
                            .collect()
                    };
                    let (a, b, s) = (seg(len / 3), seg(len / 3), seg(43));
                    format!("{a}.{b}.{s}")
                }
            };
            assert_invalid(&c, &token, NOW, &format!("random round {round}"));
        }
    }

    #[test]
    fn a_genuine_header_with_random_payloads_is_rejected() {
        let c = codec();
        let good = c.issue(UserId(1), 7, NOW).unwrap();
        let (h, rest) = good.split_once('.').unwrap();
        let s = rest.rsplit('.').next().unwrap();
        let mut rng = XorShift(42);
        for round in 0..500 {
            let raw: Vec<u8> = (0..rng.below(300))
                .map(|_| (rng.next() & 0xff) as u8)
                .collect();
            let token = format!("{h}.{}.{s}", URL_SAFE_NO_PAD.encode(raw));
            assert_invalid(&c, &token, NOW, &format!("random payload {round}"));
        }
    }

    #[test]
    fn verify_survives_extreme_now_values() {
        let c = codec();
        let token = c.issue(UserId(1), 7, NOW).unwrap();
        assert_invalid(&c, &token, i64::MIN, "now = i64::MIN (iat in the future)");
        assert_eq!(c.verify(&token, i64::MAX), Err(TokenRejected::Expired));
        let c = JwtCodec::new(SECRET, ISS, AUD, TTL, i64::MAX).unwrap();
        assert!(c.verify(&token, i64::MAX).is_ok());
    }
}
