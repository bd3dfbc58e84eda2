//! Helpers for the `/api/v1` REST surface: requests, envelope checks, token pairs,
//! RFC 3339 parsing, and hand-made JWTs (HMAC computed here, no JWT library).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, RequestBuilder};
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::helpers::{PASSWORD, TestApp};
use crate::reply::{Reply, send};

pub const PROFILE: &str = "/api/v1/users/profile";
pub const PASSWORD_PATH: &str = "/api/v1/users/password";

/// The signing key of apps started with [`spawn_with_secret`].
pub const JWT_SECRET: &str = "rest-tests-known-jwt-secret-0123456789-abcdef";
pub const ISSUER: &str = "tollgate";
pub const AUDIENCE: &str = "tollgate-api";

/// A request carrying `Authorization: Bearer <token>`.
pub fn bearer(app: &TestApp, method: Method, path: &str, token: &str) -> RequestBuilder {
    app.client
        .request(method, app.url(path))
        .header("Authorization", format!("Bearer {token}"))
}

/// One method per `/api/v1` endpoint, each returning the checked [`Reply`].
impl TestApp {
    pub async fn post_json(&self, path: &str, body: &Value) -> Reply {
        send(self.client.post(self.url(path)).json(body)).await
    }

    pub async fn rest_register(
        &self,
        username: &str,
        password: &str,
        email: Option<&str>,
    ) -> Reply {
        let mut body = json!({"username": username, "password": password});
        if let Some(email) = email {
            body["email"] = json!(email);
        }
        self.post_json("/api/v1/auth/register", &body).await
    }

    pub async fn rest_login(&self, login: &str, password: &str) -> Reply {
        self.post_json(
            "/api/v1/auth/login",
            &json!({"username": login, "password": password}),
        )
        .await
    }

    pub async fn rest_refresh(&self, refresh_token: &str) -> Reply {
        self.post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": refresh_token}),
        )
        .await
    }

    pub async fn rest_logout(&self, access: &str) -> Reply {
        send(bearer(self, Method::POST, "/api/v1/auth/logout", access)).await
    }

    pub async fn get_profile(&self, access: &str) -> Reply {
        send(bearer(self, Method::GET, PROFILE, access)).await
    }

    pub async fn put_profile(&self, access: &str, body: &Value) -> Reply {
        send(bearer(self, Method::PUT, PROFILE, access).json(body)).await
    }

    pub async fn put_password(&self, access: &str, body: &Value) -> Reply {
        send(bearer(self, Method::PUT, PASSWORD_PATH, access).json(body)).await
    }

    /// `GET path` with a bearer token.
    pub async fn rest_get(&self, token: &str, path: &str) -> Reply {
        send(bearer(self, Method::GET, path, token)).await
    }

    /// `GET /api/v1/admin/audit?page_size=100&<query>`.
    pub async fn audit_log(&self, token: &str, query: &str) -> Reply {
        self.rest_get(token, &format!("/api/v1/admin/audit?page_size=100&{query}"))
            .await
    }

    /// Logs in over REST and returns the pair; panics unless the login succeeds.
    pub async fn rest_tokens(&self, login: &str, password: &str) -> Tokens {
        let data = self.rest_login(login, password).await.ok(200, "登录成功");
        Tokens::from_data(&data)
    }

    /// Registers `username` (password [`PASSWORD`]) over REST and returns the new user.
    pub async fn rest_register_ok(&self, username: &str) -> Value {
        self.rest_register(username, PASSWORD, None)
            .await
            .ok(201, "注册成功")
    }

    /// Registers `username` over REST and logs it in.
    pub async fn rest_user(&self, username: &str) -> Tokens {
        self.rest_register_ok(username).await;
        self.rest_tokens(username, PASSWORD).await
    }

    /// The profile `data` of a working token.
    pub async fn profile_of(&self, access: &str) -> Value {
        self.get_profile(access).await.ok(200, "获取成功")
    }
}

pub fn password_change(old: &str, new: &str, confirm: &str) -> Value {
    json!({"old_password": old, "new_password": new, "confirm_password": confirm})
}

/// What a REST login or refresh hands out.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub user_id: i64,
    /// The `sid` claim of the access token: the id of the refresh session.
    pub sid: i64,
}

impl Tokens {
    /// Reads the pair out of a successful login or refresh reply's `data`.
    #[track_caller]
    pub fn from_data(data: &Value) -> Tokens {
        let access = data["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned();
        let sid = jwt_claims(&access)["sid"].as_i64().expect("sid claim");
        Tokens {
            refresh: data["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned(),
            user_id: data["user"]["id"].as_i64().expect("user.id"),
            access,
            sid,
        }
    }
}

/// Starts an app whose JWT signing key is [`JWT_SECRET`].
pub async fn spawn_with_secret() -> TestApp {
    TestApp::spawn_with(|s| s.jwt.secret = Some(SecretString::from(JWT_SECRET))).await
}

pub fn now_unix() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    i64::try_from(secs).expect("seconds fit i64")
}

/// Unix seconds of an RFC 3339 date-time (`2024-01-01T12:00:00Z`, optional fraction, `Z` or
/// `±hh:mm`), or `None` when `s` is not one.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, to: usize| -> Option<i64> {
        let t = s.get(from..to)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 {
        return None;
    }
    if sec > 60 {
        return None;
    }
    let mut rest = s.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = frac.get(digits..)?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let r = rest.as_bytes();
            let sign = match r.first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            if r.len() != 6 || r[3] != b':' {
                return None;
            }
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Asserts an RFC 3339 time within `slack` seconds of `expected` (unix seconds).
#[track_caller]
pub fn assert_time_near(value: &Value, expected: i64, slack: i64) {
    let s = value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is no string"));
    let at = parse_rfc3339(s).unwrap_or_else(|| panic!("{s:?} is not RFC 3339"));
    assert!(
        (at - expected).abs() <= slack,
        "{s} is not within {slack}s of {expected}"
    );
}

// ---- hand-made JWTs ----

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64_json(v: &Value) -> String {
    b64(v.to_string().as_bytes())
}

/// The JSON of one base64url segment.
pub fn segment_json(segment: &str) -> Value {
    let raw = URL_SAFE_NO_PAD.decode(segment).expect("base64url segment");
    serde_json::from_slice(&raw).expect("JSON segment")
}

pub fn jwt_claims(token: &str) -> Value {
    segment_json(token.split('.').nth(1).expect("a payload segment"))
}

pub fn jwt_header(token: &str) -> Value {
    segment_json(token.split('.').next().expect("a header segment"))
}

/// HMAC (RFC 2104) over any SHA-2 hash with `block`-byte blocks.
fn hmac<D: Digest>(block: usize, key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut k = if key.len() > block {
        D::digest(key).to_vec()
    } else {
        key.to_vec()
    };
    k.resize(block, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let mut inner = D::new();
    inner.update(&ipad);
    inner.update(msg);
    let inner = inner.finalize();
    let mut outer = D::new();
    outer.update(&opad);
    outer.update(&inner);
    outer.finalize().to_vec()
}

#[derive(Debug, Clone, Copy)]
pub enum Mac {
    Hs256,
    Hs384,
    Hs512,
}

pub fn mac(alg: Mac, key: &[u8], msg: &[u8]) -> Vec<u8> {
    match alg {
        Mac::Hs256 => hmac::<Sha256>(64, key, msg),
        Mac::Hs384 => hmac::<Sha384>(128, key, msg),
        Mac::Hs512 => hmac::<Sha512>(128, key, msg),
    }
}

/// `header.payload` of a token, before signing.
pub fn signing_input(header: &Value, claims: &Value) -> String {
    format!("{}.{}", b64_json(header), b64_json(claims))
}

/// A JWT with any header, signed with `alg` under `key` (whatever the header claims).
pub fn sign_jwt(alg: Mac, key: &[u8], header: &Value, claims: &Value) -> String {
    let input = signing_input(header, claims);
    let sig = mac(alg, key, input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

pub fn hs256_header() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

/// A correct HS256 token under [`JWT_SECRET`], as the server would issue it.
pub fn forge(claims: &Value) -> String {
    sign_jwt(Mac::Hs256, JWT_SECRET.as_bytes(), &hs256_header(), claims)
}

/// The claims the server puts in an access token for `user_id` and session `sid`, issued now.
pub fn access_claims(user_id: i64, sid: i64) -> Value {
    let now = now_unix();
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": user_id.to_string(),
        "sid": sid,
        "iat": now,
        "exp": now + 900,
        "typ": "access",
    })
}

/// `claims` with `key` set to `value`.
pub fn with(claims: &Value, key: &str, value: Value) -> Value {
    let mut c = claims.clone();
    c[key] = value;
    c
}

/// `claims` without `key`.
pub fn without(claims: &Value, key: &str) -> Value {
    let mut c = claims.clone();
    c.as_object_mut().expect("object").remove(key);
    c
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn rest_helpers_hmac_matches_rfc_4231_case_2() {
    let (key, msg) = (
        b"Jefe".as_slice(),
        b"what do ya want for nothing?".as_slice(),
    );
    assert_eq!(
        hex(&mac(Mac::Hs256, key, msg)),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert_eq!(
        hex(&mac(Mac::Hs384, key, msg)),
        "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
         8e2240ca5e69e2c78b3239ecfab21649"
    );
    assert_eq!(
        hex(&mac(Mac::Hs512, key, msg)),
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
         9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
    );
    // RFC 4231 case 6: a key longer than the block is hashed first.
    let long_key = [0xaa_u8; 131];
    assert_eq!(
        hex(&mac(
            Mac::Hs256,
            &long_key,
            b"Test Using Larger Than Block-Size Key - Hash Key First"
        )),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
}

#[test]
fn rest_helpers_rfc3339_parser_accepts_only_rfc3339() {
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_rfc3339("2024-01-01T12:00:00Z"), Some(1_704_110_400));
    assert_eq!(
        parse_rfc3339("2024-01-01T20:00:00.123+08:00"),
        Some(1_704_110_400)
    );
    assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400));
    for bad in [
        "",
        "2024-01-01",
        "2024-01-01 12:00:00Z",
        "2024-01-01T12:00:00",
        "2024-13-01T12:00:00Z",
        "2023-02-29T12:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T12:00:00.Z",
        "2024-01-01T12:00:00+0800",
        "1704110400",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}
