//! Replays the traffic New API's web console really sent to Tollgate
//! (`fixtures/console-traffic/`, see its README) against a fresh server, and checks what the
//! console reads from each reply. Whole bodies are never compared: ids, times, keys and tokens
//! differ by run.
//!
//! The driver (`driver.rs`) plays the recorded calls in order, each run (`main-flow`,
//! `redemption-actions`, `page-sweep`) starting logged out in a new browser context
//! (`browser.rs`: a cookie jar, `New-API-User` -1 until login and the real id after it,
//! `Cache-Control: no-store`). It uses this run's own users, passwords, ids, invitation codes
//! and redemption keys in place of the recorded (and redacted) ones, and checks that the
//! recording's `New-Api-User` matches the user its console holds at that point.
//!
//! What each call must answer today:
//! - the user-module calls that succeeded then succeed now, with the fields the console reads
//!   (console-contract.md): the login's and `/api/user/self`'s user object, `setting` a string
//!   `JSON.parse` accepts, `{page, page_size, total, items}` lists whose rows carry
//!   `DeletedAt`, `/api/user/token` a string that works as a bearer token, every `/api/status`
//!   field of contract §2 with its type; where the recording kept a reply, the values the page
//!   shows (quotas, roles, statuses, invitation counts) equal the recorded ones;
//! - the recorded refusals of wrong input (existing username, wrong password, a used code,
//!   demoting a user, a deleted user's login) are refused with the recorded message;
//! - every other call the recording saw fail was a gap that is closed now and must succeed:
//!   `/api/user/2fa/status`, root saving its own row, and the redemption page's search, read,
//!   status-only update, delete and delete-invalid;
//! - other modules' calls answer JSON and never 401: notice, about and home page content a
//!   string, `/api/data/self/` (trailing slash, as sent) and `/api/uptime/status` an empty
//!   list, `/api/log/self` an empty page, the admin dashboard's `/api/data/` the 404 JSON or
//!   an empty list, everything else (tokens, channels, logs, tasks, pricing ...) the 404 JSON.
//!
//! One test per flow, so a failure points at the flow; each lists every finding of its flow
//! as `[step] METHOD url (recorded: …): field: what was wrong`. The calls that precede a flow
//! are replayed to reach its state, unchecked.

mod browser;
mod checks;
mod controls;
mod driver;
mod routes;
mod script;
mod shapes;

use reqwest::Method;
use serde_json::json;

use browser::{Browser, Stored};
use checks::Checks;
use driver::Replay;
use script::{Call, Module};
use shapes::{empty_page, not_found};

use crate::helpers::{ROOT_PASSWORD, ROOT_USERNAME, TestApp};
use crate::reply::Reply;

/// A part of the recording with its own test.
#[derive(Debug, Clone, Copy)]
enum Flow {
    /// `main-flow` up to the user's last logout: register, login, personal page, access token,
    /// password, notifications, wallet, invitation.
    User,
    /// `main-flow` from root's login: user management, options, redemption page, deletions.
    Admin,
    /// `redemption-actions`: mint, search, edit, disable, delete codes; page sizes.
    RedemptionActions,
    /// `page-sweep`: root opening every page once.
    PageSweep,
    /// Every run's calls to other New API modules.
    OutsideModules,
}

impl Flow {
    fn covers(self, call: &Call, index: usize, admin_from: usize) -> bool {
        let user = call.module == Module::User;
        match self {
            Self::User => call.run == "main-flow" && index < admin_from && user,
            Self::Admin => call.run == "main-flow" && index >= admin_from && user,
            Self::RedemptionActions => call.run == "redemption-actions" && user,
            Self::PageSweep => call.run == "page-sweep" && user,
            Self::OutsideModules => !user,
        }
    }
}

/// Replays the recording up to the flow's last call and fails with every finding of the flow.
async fn replay(flow: Flow) {
    let mut replay = Replay::arrange(script::load()).await;
    let calls = replay.calls();
    let admin_from = calls
        .iter()
        .position(|c| c.step == "19-login-root")
        .expect("the recording has root's login");
    let covered: Vec<bool> = calls
        .iter()
        .enumerate()
        .map(|(i, c)| flow.covers(c, i, admin_from))
        .collect();
    let last = covered
        .iter()
        .rposition(|c| *c)
        .expect("the flow has calls");
    for (call, checked) in calls.iter().zip(&covered).take(last + 1) {
        replay.play(call, *checked).await;
    }
    let checked = covered.iter().filter(|c| **c).count();
    assert!(
        replay.problems.is_empty(),
        "{} findings in the {flow:?} flow ({checked} calls checked):\n  - {}",
        replay.problems.len(),
        replay.problems.join("\n  - ")
    );
}

#[tokio::test]
async fn the_user_flow_replays_with_the_fields_the_console_reads() {
    replay(Flow::User).await;
}

#[tokio::test]
async fn the_admin_flow_replays_with_the_fields_the_console_reads() {
    replay(Flow::Admin).await;
}

#[tokio::test]
async fn the_redemption_page_actions_replay_and_now_succeed() {
    replay(Flow::RedemptionActions).await;
}

#[tokio::test]
async fn the_page_sweep_replays_with_the_fields_the_console_reads() {
    replay(Flow::PageSweep).await;
}

#[tokio::test]
async fn other_modules_calls_answer_json_and_never_401() {
    replay(Flow::OutsideModules).await;
}

/// The findings of calls made outside the recording.
#[derive(Default)]
struct Probe {
    problems: Vec<String>,
}

impl Probe {
    fn check(&mut self, label: &str, reply: &Reply, f: impl FnOnce(&mut Checks<'_>, &Reply)) {
        let mut c = Checks::new(&reply.body);
        f(&mut c, reply);
        self.problems
            .extend(c.found.into_iter().map(|x| format!("{label}: {x}")));
    }
}

/// Logs the console in as `username`.
async fn log_in(app: &TestApp, console: &mut Browser, username: &str, password: &str) {
    let body = json!({"username": username, "password": password});
    let r = console
        .send(app, Method::POST, "/api/user/login?turnstile=", Some(&body))
        .await;
    let id = r.success()["id"].as_i64().expect("user id");
    console.user = Some(Stored {
        id,
        username: username.to_owned(),
    });
}

/// Calls the console makes on pages or paths the recording did not reach: the setup page,
/// the dashboard's uptime panel, the log page, the online top-up forms (outside the
/// envelope) and methods a path does not serve.
#[tokio::test]
async fn calls_the_recording_did_not_capture_answer_what_the_console_reads() {
    let app = TestApp::spawn().await;
    let mut probe = Probe::default();
    let mut console = Browser::default();

    // The setup page: set up already (root exists), and a second root is refused.
    let r = console.send(&app, Method::GET, "/api/setup", None).await;
    probe.check("GET /api/setup", &r, |c, r| {
        if c.envelope(r, 200, true) {
            c.eq("data.status", &json!(true));
        }
    });
    let intruder = json!({"username": "intruder", "password": "intruder-pass",
        "confirmPassword": "intruder-pass", "SelfUseModeEnabled": false, "DemoSiteEnabled": false});
    let r = console
        .send(&app, Method::POST, "/api/setup", Some(&intruder))
        .await;
    probe.check("POST /api/setup once set up", &r, |c, r| {
        if c.envelope(r, 200, false) && c.string("message").is_some_and(str::is_empty) {
            c.fail("message: empty");
        }
    });
    let created = app
        .query_i64("SELECT COUNT(*) FROM users WHERE username = 'intruder'")
        .await;
    if created[0][0] != 0 {
        probe
            .problems
            .push("POST /api/setup once set up: created a user".into());
    }

    // A user's dashboard, log page and wallet.
    let register = json!({"username": "walletuser", "password": "wallet-pass",
        "password2": "wallet-pass", "email": "", "verification_code": "",
        "wechat_verification_code": "", "aff_code": null});
    console
        .send(
            &app,
            Method::POST,
            "/api/user/register?turnstile=",
            Some(&register),
        )
        .await
        .success();
    log_in(&app, &mut console, "walletuser", "wallet-pass").await;
    let r = console
        .send(&app, Method::GET, "/api/uptime/status", None)
        .await;
    probe.check("GET /api/uptime/status", &r, |c, r| {
        if c.envelope(r, 200, true) {
            c.eq("data", &json!([]));
        }
    });
    for url in [
        "/api/log/self/?p=1&page_size=10&type=0&token_name=&model_name=&start_timestamp=1796083200&end_timestamp=1796119027&group=",
        "/api/log/self?p=1&page_size=10",
    ] {
        let r = console.send(&app, Method::GET, url, None).await;
        probe.check(&format!("GET {url}"), &r, |c, r| {
            if c.envelope(r, 200, true) {
                empty_page(c);
            }
        });
    }
    // The top-up forms read `{message: "success"|"error", data}` without `success`.
    let amount = json!({"amount": 10, "top_up_code": ""});
    let r = console
        .send(&app, Method::POST, "/api/user/amount", Some(&amount))
        .await;
    probe.check("POST /api/user/amount", &r, |c, r| {
        outside_envelope(c, r);
        if c.body["message"] == "success" {
            let price = c.string("data").unwrap_or_default();
            let two_decimals = price
                .split_once('.')
                .is_some_and(|(a, b)| !a.is_empty() && b.len() == 2);
            if !two_decimals {
                c.fail(format!(
                    "data: expected a price with two decimals, got {price:?}"
                ));
            }
        } else {
            c.string("data");
        }
    });
    let pay = json!({"amount": 10, "top_up_code": "", "payment_method": "alipay"});
    let r = console
        .send(&app, Method::POST, "/api/user/pay", Some(&pay))
        .await;
    probe.check("POST /api/user/pay", &r, |c, r| {
        outside_envelope(c, r);
        if c.body["message"] == "success" {
            c.string("url");
            c.object("data");
        } else {
            c.string("data");
        }
    });
    console
        .send(&app, Method::GET, "/api/user/logout", None)
        .await
        .success();
    console.user = None;

    // Methods a path does not serve answer the 404 JSON, never an empty 405.
    log_in(&app, &mut console, ROOT_USERNAME, ROOT_PASSWORD).await;
    for (method, path) in [
        (Method::POST, "/api/status"),
        (Method::PATCH, "/api/user/self"),
        (Method::PUT, "/api/user/logout"),
        (Method::DELETE, "/api/user/"),
        (Method::DELETE, "/api/group/"),
        (Method::PATCH, "/api/redemption/"),
        (Method::POST, "/api/redemption/search"),
        (Method::DELETE, "/api/option/"),
    ] {
        let r = console.send(&app, method.clone(), path, None).await;
        probe.check(
            &format!("{method} {path} (a method it does not serve)"),
            &r,
            not_found,
        );
    }

    assert!(
        probe.problems.is_empty(),
        "{} findings:\n  - {}",
        probe.problems.len(),
        probe.problems.join("\n  - ")
    );
}

/// The price and order replies: HTTP 200 JSON `{message: "success" | "error", data}` and no
/// `success` key (the console tests `message === 'success'`).
fn outside_envelope(c: &mut Checks<'_>, r: &Reply) {
    if r.status != 200 {
        c.fail(format!("HTTP status: expected 200, got {}", r.status));
    }
    if c.body.get("success").is_some() {
        c.fail("success: present, but this reply is outside the envelope");
    }
    let message = c.string("message").unwrap_or_default();
    if message != "success" && message != "error" {
        c.fail(format!(
            "message: expected \"success\" or \"error\", got {message:?}"
        ));
    }
    c.present("data");
}
