//! The replay driver: plays the recorded calls in order against a fresh server, with this
//! run's own users, passwords, ids, invitation codes and redemption keys in place of the
//! recorded ones, and collects every finding under the call's label.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::browser::{Browser, Stored};
use super::checks::Checks;
use super::script::{Call, Module, Script};
use super::shapes::{empty_page, not_found};
use crate::helpers::{ROOT_PASSWORD, ROOT_USERNAME, TestApp};
use crate::reply::Reply;

/// Recorded refusals of wrong input, which must still be refused with the recorded message.
/// Every other user-module call the recording saw fail was a gap that is closed now.
const GENUINE_REFUSALS: [&str; 5] = [
    "04-register-existing-username",
    "05-login-wrong-password",
    "14-redeem-again-used-code",
    "29-demote-again-refused",
    "37-deleted-user-login",
];

/// The step that typed a wrong password on purpose (step 37's user typed the right one: it
/// was deleted by then).
const WRONG_PASSWORD_STEP: &str = "05-login-wrong-password";

/// What a call must answer today.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    /// HTTP 200, `success: true`, and the fields the console reads.
    Success,
    /// HTTP 200, `success: false` with this message.
    Refused(String),
    /// New API's 404 JSON.
    NotFound,
    /// `{success: true, data: <string>}` (notice, about, home page content).
    Text,
    /// `{success: true, data: []}`.
    EmptyList,
    /// `{success: true, data: {items: [], total: 0, page, page_size}}`.
    EmptyPage,
    /// The admin dashboard's `/api/data/`: the 404 JSON or an empty list; never a 401.
    NotFoundOrEmptyList,
}

/// What `call` must answer today (see the module documentation of `console_replay`).
fn expectation(call: &Call) -> Expect {
    match call.module {
        Module::Outside => match call.path() {
            "/api/notice" | "/api/home_page_content" | "/api/about" => Expect::Text,
            "/api/data/self" | "/api/data/self/" | "/api/uptime/status" => Expect::EmptyList,
            p if p.starts_with("/api/log/self") => Expect::EmptyPage,
            "/api/data" | "/api/data/" => Expect::NotFoundOrEmptyList,
            _ => Expect::NotFound,
        },
        Module::User if call.recorded_ok() => Expect::Success,
        Module::User if GENUINE_REFUSALS.contains(&call.step.as_str()) => {
            Expect::Refused(call.recorded_message())
        }
        Module::User => Expect::Success,
    }
}

/// A redemption code of this run, in creation order (the recording's code id N is the Nth).
#[derive(Debug, Clone)]
pub(super) struct Code {
    pub(super) id: i64,
    pub(super) key: String,
    /// New API's status code: 1 unused, 2 disabled, 3 used; `None` once deleted.
    pub(super) status: Option<i64>,
}

/// The route of a path: digit segments read `{id}` (`/api/redemption/3/` → `/api/redemption/{id}/`).
pub(super) fn route(path: &str) -> String {
    path.split('/')
        .map(|s| {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The query parameter `name` of a URL.
pub(super) fn query_param<'u>(url: &'u str, name: &str) -> Option<&'u str> {
    url.split_once('?')?
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// The replay of one script against one fresh server.
pub struct Replay {
    /// The server under test.
    pub app: TestApp,
    /// The recording being replayed.
    pub(super) script: Script,
    /// The console's tab of the current run.
    pub(super) browser: Browser,
    /// The run being played (a new one starts logged out).
    run: String,
    /// Username → its password in this run.
    passwords: BTreeMap<String, String>,
    /// Username → its invitation code in this run (read from the replies).
    pub(super) aff_codes: BTreeMap<String, String>,
    /// This run's redemption codes, in creation order.
    pub(super) codes: Vec<Code>,
    /// (username, field) → the value a call changed that the recording saw refused.
    pub(super) overrides: BTreeMap<(String, String), Value>,
    /// Options set during the replay.
    pub(super) options: BTreeMap<String, Value>,
    /// Username → the `notify_type` it saved.
    pub(super) notify_types: BTreeMap<String, Value>,
    fresh: u32,
    /// Every finding so far, labelled with its call.
    pub problems: Vec<String>,
}

impl Replay {
    /// A fresh server in the recording's starting state: root, the recording's new-user and
    /// invitation quotas, and the redemption codes its harness created before step 01.
    pub async fn arrange(script: Script) -> Self {
        let app = TestApp::spawn().await;
        let root = app.root().await;
        for key in ["QuotaForNewUser", "QuotaForInviter", "QuotaForInvitee"] {
            let value = script
                .recorded
                .options
                .get(key)
                .unwrap_or_else(|| panic!("the recording lists option {key}"));
            app.set_option(&root, key, json!(value)).await.success();
        }
        let mut codes = Vec::new();
        for (recorded_id, name, quota) in script.recorded.seed_codes() {
            assert_eq!(
                usize::try_from(recorded_id).unwrap(),
                codes.len() + 1,
                "the recording's seed codes are its first ids"
            );
            let minted = app
                .create_codes(&root, json!({"name": name, "quota": quota, "count": 1}))
                .await
                .success();
            let key = minted[0].as_str().expect("a key").to_owned();
            let id = code_id(&app, &key).await;
            codes.push(Code {
                id,
                key,
                status: Some(1),
            });
        }
        let passwords = BTreeMap::from([(ROOT_USERNAME.to_owned(), ROOT_PASSWORD.to_owned())]);
        Self {
            app,
            script,
            browser: Browser::default(),
            run: String::new(),
            passwords,
            aff_codes: BTreeMap::new(),
            codes,
            overrides: BTreeMap::new(),
            options: BTreeMap::new(),
            notify_types: BTreeMap::new(),
            fresh: 0,
            problems: Vec::new(),
        }
    }

    /// The recorded calls, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.script.calls.clone()
    }

    /// Plays one call; with `checked`, its findings are kept.
    pub async fn play(&mut self, call: &Call, checked: bool) {
        if call.run != self.run {
            // Each recorded run began in a new browser context, logged out.
            self.browser = Browser::default();
            self.run.clone_from(&call.run);
        }
        let mut found = self.header_findings(call).await;
        let path = self.our_path(call).await;
        let body = self.our_body(call).await;
        let reply = self
            .browser
            .send(&self.app, call.method.clone(), &path, body.as_ref())
            .await;
        let expect = expectation(call);
        let mut checks = Checks::new(&reply.body);
        let succeeded = check_outcome(&mut checks, &reply, &expect);
        if succeeded && expect == Expect::Success {
            self.route_checks(&mut checks, call, &path, body.as_ref())
                .await;
        }
        found.append(&mut checks.found);
        if checked {
            let label = call.label();
            let sent = if path == call.url {
                String::new()
            } else {
                format!(" [sent as {path}]")
            };
            self.problems
                .extend(found.into_iter().map(|f| format!("{label}{sent}: {f}")));
        }
        self.after(call, body.as_ref(), &reply, succeeded).await;
    }

    /// The recording's `New-Api-User` must be what this replay's console sends: -1 logged
    /// out, else the same user's id (a mismatch means the replay went off script).
    async fn header_findings(&self, call: &Call) -> Vec<String> {
        let Some(recorded) = call.new_api_user else {
            return Vec::new();
        };
        let expected = if recorded == -1 {
            None
        } else {
            let name = self.recorded_username(recorded);
            Some(self.our_user_id(&name).await)
        };
        let ours = self.browser.user.as_ref().map(|u| u.id);
        if ours == expected {
            Vec::new()
        } else {
            vec![format!(
                "replay off script: the console sent New-Api-User {recorded} (user {expected:?} \
                 here) but this replay's console holds {ours:?}"
            )]
        }
    }

    /// This run's username of the recording's user `recorded_id`.
    pub(super) fn recorded_username(&self, recorded_id: i64) -> String {
        let name = self
            .script
            .recorded
            .usernames
            .get(&recorded_id)
            .unwrap_or_else(|| panic!("the recording names no user {recorded_id}"));
        our_username(name)
    }

    /// This run's id of `username` (-1 when there is none).
    pub(super) async fn our_user_id(&self, username: &str) -> i64 {
        let name = username.replace('\'', "''");
        let rows = self
            .app
            .query_i64(&format!("SELECT id FROM users WHERE username = '{name}'"))
            .await;
        rows.first()
            .map_or(-1, |r| r.first().copied().unwrap_or(-1))
    }

    /// This run's id of the recording's user `recorded_id`.
    pub(super) async fn our_id_of_recorded_user(&self, recorded_id: i64) -> i64 {
        let name = self.recorded_username(recorded_id);
        self.our_user_id(&name).await
    }

    /// This run's code for the recording's code `recorded_id`.
    pub(super) fn code(&self, recorded_id: i64) -> Option<&Code> {
        usize::try_from(recorded_id - 1)
            .ok()
            .and_then(|i| self.codes.get(i))
    }

    /// The recorded URL with this run's user and code ids.
    async fn our_path(&self, call: &Call) -> String {
        let (path, query) = match call.url.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (call.url.as_str(), None),
        };
        let mut segments: Vec<String> = path.split('/').map(str::to_owned).collect();
        if let (Some(kind), Some(id)) = (segments.get(2).cloned(), segments.get(3).cloned())
            && let Ok(recorded) = id.parse::<i64>()
        {
            let ours = match kind.as_str() {
                "user" => self.our_id_of_recorded_user(recorded).await,
                "redemption" => self.code(recorded).map_or(-1, |c| c.id),
                _ => recorded,
            };
            segments[3] = ours.to_string();
        }
        let path = segments.join("/");
        query.map_or_else(|| path.clone(), |q| format!("{path}?{q}"))
    }

    /// A new password for a registration, creation or change.
    fn fresh_password(&mut self) -> String {
        self.fresh += 1;
        format!("replay-pass-{}", self.fresh)
    }

    /// The recorded body with this run's credentials, ids, keys and invitation codes.
    async fn our_body(&mut self, call: &Call) -> Option<Value> {
        let mut body = call.request_body.clone();
        let obj = body.as_object_mut()?;
        let redacted = |v: Option<&Value>| v.is_some_and(|v| v == "<redacted>");
        if let Some(name) = obj.get("username").and_then(Value::as_str) {
            obj.insert("username".into(), our_username(name).into());
        }
        let username = obj
            .get("username")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match (call.method.as_str(), route(call.path()).as_str()) {
            ("POST", "/api/user/login") => {
                let name = username.unwrap_or_default();
                let password = if call.step == WRONG_PASSWORD_STEP {
                    "not-the-password".to_owned()
                } else {
                    self.passwords.get(&name).cloned().unwrap_or_default()
                };
                obj.insert("password".into(), password.into());
            }
            ("POST", "/api/user/register" | "/api/user/") => {
                let password = self.fresh_password();
                for key in ["password", "password2"] {
                    if redacted(obj.get(key)) {
                        obj.insert(key.into(), password.clone().into());
                    }
                }
                if let Some(aff) = obj.get("aff_code").and_then(Value::as_str) {
                    let owner = self
                        .script
                        .recorded
                        .aff_owners
                        .get(aff)
                        .map(|o| our_username(o));
                    let ours = owner
                        .and_then(|o| self.aff_codes.get(&o).cloned())
                        .unwrap_or_else(|| format!("no-code-learned-for-{aff}"));
                    obj.insert("aff_code".into(), ours.into());
                }
            }
            ("PUT", "/api/user/self") => {
                let current = self.browser.user.as_ref().map(|u| u.username.clone());
                let old = current
                    .and_then(|u| self.passwords.get(&u).cloned())
                    .unwrap_or_default();
                let new = self.fresh_password();
                obj.insert("original_password".into(), old.into());
                obj.insert("password".into(), new.into());
            }
            ("PUT" | "POST", "/api/user/" | "/api/user/manage") => {
                if let Some(id) = obj.get("id").and_then(Value::as_i64) {
                    let ours = self.our_id_of_recorded_user(id).await;
                    obj.insert("id".into(), ours.into());
                }
            }
            ("POST", "/api/user/topup") => {
                let recorded_key = obj.get("key").and_then(Value::as_str).unwrap_or_default();
                let ours = self
                    .script
                    .recorded
                    .code_ids
                    .get(recorded_key)
                    .and_then(|id| self.code(*id))
                    .map_or_else(|| format!("no-code-for-{recorded_key}"), |c| c.key.clone());
                obj.insert("key".into(), ours.into());
            }
            ("PUT", "/api/redemption/") => {
                if let Some(id) = obj.get("id").and_then(Value::as_i64) {
                    let ours = self.code(id).map_or(-1, |c| c.id);
                    obj.insert("id".into(), ours.into());
                }
            }
            _ => {}
        }
        Some(body)
    }

    /// What the console keeps after a reply: the logged-in user, and this run's passwords,
    /// codes, options and the changes it made that the recording saw refused.
    async fn after(&mut self, call: &Call, body: Option<&Value>, reply: &Reply, ok: bool) {
        learn_aff_codes(&reply.body, &mut self.aff_codes);
        let route = route(call.path());
        let (method, route) = (call.method.as_str(), route.as_str());
        if (method, route) == ("GET", "/api/user/logout") {
            // The console clears localStorage.user whatever the reply.
            self.browser.user = None;
            return;
        }
        if !ok {
            return;
        }
        let body = body.cloned().unwrap_or(Value::Null);
        let current = self.browser.user.as_ref().map(|u| u.username.clone());
        match (method, route) {
            ("POST", "/api/user/login") => {
                self.browser.user = reply.data()["id"].as_i64().map(|id| Stored {
                    id,
                    username: body["username"].as_str().unwrap_or_default().to_owned(),
                });
            }
            ("POST", "/api/user/register" | "/api/user/") => {
                if let (Some(u), Some(p)) = (body["username"].as_str(), body["password"].as_str()) {
                    self.passwords.insert(u.to_owned(), p.to_owned());
                }
            }
            ("PUT", "/api/user/self") => {
                if let (Some(u), Some(p)) = (current, body["password"].as_str()) {
                    self.passwords.insert(u, p.to_owned());
                }
            }
            ("PUT", "/api/user/setting") => {
                if let Some(u) = current {
                    self.notify_types.insert(u, body["notify_type"].clone());
                }
            }
            ("PUT", "/api/user/") if !call.recorded_ok() => {
                // Refused when recorded (root's own row), accepted now: later rows show it.
                let name = body["username"].as_str().unwrap_or_default().to_owned();
                for field in ["display_name", "remark", "group", "quota"] {
                    if let Some(v) = body.get(field) {
                        self.overrides
                            .insert((name.clone(), field.to_owned()), v.clone());
                    }
                }
            }
            ("PUT", "/api/option/") => {
                if let Some(k) = body["key"].as_str() {
                    self.options.insert(k.to_owned(), body["value"].clone());
                }
            }
            ("POST", "/api/user/topup") => {
                let key = body["key"].as_str().unwrap_or_default();
                self.set_code_status(|c| c.key == key, Some(3));
            }
            ("POST", "/api/redemption/") => {
                for key in reply.data().as_array().into_iter().flatten() {
                    let key = key.as_str().unwrap_or_default().to_owned();
                    let id = code_id(&self.app, &key).await;
                    self.codes.push(Code {
                        id,
                        key,
                        status: Some(1),
                    });
                }
            }
            ("PUT", "/api/redemption/") => {
                let id = body["id"].as_i64();
                let status = body["status"].as_i64();
                if query_param(&call.url, "status_only") == Some("true") {
                    self.set_code_status(|c| Some(c.id) == id, status);
                }
            }
            ("DELETE", "/api/redemption/{id}" | "/api/redemption/{id}/") => {
                let id = call.path().split('/').nth(3).and_then(|s| s.parse().ok());
                let ours = id.and_then(|r| self.code(r)).map(|c| c.id);
                self.set_code_status(|c| Some(c.id) == ours, None);
            }
            ("DELETE", "/api/redemption/invalid") => {
                self.set_code_status(|c| matches!(c.status, Some(2 | 3)), None);
            }
            _ => {}
        }
    }

    /// Sets the status of the codes `which` selects (`None`: deleted).
    fn set_code_status(&mut self, which: impl Fn(&Code) -> bool, status: Option<i64>) {
        for c in self.codes.iter_mut().filter(|c| which(c)) {
            c.status = status;
        }
    }
}

/// The envelope a reply must have for `expect`; true when the call succeeded.
fn check_outcome(c: &mut Checks<'_>, reply: &Reply, expect: &Expect) -> bool {
    match expect {
        Expect::Success => {
            c.envelope(reply, 200, true);
        }
        Expect::Refused(message) => {
            if c.envelope(reply, 200, false) {
                c.eq("message", &json!(message));
            }
        }
        Expect::NotFound => not_found(c, reply),
        Expect::Text => {
            if c.envelope(reply, 200, true) {
                c.string("data");
            }
        }
        Expect::EmptyList => {
            if c.envelope(reply, 200, true) {
                c.eq("data", &json!([]));
            }
        }
        Expect::EmptyPage => {
            if c.envelope(reply, 200, true) {
                empty_page(c);
            }
        }
        Expect::NotFoundOrEmptyList => {
            if reply.status == 404 {
                not_found(c, reply);
            } else if c.envelope(reply, 200, true) {
                c.eq("data", &json!([]));
            }
        }
    }
    reply.status == 200 && reply.body["success"] == true
}

/// Invitation codes of the user objects in a reply, by username.
fn learn_aff_codes(v: &Value, into: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(o) => {
            if let (Some(u), Some(a)) = (
                o.get("username").and_then(Value::as_str),
                o.get("aff_code").and_then(Value::as_str),
            ) && !a.is_empty()
            {
                into.insert(u.to_owned(), a.to_owned());
            }
            o.values().for_each(|x| learn_aff_codes(x, into));
        }
        Value::Array(a) => a.iter().for_each(|x| learn_aff_codes(x, into)),
        _ => {}
    }
}

/// This run's name for a recorded username (root is the test server's root).
pub(super) fn our_username(recorded: &str) -> String {
    if recorded == "root" {
        ROOT_USERNAME.to_owned()
    } else {
        recorded.to_owned()
    }
}

/// The id of the code with `key`.
async fn code_id(app: &TestApp, key: &str) -> i64 {
    let key = key.replace('\'', "''");
    app.query_i64(&format!("SELECT id FROM redemptions WHERE code = '{key}'"))
        .await
        .first()
        .and_then(|r| r.first().copied())
        .unwrap_or(-1)
}
