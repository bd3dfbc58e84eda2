//! Two-factor authentication over HTTP (spec §6, console-contract §3): the Personal page's
//! 2FA card on the compat surface, its `/api/v1` equivalents, the admin's statistics and
//! reset, and what never leaves the server again. Codes are computed here from the secret
//! the setup returns, as an authenticator app would.

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::{Value, json};
use totp_rs::{Algorithm, Secret, Totp};

use crate::helpers::{Session, TestApp};
use crate::reply::Reply;
use crate::rest_helpers::bearer;

/// An authenticator app holding one secret. It hands out codes of strictly increasing time
/// steps, because the server accepts each step once.
pub struct Authenticator {
    totp: Totp,
    last: Option<u64>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

impl Authenticator {
    pub fn new(secret: &str) -> Self {
        let bytes = Secret::try_from_base32(secret).expect("base32 secret");
        let totp = totp_rs::Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_step_duration(30)
            .with_secret(bytes)
            .build()
            .expect("RFC 6238 parameters");
        Self { totp, last: None }
    }

    pub fn code_of_step(&self, step: u64) -> String {
        self.totp.generate(step * 30).to_string()
    }

    /// A code the server accepts now whose step was not used yet: the earliest of the
    /// previous (unless its window is about to leave the skew), current and next step;
    /// waits for the next window when all three are spent.
    pub async fn next_code(&mut self) -> String {
        loop {
            let now = unix_now();
            let current = now / 30;
            let mut candidates = vec![current, current + 1];
            if now % 30 < 27 {
                candidates.insert(0, current - 1);
            }
            if let Some(step) = candidates
                .into_iter()
                .find(|s| self.last.is_none_or(|l| *s > l))
            {
                self.last = Some(step);
                return self.code_of_step(step);
            }
            tokio::time::sleep(std::time::Duration::from_secs(30 - now % 30)).await;
        }
    }

    /// The code of the step used last (a replay).
    pub fn last_code(&self) -> String {
        self.code_of_step(self.last.expect("a code was used"))
    }

    /// A code of the current window that is not the right one.
    pub fn wrong_code(&self) -> String {
        let current = unix_now() / 30;
        let right: Vec<String> = (current - 1..=current + 1)
            .map(|s| self.code_of_step(s))
            .collect();
        (0..)
            .map(|n: u32| format!("{:06}", (n * 7919) % 1_000_000))
            .find(|c| !right.contains(c))
            .expect("a wrong code")
    }
}

/// What the setup handed out.
pub struct Setup {
    pub secret: String,
    pub backup_codes: Vec<String>,
    pub data: Value,
}

impl TestApp {
    pub async fn two_factor(
        &self,
        s: &Session,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        self.call(s, method, &format!("/api/user/2fa/{path}"), body)
            .await
    }

    pub async fn two_factor_setup(&self, s: &Session) -> Setup {
        let reply = self.two_factor(s, Method::POST, "setup", None).await;
        assert_eq!(
            reply.body["message"],
            "2FA设置初始化成功，请使用认证器扫描二维码并输入验证码完成设置"
        );
        let data = reply.success();
        Setup {
            secret: data["secret"].as_str().expect("secret").to_owned(),
            backup_codes: data["backup_codes"]
                .as_array()
                .expect("backup codes")
                .iter()
                .map(|c| c.as_str().expect("code").to_owned())
                .collect(),
            data,
        }
    }

    /// Sets up and enables 2FA for `s`; returns the setup and the authenticator (one step
    /// used).
    pub async fn enable_two_factor(&self, s: &Session) -> (Setup, Authenticator) {
        let setup = self.two_factor_setup(s).await;
        let mut app = Authenticator::new(&setup.secret);
        let code = app.next_code().await;
        let reply = self
            .two_factor(s, Method::POST, "enable", Some(json!({ "code": code })))
            .await;
        reply.success();
        assert_eq!(reply.body["message"], "两步验证启用成功");
        (setup, app)
    }

    pub async fn two_factor_status(&self, s: &Session) -> Value {
        self.two_factor(s, Method::GET, "status", None)
            .await
            .success()
    }
}

/// Asserts a compat success with this message.
#[track_caller]
fn success_with(reply: &Reply, message: &str) -> Value {
    let data = reply.success();
    assert_eq!(reply.body["message"], message, "{reply}");
    data
}

#[tokio::test]
async fn the_personal_page_sets_up_and_enables_two_factor_authentication() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    assert_eq!(
        app.two_factor_status(&alice).await,
        json!({"enabled": false, "locked": false})
    );

    let setup = app.two_factor_setup(&alice).await;
    // The console draws `qr_code_data` as a QR code: the otpauth URL, percent-encoded.
    let url = setup.data["qr_code_data"].as_str().expect("otpauth URL");
    assert_eq!(
        url,
        format!(
            "otpauth://totp/Tollgate:alice?secret={}&issuer=Tollgate&algorithm=SHA1&digits=6&period=30",
            setup.secret
        )
    );
    assert!(
        setup.data["qr_code_image"]
            .as_str()
            .expect("qr image")
            .starts_with("data:image/png;base64,iVBOR")
    );
    assert_eq!(setup.secret.len(), 32);
    assert_eq!(setup.backup_codes.len(), 4);
    for code in &setup.backup_codes {
        let (a, b) = code.split_once('-').expect("XXXX-XXXX");
        assert!(a.len() == 4 && b.len() == 4, "{code}");
        assert!(
            code.chars()
                .all(|c| c == '-' || c.is_ascii_uppercase() || c.is_ascii_digit())
        );
    }
    // Not on before the first code.
    assert_eq!(app.two_factor_status(&alice).await["enabled"], false);

    let enable = |code: Value| {
        app.two_factor(
            &alice,
            Method::POST,
            "enable",
            Some(json!({ "code": code })),
        )
    };
    enable(json!(setup.backup_codes[0]))
        .await
        .refused_with("验证码必须是6位数字");
    enable(json!("12a456"))
        .await
        .refused_with("验证码只能包含数字");
    app.two_factor(&alice, Method::POST, "enable", Some(json!({})))
        .await
        .refused_with("参数错误");
    let mut phone = Authenticator::new(&setup.secret);
    enable(json!(phone.wrong_code()))
        .await
        .refused_with("验证码或备用码错误，请重试");
    let code = phone.next_code().await;
    // Typed with a space, as the app shows it.
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    success_with(&enable(json!(spaced)).await, "两步验证启用成功");

    assert_eq!(
        app.two_factor_status(&alice).await,
        json!({"enabled": true, "locked": false, "backup_codes_remaining": 4})
    );
    enable(json!(phone.next_code().await))
        .await
        .refused_with("2FA已经启用");
    app.two_factor(&alice, Method::POST, "setup", None)
        .await
        .refused_with("用户已启用2FA，请先禁用后重新设置");
}

#[tokio::test]
async fn a_new_setup_replaces_one_that_was_never_enabled() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let first = app.two_factor_setup(&alice).await;
    let second = app.two_factor_setup(&alice).await;
    assert_ne!(first.secret, second.secret);
    // Only the second secret enables.
    let mut old = Authenticator::new(&first.secret);
    app.two_factor(
        &alice,
        Method::POST,
        "enable",
        Some(json!({"code": old.next_code().await})),
    )
    .await
    .refused_with("验证码或备用码错误，请重试");
    let mut new = Authenticator::new(&second.secret);
    app.two_factor(
        &alice,
        Method::POST,
        "enable",
        Some(json!({"code": new.next_code().await})),
    )
    .await
    .success();
}

#[tokio::test]
async fn enable_and_disable_need_a_setup_or_an_enabled_record() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let body = Some(json!({"code": "123456"}));
    app.two_factor(&alice, Method::POST, "enable", body.clone())
        .await
        .refused_with("请先完成2FA初始化设置");
    app.two_factor(&alice, Method::POST, "disable", body.clone())
        .await
        .refused_with("用户未启用2FA");
    app.two_factor(&alice, Method::POST, "backup_codes", body)
        .await
        .refused_with("用户未启用2FA");
}

#[tokio::test]
async fn a_code_accepted_once_is_refused_again_in_the_same_step() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (_, phone) = app.enable_two_factor(&alice).await;
    // The code that enabled 2FA cannot be used again, for anything.
    let replay = Some(json!({"code": phone.last_code()}));
    app.two_factor(&alice, Method::POST, "backup_codes", replay.clone())
        .await
        .refused_with("验证码或备用码错误，请重试");
    app.two_factor(&alice, Method::POST, "disable", replay)
        .await
        .refused_with("验证码或备用码错误，请重试");
    assert_eq!(app.two_factor_status(&alice).await["enabled"], true);
}

#[tokio::test]
async fn disabling_with_a_backup_code_ends_the_other_sessions_and_keeps_this_one() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let other = app.login("alice", crate::helpers::PASSWORD).await;
    let (setup, _) = app.enable_two_factor(&alice).await;
    // Backup codes are typed in any case, with or without the dash.
    let code = setup.backup_codes[0].to_lowercase().replace('-', "");
    let reply = app
        .two_factor(
            &alice,
            Method::POST,
            "disable",
            Some(json!({ "code": code })),
        )
        .await;
    success_with(&reply, "两步验证已禁用");
    assert_eq!(app.get_self(&alice).await.status, 200);
    assert_eq!(app.get_self(&alice).await.body["success"], true);
    assert_eq!(app.get_self(&other).await.status, 401);
    assert_eq!(
        app.two_factor_status(&alice).await,
        json!({"enabled": false, "locked": false})
    );
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM two_factor_backup_codes WHERE user_id = {}",
            alice.id
        ))
        .await[0][0],
        0
    );
}

#[tokio::test]
async fn a_backup_code_works_once_and_malformed_codes_say_so() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (setup, _) = app.enable_two_factor(&alice).await;
    app.two_factor(
        &alice,
        Method::POST,
        "disable",
        Some(json!({"code": "ABC-12"})),
    )
    .await
    .refused_with("验证码或备用码不正确");
    app.two_factor(
        &alice,
        Method::POST,
        "disable",
        Some(json!({"code": "ZZZZ-ZZZZ"})),
    )
    .await
    .refused_with("验证码或备用码错误，请重试");
    // Regeneration takes a TOTP only: a backup code is refused before it is checked.
    app.two_factor(
        &alice,
        Method::POST,
        "backup_codes",
        Some(json!({"code": setup.backup_codes[1]})),
    )
    .await
    .refused_with("验证码必须是6位数字");
    assert_eq!(
        app.two_factor_status(&alice).await["backup_codes_remaining"],
        4
    );
}

#[tokio::test]
async fn regenerated_backup_codes_replace_the_old_ones() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (setup, mut phone) = app.enable_two_factor(&alice).await;
    let reply = app
        .two_factor(
            &alice,
            Method::POST,
            "backup_codes",
            Some(json!({"code": phone.next_code().await})),
        )
        .await;
    let data = success_with(&reply, "备用码重新生成成功");
    let fresh: Vec<String> = data["backup_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(fresh.len(), 4);
    assert!(fresh.iter().all(|c| !setup.backup_codes.contains(c)));
    app.two_factor(
        &alice,
        Method::POST,
        "disable",
        Some(json!({"code": setup.backup_codes[0]})),
    )
    .await
    .refused_with("验证码或备用码错误，请重试");
    app.two_factor(
        &alice,
        Method::POST,
        "disable",
        Some(json!({"code": fresh[3]})),
    )
    .await
    .success();
}

#[tokio::test]
async fn no_later_response_or_audit_entry_carries_the_secret_or_a_backup_code() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let root = app.root().await;
    let (setup, mut phone) = app.enable_two_factor(&alice).await;
    app.two_factor(
        &alice,
        Method::POST,
        "disable",
        Some(json!({"code": phone.next_code().await})),
    )
    .await
    .success();
    let (setup2, _) = app.enable_two_factor(&alice).await;
    let admin_view = app
        .call(
            &root,
            Method::DELETE,
            &format!("/api/user/{}/2fa", alice.id),
            None,
        )
        .await;
    success_with(&admin_view, "用户2FA已被强制禁用");

    let root_rest = app
        .rest_tokens(crate::helpers::ROOT_USERNAME, crate::helpers::ROOT_PASSWORD)
        .await;
    let replies = [
        app.get_self(&alice).await.body,
        app.two_factor(&alice, Method::GET, "status", None)
            .await
            .body,
        app.call(&root, Method::GET, &format!("/api/user/{}", alice.id), None)
            .await
            .body,
        app.call(&root, Method::GET, "/api/user/2fa/stats", None)
            .await
            .body,
        app.audit_log(&root_rest.access, "").await.body,
    ];
    let text = serde_json::to_string(&replies).expect("json");
    let mut secrets = vec![setup.secret.clone(), setup2.secret.clone()];
    for code in setup.backup_codes.iter().chain(&setup2.backup_codes) {
        secrets.push(code.clone());
        secrets.push(code.replace('-', ""));
    }
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "{secret} leaked: {text}");
    }
    // The audit log has the four kinds of entry.
    for action in [
        "two_factor.enabled",
        "two_factor.disabled",
        "two_factor.reset",
    ] {
        assert!(text.contains(action), "no {action} entry: {text}");
    }
    // At rest, backup codes are argon2id hashes.
    let hashes = app
        .query_i64(
            "SELECT COUNT(*) FROM two_factor_backup_codes WHERE code_hash NOT LIKE '$argon2id$%'",
        )
        .await;
    assert_eq!(
        hashes[0][0], 0,
        "a backup code stored otherwise than as argon2id"
    );
}

#[tokio::test]
async fn admins_reset_the_2fa_of_users_below_them_only() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let admin = app.admin("boss").await;
    let other_admin = app.admin("peer").await;
    let alice = app.user("alice").await;
    let alice_2 = app.login("alice", crate::helpers::PASSWORD).await;
    app.enable_two_factor(&alice).await;
    app.enable_two_factor(&other_admin).await;

    let app = &app;
    let reset = |actor: Session, path: String| async move {
        app.call(&actor, Method::DELETE, &path, None).await
    };
    let path = |id: i64| format!("/api/user/{id}/2fa");
    reset(admin.clone(), path(other_admin.id))
        .await
        .refused_with("无权操作同级或更高级用户的2FA设置");
    reset(admin.clone(), path(1))
        .await
        .refused_with("无权操作同级或更高级用户的2FA设置");
    reset(admin.clone(), "/api/user/abc/2fa".to_owned())
        .await
        .refused_with("用户ID格式错误");
    reset(admin.clone(), path(999_999))
        .await
        .refused_with("用户不存在");
    // A user is no admin.
    reset(alice.clone(), path(other_admin.id))
        .await
        .refused_with("无权进行此操作，权限不足");

    let stats = app
        .call(&admin, Method::GET, "/api/user/2fa/stats", None)
        .await
        .success();
    // root, boss, peer, alice: two of four have 2FA.
    assert_eq!(
        stats,
        json!({"total_users": 4, "enabled_users": 2, "enabled_rate": "50.0%"})
    );

    success_with(
        &reset(admin.clone(), path(alice.id)).await,
        "用户2FA已被强制禁用",
    );
    // Every session of alice ends.
    assert_eq!(app.get_self(&alice).await.status, 401);
    assert_eq!(app.get_self(&alice_2).await.status, 401);
    reset(admin.clone(), path(alice.id))
        .await
        .refused_with("用户未启用2FA");
    success_with(
        &reset(root.clone(), path(other_admin.id)).await,
        "用户2FA已被强制禁用",
    );
    let stats = app
        .call(&root, Method::GET, "/api/user/2fa/stats", None)
        .await
        .success();
    assert_eq!(stats["enabled_users"], 0);
    assert_eq!(stats["enabled_rate"], "0.0%");
}

#[tokio::test]
async fn the_rest_surface_manages_2fa_with_real_status_codes() {
    let app = TestApp::spawn().await;
    let alice = app.rest_user("alice").await;
    let other = app.rest_tokens("alice", crate::helpers::PASSWORD).await;
    let post = |path: &'static str, body: Value| {
        let req = bearer(
            &app,
            Method::POST,
            &format!("/api/v1/users/2fa/{path}"),
            &alice.access,
        )
        .json(&body);
        crate::reply::send(req)
    };
    let status = app
        .rest_get(&alice.access, "/api/v1/users/2fa/status")
        .await;
    assert_eq!(
        status.ok(200, "获取成功"),
        json!({"enabled": false, "locked": false})
    );
    post("enable", json!({"code": "123456"}))
        .await
        .err(409, "请先完成2FA初始化设置");

    let setup = post("setup", json!({})).await.ok(
        201,
        "2FA设置初始化成功，请使用认证器扫描二维码并输入验证码完成设置",
    );
    let secret = setup["secret"].as_str().expect("secret");
    assert!(
        setup["otpauth_url"]
            .as_str()
            .expect("url")
            .starts_with("otpauth://totp/Tollgate:alice?")
    );
    assert!(
        setup["qr_code_image"]
            .as_str()
            .expect("image")
            .starts_with("data:image/png;base64,")
    );
    let backup: Vec<&str> = setup["backup_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code"))
        .collect();
    let mut phone = Authenticator::new(secret);
    let error = post("enable", json!({"code": "12345"}))
        .await
        .err(400, "请求参数错误");
    assert_eq!(error, "the code must be 6 digits");
    post("enable", json!({"code": phone.wrong_code()}))
        .await
        .err(401, "验证码或备用码错误，请重试");
    post("enable", json!({"code": phone.next_code().await}))
        .await
        .ok(200, "两步验证启用成功");
    post("setup", json!({}))
        .await
        .err(409, "用户已启用2FA，请先禁用后重新设置");
    let fresh = post("backup-codes", json!({"code": phone.next_code().await}))
        .await
        .ok(200, "备用码重新生成成功");
    assert_eq!(fresh["backup_codes"].as_array().expect("codes").len(), 4);
    post("disable", json!({"code": backup[0]}))
        .await
        .err(401, "验证码或备用码错误，请重试");
    let code = fresh["backup_codes"][0].as_str().expect("code");
    post("disable", json!({"code": code}))
        .await
        .ok(200, "两步验证已禁用");
    // This session goes on; the other one ended.
    assert_eq!(app.get_profile(&alice.access).await.status, 200);
    app.get_profile(&other.access).await.unauthenticated();
}

#[tokio::test]
async fn the_rest_admin_routes_reset_and_count() {
    let app = TestApp::spawn().await;
    let root = app
        .rest_tokens(crate::helpers::ROOT_USERNAME, crate::helpers::ROOT_PASSWORD)
        .await;
    let alice = app.user("alice").await;
    app.enable_two_factor(&alice).await;
    let bob = app.rest_user("bob").await;

    let stats = app
        .rest_get(&root.access, "/api/v1/admin/users/2fa/stats")
        .await
        .ok(200, "获取成功");
    assert_eq!(
        stats,
        json!({"total_users": 3, "enabled_users": 1, "enabled_rate": "33.3%"})
    );
    app.rest_get(&bob.access, "/api/v1/admin/users/2fa/stats")
        .await
        .err(403, "无权限");

    let delete = |token: String, id: i64| {
        let req = bearer(
            &app,
            Method::DELETE,
            &format!("/api/v1/admin/users/{id}/2fa"),
            &token,
        );
        crate::reply::send(req)
    };
    delete(bob.access.clone(), alice.id)
        .await
        .err(403, "无权限");
    delete(root.access.clone(), 999_999)
        .await
        .err(404, "用户不存在");
    delete(root.access.clone(), alice.id)
        .await
        .ok(200, "用户2FA已被强制禁用");
    delete(root.access.clone(), alice.id)
        .await
        .err(409, "用户未启用2FA");
}

// ---- the login's second step ----

/// The value of the pending login's cookie set by a reply, and its raw `Set-Cookie`.
fn pending_cookie(reply: &Reply) -> Option<(String, String)> {
    reply
        .headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tollgate_2fa="))
        .map(|raw| {
            let value = raw["tollgate_2fa=".len()..]
                .split(';')
                .next()
                .unwrap_or_default()
                .to_owned();
            (value, raw.to_owned())
        })
}

impl TestApp {
    /// `POST /api/user/login/2fa {code}` as the console sends it: with the pending login's
    /// cookie when there is one.
    pub async fn login_second_step(&self, pending: Option<&str>, code: Value) -> Reply {
        let mut req = self
            .client
            .post(self.url("/api/user/login/2fa"))
            .json(&json!({ "code": code }));
        if let Some(pending) = pending {
            req = req.header("Cookie", format!("tollgate_2fa={pending}"));
        }
        crate::reply::send(req).await
    }

    /// A compat password login of a user with 2FA: asserts the reply asks for the code and
    /// opens no session; returns the pending login's cookie value.
    pub async fn password_step(&self, username: &str) -> String {
        let reply = self
            .login_response(username, crate::helpers::PASSWORD)
            .await;
        let data = success_with(&reply, "请输入两步验证码");
        assert_eq!(data, json!({"require_2fa": true}));
        assert_eq!(crate::helpers::session_cookie(&reply.headers), None);
        pending_cookie(&reply)
            .expect("the pending login's cookie")
            .0
    }

    /// `POST /api/v1/auth/login/2fa {challenge, code}`.
    pub async fn rest_second_step(&self, challenge: &str, code: &str) -> Reply {
        self.post_json(
            "/api/v1/auth/login/2fa",
            &json!({"challenge": challenge, "code": code}),
        )
        .await
    }

    async fn sessions_of(&self, user: i64) -> i64 {
        self.query_i64(&format!(
            "SELECT COUNT(*) FROM sessions WHERE user_id = {user}"
        ))
        .await[0][0]
    }
}

#[tokio::test]
async fn the_console_logs_in_with_the_code_after_the_password() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (setup, mut phone) = app.enable_two_factor(&alice).await;
    let sessions = app.sessions_of(alice.id).await;

    let reply = app.login_response("alice", crate::helpers::PASSWORD).await;
    assert_eq!(
        success_with(&reply, "请输入两步验证码"),
        json!({"require_2fa": true})
    );
    assert_eq!(crate::helpers::session_cookie(&reply.headers), None);
    let (pending, raw) = pending_cookie(&reply).expect("pending cookie");
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/api/user/login",
        "Max-Age=300",
    ] {
        assert!(raw.contains(attribute), "{raw}");
    }
    // No session exists before the second factor.
    assert_eq!(app.sessions_of(alice.id).await, sessions);

    app.login_second_step(Some(&pending), json!(""))
        .await
        .refused_with("参数错误");
    app.login_second_step(None, json!(phone.wrong_code()))
        .await
        .refused_with("会话已过期，请重新登录");
    app.login_second_step(Some("not-a-challenge"), json!(phone.wrong_code()))
        .await
        .refused_with("会话已过期，请重新登录");
    app.login_second_step(Some(&pending), json!(phone.wrong_code()))
        .await
        .refused_with("验证码或备用码错误，请重试");
    assert_eq!(app.sessions_of(alice.id).await, sessions);

    let used = phone.next_code().await;
    let reply = app.login_second_step(Some(&pending), json!(used)).await;
    let data = reply.success();
    assert_eq!(data["id"], alice.id);
    assert_eq!(data["username"], "alice");
    let cookie = crate::helpers::session_cookie(&reply.headers).expect("session cookie");
    let removal = pending_cookie(&reply)
        .expect("the pending cookie is cleared")
        .1;
    assert!(removal.contains("Max-Age=0"), "{removal}");
    let session = Session {
        id: alice.id,
        cookie,
    };
    assert_eq!(app.get_self(&session).await.success()["username"], "alice");

    // The pending login is spent: not even the next valid code reopens it.
    app.login_second_step(Some(&pending), json!(phone.next_code().await))
        .await
        .refused_with("会话已过期，请重新登录");

    // A new login: the code that logged in a moment ago is a replay; a backup code works,
    // once.
    let pending = app.password_step("alice").await;
    app.login_second_step(Some(&pending), json!(used))
        .await
        .refused_with("验证码或备用码错误，请重试");
    app.login_second_step(Some(&pending), json!(setup.backup_codes[2]))
        .await
        .success();
    let pending = app.password_step("alice").await;
    app.login_second_step(Some(&pending), json!(setup.backup_codes[2]))
        .await
        .refused_with("验证码或备用码错误，请重试");
    assert_eq!(
        app.two_factor_status(&session).await["backup_codes_remaining"],
        3
    );
}

#[tokio::test]
async fn the_rest_login_issues_tokens_only_after_the_code() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (_, mut phone) = app.enable_two_factor(&alice).await;
    let sessions = app.sessions_of(alice.id).await;

    let reply = app.rest_login("alice", crate::helpers::PASSWORD).await;
    let data = reply.ok(200, "请输入两步验证码");
    assert_eq!(data["require_2fa"], true);
    assert!(data.get("access_token").is_none(), "{data}");
    let challenge = data["challenge"].as_str().expect("challenge").to_owned();
    assert!(challenge.len() >= 43, "a 256-bit challenge: {challenge}");
    assert_eq!(app.sessions_of(alice.id).await, sessions);

    app.rest_second_step(&challenge, &phone.wrong_code())
        .await
        .err(401, "验证码或备用码错误，请重试");
    app.rest_second_step("nope", &phone.wrong_code())
        .await
        .err(401, "会话已过期，请重新登录");
    // A compat challenge opens no tokens (and a REST challenge no cookie session).
    let compat_pending = app.password_step("alice").await;
    app.rest_second_step(&compat_pending, &phone.wrong_code())
        .await
        .err(401, "会话已过期，请重新登录");
    app.login_second_step(Some(&challenge), json!(phone.wrong_code()))
        .await
        .refused_with("会话已过期，请重新登录");

    let tokens = app
        .rest_second_step(&challenge, &phone.next_code().await)
        .await
        .ok(200, "登录成功");
    let tokens = crate::rest_helpers::Tokens::from_data(&tokens);
    assert_eq!(tokens.user_id, alice.id);
    assert_eq!(app.profile_of(&tokens.access).await["username"], "alice");
    app.rest_second_step(&challenge, &phone.next_code().await)
        .await
        .err(401, "会话已过期，请重新登录");
}

#[tokio::test]
async fn five_wrong_codes_end_the_pending_login_and_the_throttle_holds_the_user() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (_, mut phone) = app.enable_two_factor(&alice).await;
    let pending = app.password_step("alice").await;
    for _ in 0..5 {
        assert_eq!(app.two_factor_status(&alice).await["locked"], false);
        app.login_second_step(Some(&pending), json!(phone.wrong_code()))
            .await
            .refused_with("验证码或备用码错误，请重试");
    }
    // The status card shows the lock while the delay runs.
    assert_eq!(app.two_factor_status(&alice).await["locked"], true);
    let right = phone.next_code().await;
    app.login_second_step(Some(&pending), json!(right))
        .await
        .refused_with("会话已过期，请重新登录");
    // A new pending login does not buy new guesses: the user's second factor is throttled
    // (five failures are free, then a delay), with the 429 of every credential check.
    let pending = app.password_step("alice").await;
    let reply = app.login_second_step(Some(&pending), json!(right)).await;
    assert_eq!(reply.status, 429, "{reply}");
    reply.refused_with("尝试次数过多，请稍后再试");
    let wait: u64 = reply
        .header("Retry-After")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=30).contains(&wait), "{wait}");
    // Disabling 2FA with a code is throttled as well.
    let reply = app
        .two_factor(
            &alice,
            Method::POST,
            "disable",
            Some(json!({"code": right})),
        )
        .await;
    assert_eq!(reply.status, 429, "{reply}");
}

#[tokio::test]
async fn a_pending_login_expires() {
    let app = TestApp::spawn_with(|s| s.two_factor.pending_login_ttl_secs = 1).await;
    let alice = app.user("alice").await;
    let (_, mut phone) = app.enable_two_factor(&alice).await;
    let pending = app.password_step("alice").await;
    tokio::time::sleep(std::time::Duration::from_millis(2_200)).await;
    app.login_second_step(Some(&pending), json!(phone.next_code().await))
        .await
        .refused_with("会话已过期，请重新登录");
}

#[tokio::test]
async fn a_user_disabled_after_the_password_gets_no_session() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let alice = app.user("alice").await;
    let (_, mut phone) = app.enable_two_factor(&alice).await;
    let pending = app.password_step("alice").await;
    app.call(
        &root,
        Method::POST,
        "/api/user/manage",
        Some(json!({"id": alice.id, "action": "disable"})),
    )
    .await
    .success();
    let sessions = app.sessions_of(alice.id).await;
    app.login_second_step(Some(&pending), json!(phone.next_code().await))
        .await
        .refused_with("用户名或密码错误，或用户已被封禁");
    assert_eq!(app.sessions_of(alice.id).await, sessions);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_logins_racing_with_one_backup_code_have_exactly_one_winner() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (setup, _) = app.enable_two_factor(&alice).await;
    let code = setup.backup_codes[0].clone();
    // Two browsers, each past the password.
    let first = app.password_step("alice").await;
    let second = app.password_step("alice").await;
    let (a, b) = tokio::join!(
        app.login_second_step(Some(&first), json!(code)),
        app.login_second_step(Some(&second), json!(code)),
    );
    let won: Vec<&Reply> = [&a, &b]
        .into_iter()
        .filter(|r| r.body["success"] == true)
        .collect();
    assert_eq!(won.len(), 1, "{a} {b}");
    let lost = if a.body["success"] == true { &b } else { &a };
    lost.refused_with("验证码或备用码错误，请重试");
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM two_factor_backup_codes WHERE user_id = {} AND used_at IS NOT NULL",
            alice.id
        ))
        .await[0][0],
        1
    );
}

/// With Redis, a pending login started on one instance completes on another (behind a load
/// balancer without sticky sessions), once. Runs when `TEST_REDIS_URL` is set (CI sets it).
#[tokio::test]
async fn a_pending_login_started_on_one_instance_completes_on_another_with_redis() {
    let Ok(redis) = std::env::var("TEST_REDIS_URL") else {
        eprintln!("TEST_REDIS_URL not set; skipping the shared-Redis pending-login test");
        return;
    };
    let prefix = format!("2fa-test-{}:", uuid::Uuid::new_v4().simple());
    let a = TestApp::spawn_with(|s| {
        s.kv.redis_url = Some(secrecy::SecretString::from(redis));
        s.kv.key_prefix = prefix;
    })
    .await;
    let b = a.another_instance().await;
    let alice = a.user("alice").await;
    let (_, mut phone) = a.enable_two_factor(&alice).await;
    let pending = a.password_step("alice").await;
    let code = phone.next_code().await;
    b.login_second_step(Some(&pending), json!(code))
        .await
        .success();
    // Spent on every instance (the pending login is gone before any code is checked).
    a.login_second_step(Some(&pending), json!(code))
        .await
        .refused_with("会话已过期，请重新登录");
    // And the REST challenge.
    let challenge = a
        .rest_login("alice", crate::helpers::PASSWORD)
        .await
        .ok(200, "请输入两步验证码")["challenge"]
        .as_str()
        .expect("challenge")
        .to_owned();
    b.rest_second_step(&challenge, &phone.next_code().await)
        .await
        .ok(200, "登录成功");
}

/// With Turnstile on, the console's 2FA login works as New API's does: a token on the
/// password step, none on the code (the console sends none); `/api/v1` needs one on both.
#[tokio::test]
async fn with_turnstile_on_the_console_sends_a_token_only_with_the_password() {
    use tollgate_tests::fakes::turnstile::FakeTurnstile;
    const SECRET_KEY: &str = "0x4AAAAAAA2fa-test-secret";
    let fake = FakeTurnstile::start(SECRET_KEY).await;
    let url = fake.verify_url();
    let app = TestApp::spawn_with(|s| s.turnstile.verify_url = url).await;
    let root = app.root().await;
    let alice = app.user("alice").await;
    let (_, mut phone) = app.enable_two_factor(&alice).await;
    for (key, value) in [
        ("TurnstileSiteKey", json!("0x4AAAAAAA2fa-test-site")),
        ("TurnstileSecretKey", json!(SECRET_KEY)),
        ("TurnstileCheckEnabled", json!(true)),
    ] {
        app.set_option(&root, key, value).await.success();
    }
    let body = json!({"username": "alice", "password": crate::helpers::PASSWORD});

    // Compat: the password step needs a token, the code step does not.
    let reply = crate::reply::send(
        app.client
            .post(app.url(&format!("/api/user/login?turnstile={}", fake.issue())))
            .json(&body),
    )
    .await;
    success_with(&reply, "请输入两步验证码");
    let pending = pending_cookie(&reply).expect("pending cookie").0;
    app.login_second_step(Some(&pending), json!(phone.next_code().await))
        .await
        .success();

    // REST: both steps need one.
    let reply = crate::reply::send(
        app.client
            .post(app.url(&format!("/api/v1/auth/login?turnstile={}", fake.issue())))
            .json(&body),
    )
    .await;
    let challenge = reply.ok(200, "请输入两步验证码")["challenge"]
        .as_str()
        .expect("challenge")
        .to_owned();
    let code = phone.next_code().await;
    let step = json!({"challenge": challenge, "code": code});
    app.post_json("/api/v1/auth/login/2fa", &step)
        .await
        .err(400, "Turnstile token 为空");
    crate::reply::send(
        app.client
            .post(app.url(&format!(
                "/api/v1/auth/login/2fa?turnstile={}",
                fake.issue()
            )))
            .json(&step),
    )
    .await
    .ok(200, "登录成功");
}
