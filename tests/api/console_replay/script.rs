//! The recorded script: every API call of `fixtures/console-traffic/steps.json` in the order the
//! console made it, joined with the details the recording kept (header, bodies) from the three
//! call files, plus what the recording tells about its own world (which id was which user,
//! which key which code).

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::Value;

const STEPS: &str = include_str!("../fixtures/console-traffic/steps.json");
const USER_OK: &str = include_str!("../fixtures/console-traffic/user-module-successful-calls.json");
const USER_REFUSED: &str =
    include_str!("../fixtures/console-traffic/user-module-failed-or-refused-calls.json");
const OUTSIDE: &str = include_str!("../fixtures/console-traffic/outside-module-calls.json");

/// Which New API module a call belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Module {
    /// The user module Tollgate implements (users, status, options, groups, redemption codes).
    User,
    /// Another New API module (tokens, channels, logs, dashboards, pricing, ...).
    Outside,
}

/// One recorded API call.
#[derive(Debug, Clone)]
pub struct Call {
    /// `main-flow`, `redemption-actions` or `page-sweep`; each run began logged out.
    pub run: String,
    /// The step's name (`06-login-user`).
    pub step: String,
    /// The HTTP method sent.
    pub method: Method,
    /// The URL as the console sent it, query included.
    pub url: String,
    /// The status Tollgate answered when the traffic was recorded.
    pub recorded_status: u16,
    /// The summary of the recorded reply: `ok`, or `success:false <message>`.
    pub recorded_outcome: String,
    /// The module, by the file that lists the call (or its path).
    pub module: Module,
    /// The `New-Api-User` header the console sent (-1 logged out), when recorded.
    pub new_api_user: Option<i64>,
    /// The JSON body sent (`Null` for none); passwords read `<redacted>`.
    pub request_body: Value,
    /// The recorded reply body (`Null` when the recording kept none for this call).
    pub response: Value,
}

impl Call {
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.url.split('?').next().unwrap_or_default()
    }

    /// Whether the recorded reply was a success.
    pub fn recorded_ok(&self) -> bool {
        self.recorded_status == 200 && self.recorded_outcome == "ok"
    }

    /// The message of a recorded refusal.
    pub fn recorded_message(&self) -> String {
        match self.response["message"].as_str() {
            Some(m) => m.to_owned(),
            None => self
                .recorded_outcome
                .strip_prefix("success:false ")
                .unwrap_or_default()
                .to_owned(),
        }
    }

    /// `[step] METHOD url (recorded: HTTP status outcome)`, the prefix of every problem.
    pub fn label(&self) -> String {
        format!(
            "[{}] {} {} (recorded: HTTP {} {})",
            self.step,
            self.method,
            self.url,
            self.recorded_status,
            self.recorded_outcome.trim()
        )
    }
}

/// What the recording's own replies say about its world.
#[derive(Debug, Default)]
pub struct Recorded {
    /// User id → username.
    pub usernames: BTreeMap<i64, String>,
    /// Invitation code → username.
    pub aff_owners: BTreeMap<String, String>,
    /// Redemption code key → code id.
    pub code_ids: BTreeMap<String, i64>,
    /// Code id → (name, quota).
    pub codes: BTreeMap<i64, (String, i64)>,
    /// Keys the console itself minted (`POST /api/redemption/` replies).
    pub minted_by_console: Vec<String>,
    /// The options of the first `GET /api/option/` reply.
    pub options: BTreeMap<String, String>,
}

impl Recorded {
    /// The codes that existed before the console minted any, by id: what the recording
    /// harness created before step 01.
    pub fn seed_codes(&self) -> Vec<(i64, String, i64)> {
        let mut seeds: Vec<(i64, String, i64)> = self
            .code_ids
            .iter()
            .filter(|(key, _)| !self.minted_by_console.contains(key))
            .map(|(_, id)| (*id, self.codes[id].0.clone(), self.codes[id].1))
            .collect();
        seeds.sort_unstable();
        seeds
    }

    /// Learns users and codes from every object of a recorded reply.
    fn learn(&mut self, v: &Value) {
        match v {
            Value::Object(o) => {
                if let (Some(id), Some(name)) = (
                    o.get("id").and_then(Value::as_i64),
                    o.get("username").and_then(Value::as_str),
                ) {
                    self.usernames.insert(id, name.to_owned());
                    if let Some(aff) = o.get("aff_code").and_then(Value::as_str) {
                        self.aff_owners.insert(aff.to_owned(), name.to_owned());
                    }
                }
                if let (Some(id), Some(key), Some(name), Some(quota)) = (
                    o.get("id").and_then(Value::as_i64),
                    o.get("key").and_then(Value::as_str),
                    o.get("name").and_then(Value::as_str),
                    o.get("quota").and_then(Value::as_i64),
                ) {
                    self.code_ids.insert(key.to_owned(), id);
                    self.codes.insert(id, (name.to_owned(), quota));
                }
                o.values().for_each(|x| self.learn(x));
            }
            Value::Array(a) => a.iter().for_each(|x| self.learn(x)),
            _ => {}
        }
    }
}

/// The whole script.
#[derive(Debug)]
pub struct Script {
    /// Every call, in the recorded order.
    pub calls: Vec<Call>,
    /// What the recorded replies say about the recording's world.
    pub recorded: Recorded,
}

/// A call of one of the three detail files, with the flag that it was matched to a step.
struct Detail {
    module: Module,
    record: Value,
    used: bool,
}

/// A fixture file's array.
fn parse(text: &str, what: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    v.as_array()
        .unwrap_or_else(|| panic!("{what}: not an array"))
        .clone()
}

/// Reads the fixtures. Panics on a fixture that does not parse or does not join up (every
/// detail record must belong to exactly one call of `steps.json`).
pub fn load() -> Script {
    let mut details: Vec<Detail> = [
        (USER_OK, Module::User, "successful calls"),
        (USER_REFUSED, Module::User, "failed or refused calls"),
        (OUTSIDE, Module::Outside, "outside-module calls"),
    ]
    .into_iter()
    .flat_map(|(text, module, what)| {
        parse(text, what).into_iter().map(move |record| Detail {
            module,
            record,
            used: false,
        })
    })
    .collect();

    let mut recorded = Recorded::default();
    for d in &details {
        recorded.learn(&d.record["response_body"]);
        let r = &d.record;
        if r["method"] == "POST" && r["url"] == "/api/redemption/" {
            for key in r["response_body"]["data"].as_array().into_iter().flatten() {
                recorded
                    .minted_by_console
                    .extend(key.as_str().map(str::to_owned));
            }
        }
        if r["url"] == "/api/option/" && r["method"] == "GET" && recorded.options.is_empty() {
            for o in r["response_body"]["data"].as_array().into_iter().flatten() {
                if let (Some(k), Some(v)) = (o["key"].as_str(), o["value"].as_str()) {
                    recorded.options.insert(k.to_owned(), v.to_owned());
                }
            }
        }
    }

    let mut calls = Vec::new();
    for step in parse(STEPS, "steps") {
        let name = step["step"].as_str().expect("step name").to_owned();
        let run = step["run"].as_str().expect("run").to_owned();
        for line in step["api"].as_array().expect("api list") {
            let line = line.as_str().expect("api line");
            let (request, reply) = line.split_once(" -> ").expect("METHOD URL -> STATUS");
            let (method, url) = request.split_once(' ').expect("METHOD URL");
            let (status, outcome) = reply.split_once(' ').unwrap_or((reply, ""));
            let detail = details.iter_mut().find(|d| {
                !d.used
                    && d.record["step"] == name.as_str()
                    && d.record["method"] == method
                    && d.record["url"] == url
            });
            let (module, record) = match detail {
                Some(d) => {
                    d.used = true;
                    (d.module, d.record.clone())
                }
                None => (module_of(url), Value::Null),
            };
            calls.push(Call {
                run: run.clone(),
                step: name.clone(),
                method: Method::from_bytes(method.as_bytes()).expect("method"),
                url: url.to_owned(),
                recorded_status: status.parse().expect("status"),
                recorded_outcome: outcome.to_owned(),
                module,
                new_api_user: header_value(&record["new_api_user"]),
                request_body: record["request_body"].clone(),
                response: record["response_body"].clone(),
            });
        }
    }
    let unmatched: Vec<&Value> = details
        .iter()
        .filter(|d| !d.used)
        .map(|d| &d.record)
        .collect();
    assert!(
        unmatched.is_empty(),
        "recorded calls that belong to no step: {unmatched:?}"
    );
    Script { calls, recorded }
}

/// The module of a call the detail files do not list (repeated GETs).
fn module_of(url: &str) -> Module {
    let user_module = [
        "/api/status",
        "/api/user/",
        "/api/group/",
        "/api/option/",
        "/api/redemption/",
    ];
    if user_module.iter().any(|p| url.starts_with(p)) {
        Module::User
    } else {
        Module::Outside
    }
}

/// The recorded `New-Api-User` header: a string (`"-1"`, `"2"`), or absent.
fn header_value(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => Some(s.parse().expect("a numeric New-Api-User")),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}
