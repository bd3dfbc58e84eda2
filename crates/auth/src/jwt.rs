//! HS256 access tokens for the `/api/v1` surface (docs/security.md, "`/api/v1` tokens").
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
use tollgate_domain::ports::{AccessClaims, AccessTokenCodec, TokenRejected};
use tollgate_domain::{SessionId, UserId};

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
        (id > 0 && id.to_string() == sub).then_some(UserId::new(id))
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
            session_id: SessionId::new(c.sid),
            issued_at: c.iat,
            expires_at: c.exp,
        })
    }
}

impl AccessTokenCodec for JwtCodec {
    fn issue(&self, user_id: UserId, session_id: SessionId, now: i64) -> anyhow::Result<String> {
        // Refuse to mint what `verify` would refuse.
        if user_id.get() <= 0 || session_id.get() <= 0 || now <= 0 {
            bail!("cannot issue an access token for user {user_id}, session {session_id} at {now}");
        }
        let exp = now
            .checked_add(self.ttl_secs)
            .context("access-token expiry overflows")?;
        let claims = OutgoingClaims {
            iss: &self.issuer,
            aud: &self.audience,
            sub: user_id.get().to_string(),
            sid: session_id.get(),
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
mod tests;
