//! The fields the console reads from each route's successful reply, and where the recording
//! kept the reply, the values its pages show.

use reqwest::Method;
use serde_json::{Value, json};

use super::checks::Checks;
use super::driver::{Replay, our_username, query_param, route};
use super::script::Call;
use super::shapes::{
    code_fields, page_fields, setting, status_fields, strings, user_fields, user_row,
};

impl Replay {
    /// The fields the console reads from a successful reply of each route.
    pub(super) async fn route_checks(
        &self,
        c: &mut Checks<'_>,
        call: &Call,
        path: &str,
        body: Option<&Value>,
    ) {
        let route = route(call.path());
        let sent = body.cloned().unwrap_or(Value::Null);
        let recorded_ok = call.recorded_ok();
        match (call.method.as_str(), route.as_str()) {
            ("GET", "/api/status") => status_fields(c),
            ("POST", "/api/user/login") => {
                user_fields(c, "data");
                c.eq("data.username", &sent["username"]);
                if recorded_ok {
                    self.same_as_recorded(c, "data", &call.response["data"], &LOGIN_FIELDS);
                }
                if !self.browser.has_session() {
                    c.fail("no `session` cookie set: the console could not stay logged in");
                }
            }
            ("GET", "/api/user/self") => {
                user_fields(c, "data");
                self.self_fields(c);
                if recorded_ok && !call.response.is_null() {
                    self.same_as_recorded(c, "data", &call.response["data"], &SELF_FIELDS);
                }
            }
            ("GET", "/api/user/models") => strings(c, "data"),
            ("GET", "/api/user/2fa/status") => {
                c.bool("data.enabled");
                c.bool("data.locked");
            }
            ("GET", "/api/user/token") => {
                if let Some(token) = c.string("data") {
                    if token.is_empty() {
                        c.fail("data: an empty access token");
                    } else {
                        self.token_works(c, token).await;
                    }
                }
            }
            ("GET", "/api/user/aff") => {
                let current = self.browser.user.as_ref().map(|u| u.username.clone());
                let expected = current.and_then(|u| self.aff_codes.get(&u).cloned());
                match expected {
                    Some(code) => c.eq("data", &json!(code)),
                    None => {
                        c.string("data");
                    }
                }
            }
            ("POST", "/api/user/topup") => {
                if recorded_ok {
                    c.eq("data", &call.response["data"]);
                } else {
                    c.int("data");
                }
            }
            ("POST", "/api/user/aff_transfer") => {
                if c.string("message").is_some_and(str::is_empty) {
                    c.fail("message: empty, but the console shows it");
                }
            }
            ("GET", "/api/user/" | "/api/user/search") => {
                self.user_page(c, call, path).await;
            }
            ("GET", "/api/group/") => {
                strings(c, "data");
                if !c.array("data").iter().any(|g| g == "default") {
                    c.fail("data: no `default` group");
                }
            }
            ("GET", "/api/user/{id}") => {
                user_fields(c, "data");
                let expected = path.rsplit('/').next().and_then(|s| s.parse::<i64>().ok());
                c.eq("data.id", &json!(expected));
                for f in EDIT_FORM_STRINGS {
                    c.string(&format!("data.{f}"));
                }
                c.int("data.quota");
                if recorded_ok {
                    self.same_as_recorded(c, "data", &call.response["data"], &ROW_FIELDS);
                }
            }
            ("POST", "/api/user/manage") => {
                c.int("data.role");
                c.int("data.status");
                if recorded_ok {
                    c.eq("data", &call.response["data"]);
                }
            }
            ("GET", "/api/user/self/groups") => {
                for (name, g) in c.object("data").cloned().unwrap_or_default() {
                    if !g["ratio"].is_number() || !g["desc"].is_string() {
                        c.fail(format!("data.{name}: expected {{ratio, desc}}, got {g}"));
                    }
                }
            }
            ("GET", "/api/redemption/") => {
                page_fields(c);
                self.code_list(c);
            }
            ("GET", "/api/redemption/search") => {
                page_fields(c);
                let keyword = query_param(&call.url, "keyword").unwrap_or_default();
                for (i, item) in c.array("data.items").iter().enumerate() {
                    if !item["name"].as_str().is_some_and(|n| n.contains(keyword)) {
                        c.fail(format!(
                            "data.items.{i}: does not match {keyword:?}: {item}"
                        ));
                    }
                }
                if c.int("data.total").is_some_and(|t| t < 1) {
                    c.fail(format!(
                        "data.total: the code named {keyword:?} was not found"
                    ));
                }
            }
            ("GET", "/api/redemption/{id}") => {
                code_fields(c, "data");
                let recorded_id: i64 = call
                    .path()
                    .rsplit('/')
                    .next()
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0);
                c.eq("data.id", &json!(self.code(recorded_id).map(|x| x.id)));
                let name = self
                    .script
                    .recorded
                    .codes
                    .get(&recorded_id)
                    .map(|x| x.0.clone());
                c.eq("data.name", &json!(name));
            }
            ("POST", "/api/redemption/") => {
                let n = c.array("data").len();
                if Some(n) != sent["count"].as_u64().and_then(|x| usize::try_from(x).ok()) {
                    c.fail(format!("data: expected {} keys, got {n}", sent["count"]));
                }
                strings(c, "data");
            }
            ("PUT", "/api/redemption/") => {
                // After a status-only update the console reads `data.status`.
                c.eq("data.id", &sent["id"]);
                c.eq("data.status", &sent["status"]);
            }
            ("DELETE", "/api/redemption/invalid") => {
                let invalid = self
                    .codes
                    .iter()
                    .filter(|x| matches!(x.status, Some(2 | 3)))
                    .count();
                c.eq("data", &json!(invalid));
            }
            ("GET", "/api/option/") => {
                for (i, o) in c.array("data").iter().enumerate() {
                    if !o["key"].is_string() || !o["value"].is_string() {
                        c.fail(format!(
                            "data.{i}: expected {{key, value}} strings, got {o}"
                        ));
                    }
                }
                for (key, value) in &self.options {
                    let listed = c.array("data").iter().find(|o| o["key"] == key.as_str());
                    if listed.map(|o| &o["value"]) != Some(value) {
                        c.fail(format!(
                            "data: option {key} should read {value} after the save, got {listed:?}"
                        ));
                    }
                }
            }
            // The console reads only `success` and `message` of these.
            ("POST", "/api/user/register")
            | ("PUT" | "DELETE", "/api/user/self")
            | ("PUT", "/api/user/setting" | "/api/option/")
            | ("GET", "/api/user/logout")
            | ("POST" | "PUT", "/api/user/")
            | ("DELETE", "/api/redemption/{id}/") => {}
            (m, r) => c.fail(format!("the replay has no check for {m} {r}")),
        }
    }

    /// `GET /api/user/self`: what the personal page and the third-party clients read; the
    /// saved notification type reads back.
    fn self_fields(&self, c: &mut Checks<'_>) {
        let me = self.browser.user.as_ref();
        c.eq("data.id", &json!(me.map(|u| u.id)));
        c.int("data.quota");
        c.int("data.used_quota");
        c.present("data.access_token");
        let saved = me.and_then(|u| self.notify_types.get(&u.username));
        if let (Some(parsed), Some(t)) = (setting(c), saved)
            && &parsed["notify_type"] != t
        {
            c.fail(format!(
                "data.setting: notify_type should read {t} after the save, got {}",
                parsed["notify_type"]
            ));
        }
    }

    /// Uses a fresh access token as cc-switch does (`Authorization: Bearer` plus
    /// `New-Api-User`): `GET /api/user/self` must answer `quota`, `used_quota` and `group`.
    async fn token_works(&self, c: &mut Checks<'_>, token: &str) {
        let id = self.browser.user.as_ref().map_or(-1, |u| u.id);
        let r = self
            .app
            .by_token(token, id, Method::GET, "/api/user/self", None)
            .await;
        let mut t = Checks::new(&r.body);
        if t.envelope(&r, 200, true) {
            t.int("data.quota");
            t.int("data.used_quota");
            t.string("data.group");
        }
        c.found.extend(
            t.found
                .into_iter()
                .map(|f| format!("the new token, used as cc-switch does: {f}")),
        );
    }

    /// A user list or search: the page and rows the user table reads; where the recording
    /// kept the reply, the same rows with the same displayed values.
    async fn user_page(&self, c: &mut Checks<'_>, call: &Call, path: &str) {
        page_fields(c);
        let items = c.array("data.items");
        for i in 0..items.len() {
            user_row(c, &format!("data.items.{i}"));
        }
        if let Some(size) = query_param(path, "page_size").and_then(|s| s.parse::<i64>().ok()) {
            c.eq("data.page_size", &json!(size));
        }
        let recorded = &call.response["data"];
        if !call.recorded_ok() || recorded.is_null() {
            return;
        }
        for f in ["page", "total"] {
            c.eq(&format!("data.{f}"), &recorded[f]);
        }
        let names = |v: &[Value]| -> Vec<String> {
            v.iter()
                .map(|r| r["username"].as_str().map(our_username).unwrap_or_default())
                .collect()
        };
        let recorded_items = recorded["items"].as_array().map_or(&[][..], Vec::as_slice);
        if names(items) != names(recorded_items) {
            c.fail(format!(
                "data.items: rows {:?}, the recording had {:?}",
                names(items),
                names(recorded_items)
            ));
            return;
        }
        for (i, rec) in recorded_items.iter().enumerate() {
            let at_i = format!("data.items.{i}");
            self.same_as_recorded(c, &at_i, rec, &ROW_FIELDS);
            let deleted_now = !items[i]["DeletedAt"].is_null();
            let deleted_then = !rec["DeletedAt"].is_null();
            if deleted_now != deleted_then {
                c.fail(format!(
                    "{at_i}.DeletedAt: deleted {deleted_now}, the recording had {deleted_then} ({})",
                    items[i]["DeletedAt"]
                ));
            }
            let inviter = match rec["inviter_id"].as_i64() {
                Some(0) | None => 0,
                Some(r) => self.our_id_of_recorded_user(r).await,
            };
            c.eq(&format!("{at_i}.inviter_id"), &json!(inviter));
        }
    }

    /// The displayed values of a user object equal the recorded ones (after the changes this
    /// replay made that the recording saw refused).
    fn same_as_recorded(
        &self,
        c: &mut Checks<'_>,
        at_path: &str,
        recorded: &Value,
        fields: &[&str],
    ) {
        let name = recorded["username"]
            .as_str()
            .map(our_username)
            .unwrap_or_default();
        for f in fields {
            let expected = self
                .overrides
                .get(&(name.clone(), (*f).to_owned()))
                .unwrap_or(&recorded[*f]);
            c.eq(&format!("{at_path}.{f}"), expected);
        }
    }

    /// The code list is this run's codes that are not deleted, with their statuses.
    fn code_list(&self, c: &mut Checks<'_>) {
        let items = c.array("data.items");
        for i in 0..items.len() {
            code_fields(c, &format!("data.items.{i}"));
        }
        let mut listed: Vec<(i64, i64)> = items
            .iter()
            .map(|x| {
                (
                    x["id"].as_i64().unwrap_or(-1),
                    x["status"].as_i64().unwrap_or(-1),
                )
            })
            .collect();
        listed.sort_unstable();
        let expected: Vec<(i64, i64)> = self
            .codes
            .iter()
            .filter_map(|x| x.status.map(|s| (x.id, s)))
            .collect();
        if listed != expected {
            c.fail(format!(
                "data.items: (id, status) {listed:?}, this replay's codes are {expected:?}"
            ));
        }
    }
}

/// What the console keeps from a login (`localStorage.user`): it relies on these.
const LOGIN_FIELDS: [&str; 5] = ["username", "display_name", "role", "status", "group"];
/// What the personal and wallet pages show.
const SELF_FIELDS: [&str; 8] = [
    "username",
    "display_name",
    "role",
    "status",
    "group",
    "quota",
    "used_quota",
    "aff_quota",
];
/// What the user table shows of a row (the inviter is compared by user).
const ROW_FIELDS: [&str; 10] = [
    "display_name",
    "role",
    "status",
    "group",
    "quota",
    "used_quota",
    "aff_count",
    "aff_quota",
    "aff_history_quota",
    "remark",
];
/// The user editor's text fields.
const EDIT_FORM_STRINGS: [&str; 9] = [
    "username",
    "display_name",
    "remark",
    "group",
    "email",
    "github_id",
    "oidc_id",
    "wechat_id",
    "telegram_id",
];
