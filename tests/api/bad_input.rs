//! Issue 7.9: bad input never answers 500. Every paged route of both surfaces is driven with
//! extreme page/size values, and every string field of the request bodies and queries with
//! NUL and other C0/C1 control characters: the answer is always the surface's clear refusal
//! (compat: 200 `无效的参数`; REST: a 400 envelope) or a normal page, and nothing changes.
//! The cases are a deterministic generated table (a seeded generator adds random mixes).

use reqwest::Method;
use sea_orm::{ConnectionTrait as _, Statement};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, ROOT_PASSWORD, ROOT_USERNAME, Session, TestApp};
use crate::reply::{Reply, send};
use crate::rest_helpers::{Tokens, bearer};

/// A small deterministic generator, so every run sends the same cases.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const EXTREME_NUMBERS: [&str; 16] = [
    "9223372036854775807",
    "9223372036854775806",
    "-9223372036854775808",
    "4611686018427387904",
    "92233720368547758",
    "18446744073709551615",
    "99999999999999999999999",
    "4294967296",
    "2147483648",
    "9007199254740993",
    "0",
    "-1",
    "1e3",
    "abc",
    "",
    "%00",
];

/// Control characters, alone and embedded: NUL, other C0, DEL, C1 (NEL, CSI, APC).
const CONTROLS: [&str; 10] = [
    "\u{0}",
    "ab\u{0}cd",
    "\u{1}",
    "x\u{1b}[31m",
    "a\nb",
    "\t",
    "\u{7f}",
    "\u{85}",
    "\u{9b}",
    "\u{9f}",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Surface {
    Compat,
    Rest,
}

struct Actors {
    root: Session,
    alice: Session,
    root_rest: Tokens,
    alice_rest: Tokens,
}

async fn actors(app: &TestApp) -> Actors {
    let alice = app.user("alice").await;
    Actors {
        root: app.root().await,
        root_rest: app.rest_tokens(ROOT_USERNAME, ROOT_PASSWORD).await,
        alice_rest: app.rest_tokens("alice", PASSWORD).await,
        alice,
    }
}

/// What the server must answer: a normal success or the surface's clear refusal.
fn check(surface: Surface, reply: &Reply, refusal_required: bool, what: &str) {
    assert_ne!(reply.status, 500, "{what}: {:?}", reply.body);
    match surface {
        Surface::Compat => {
            assert_eq!(reply.status, 200, "{what}: {:?}", reply.body);
            if refusal_required || reply.body["success"] != true {
                assert_eq!(reply.body["success"], false, "{what}: {}", reply.body);
                assert_eq!(
                    reply.body["message"], "无效的参数",
                    "{what}: {}",
                    reply.body
                );
            }
        }
        Surface::Rest => {
            if refusal_required || reply.status != 200 {
                let error = reply
                    .check_err(400, "请求参数错误")
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                // A field and a reason, never the deserializer's text or the input itself.
                assert!(
                    !error.contains("line") && !error.contains("column") && !error.contains('\0'),
                    "{what}: {error}"
                );
            } else {
                reply
                    .check_ok(200, "获取成功")
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
            }
        }
    }
}

/// Everything a refused request must leave as it was.
async fn snapshot(app: &TestApp) -> Vec<String> {
    let queries = [
        "SELECT id, username, password_hash, display_name, role, status, email, user_group, \
         quota, aff_code, setting, access_token_hash, phone, avatar, remark, updated_at, \
         last_login_at, deleted_at FROM users ORDER BY id",
        "SELECT id, token_hash, revoked_at, expires_at FROM sessions ORDER BY id",
        "SELECT id, action FROM audit ORDER BY id",
        "SELECT id, code, status FROM redemptions ORDER BY id",
        "SELECT name, value FROM options ORDER BY name",
        "SELECT id, delta FROM ledger ORDER BY id",
    ];
    let mut out = Vec::new();
    for sql in queries {
        let rows = app
            .db
            .query_all_raw(Statement::from_string(app.db.get_database_backend(), sql))
            .await
            .expect("snapshot query");
        for row in rows {
            let cells: Vec<String> = (0..)
                .map_while(|i| {
                    if let Ok(v) = row.try_get_by_index::<Option<String>>(i) {
                        Some(format!("{v:?}"))
                    } else if let Ok(v) = row.try_get_by_index::<Option<i64>>(i) {
                        Some(format!("{v:?}"))
                    } else {
                        row.try_get_by_index::<Option<i32>>(i)
                            .ok()
                            .map(|v| format!("{v:?}"))
                    }
                })
                .collect();
            out.push(format!("{sql:.20}: {}", cells.join("|")));
        }
    }
    out
}

fn compat(
    app: &TestApp,
    s: Option<&Session>,
    method: Method,
    path: &str,
) -> reqwest::RequestBuilder {
    match s {
        Some(s) => app.as_user(method, path, s),
        None => app.client.request(method, app.url(path)),
    }
}

#[tokio::test]
async fn every_paged_route_survives_extreme_page_and_size_values() {
    let app = TestApp::spawn().await;
    let a = actors(&app).await;
    let compat_routes = [
        ("/api/user/", "p", "page_size"),
        ("/api/user/", "p", "ps"),
        ("/api/user/search", "p", "size"),
        ("/api/redemption/", "p", "page_size"),
    ];
    let rest_routes = [
        ("/api/v1/admin/users", "page", "page_size"),
        ("/api/v1/admin/audit", "page", "page_size"),
    ];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for n in EXTREME_NUMBERS {
        pairs.push((n, "10"));
        pairs.push(("1", n));
    }
    for _ in 0..24 {
        pairs.push((rng.pick(&EXTREME_NUMBERS), rng.pick(&EXTREME_NUMBERS)));
    }
    let before = snapshot(&app).await;
    for (path, page, size) in compat_routes {
        for (p, s) in &pairs {
            let url = format!("{path}?{page}={p}&{size}={s}");
            let reply = send(compat(&app, Some(&a.root), Method::GET, &url)).await;
            check(Surface::Compat, &reply, false, &url);
            if reply.body["success"] == true {
                assert!(
                    reply.body["data"]["items"].is_array(),
                    "{url}: {}",
                    reply.body
                );
            }
        }
    }
    for (path, page, size) in rest_routes {
        for (p, s) in &pairs {
            let url = format!("{path}?{page}={p}&{size}={s}");
            let reply = send(bearer(&app, Method::GET, &url, &a.root_rest.access)).await;
            check(Surface::Rest, &reply, false, &url);
        }
    }
    // The reproduction: a page far beyond the data is an empty page, not a panic.
    let reply = send(bearer(
        &app,
        Method::GET,
        "/api/v1/admin/audit?page=9223372036854775807",
        &a.root_rest.access,
    ))
    .await;
    let data = reply.ok(200, "获取成功");
    assert_eq!(data["entries"], json!([]));
    // Reading changed nothing (the audit log included).
    assert_eq!(snapshot(&app).await, before);
}

/// One request of the table: the surface, who sends it, and how to send a body or query in
/// which `field` carries `value`.
struct Case {
    surface: Surface,
    name: &'static str,
    fields: &'static [&'static str],
    /// Fields that legitimately take line breaks and tabs.
    multiline: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        surface: Surface::Compat,
        name: "POST /api/user/register",
        fields: &[
            "username",
            "password",
            "email",
            "aff_code",
            "verification_code",
        ],
        multiline: &[],
    },
    Case {
        surface: Surface::Compat,
        name: "POST /api/user/login",
        fields: &["username", "password"],
        multiline: &[],
    },
    Case {
        surface: Surface::Compat,
        name: "POST /api/user/",
        fields: &["username", "password", "display_name"],
        multiline: &[],
    },
    Case {
        surface: Surface::Compat,
        name: "PUT /api/user/",
        fields: &["username", "display_name", "password", "group", "remark"],
        multiline: &[],
    },
    Case {
        surface: Surface::Compat,
        name: "POST /api/user/manage",
        fields: &["action"],
        multiline: &[],
    },
    Case {
        surface: Surface::Compat,
        name: "PUT /api/user/self",
        fields: &[
            "display_name",
            "password",
            "original_password",
            "sidebar_modules",
        ],
        multiline: &[],
    },
    Case {
        surface: Surface::Compat,
        name: "PUT /api/user/setting",
        fields: &[
            "notify_type",
            "webhook_url",
            "webhook_secret",
            "notification_email",
            "bark_url",
            "gotify_url",
            "gotify_token",
        ],
        multiline: &[],
    },
    Case {
        surface: Surface::Compat,
        name: "POST /api/user/topup",
        fields: &["key"],
        multiline: &[],
    },
    Case {
        surface: Surface::Compat,
        name: "POST /api/user/aff_transfer",
        fields: &["quota"],
        multiline: &[],
    },
    Case {
        surface: Surface::Compat,
        name: "PUT /api/option/",
        fields: &["key", "value"],
        multiline: &["value"],
    },
    Case {
        surface: Surface::Compat,
        name: "POST /api/redemption/",
        fields: &["name"],
        multiline: &[],
    },
    Case {
        surface: Surface::Compat,
        name: "GET /api/user/search",
        fields: &["keyword", "group"],
        multiline: &[],
    },
    Case {
        surface: Surface::Compat,
        name: "GET /api/user/",
        fields: &["p", "page_size"],
        multiline: &[],
    },
    Case {
        surface: Surface::Rest,
        name: "POST /api/v1/auth/register",
        fields: &["username", "password", "email", "aff_code"],
        multiline: &[],
    },
    Case {
        surface: Surface::Rest,
        name: "POST /api/v1/auth/login",
        fields: &["username", "password"],
        multiline: &[],
    },
    Case {
        surface: Surface::Rest,
        name: "POST /api/v1/auth/refresh",
        fields: &["refresh_token"],
        multiline: &[],
    },
    Case {
        surface: Surface::Rest,
        name: "PUT /api/v1/users/profile",
        fields: &["username", "email", "phone", "avatar"],
        multiline: &[],
    },
    Case {
        surface: Surface::Rest,
        name: "PUT /api/v1/users/password",
        fields: &["old_password", "new_password", "confirm_password"],
        multiline: &[],
    },
    Case {
        surface: Surface::Rest,
        name: "PUT /api/v1/admin/users/{alice}/status",
        fields: &["status"],
        multiline: &[],
    },
    Case {
        surface: Surface::Rest,
        name: "GET /api/v1/admin/users",
        fields: &["search", "match"],
        multiline: &[],
    },
    Case {
        surface: Surface::Rest,
        name: "GET /api/v1/admin/audit",
        fields: &["action"],
        multiline: &[],
    },
];

/// A plausible body for the route, so that only `field` is wrong.
fn base_body(name: &str, alice: i64) -> Value {
    match name {
        "POST /api/user/register" | "POST /api/v1/auth/register" => {
            json!({"username": "mallory", "password": PASSWORD})
        }
        "POST /api/user/login" | "POST /api/v1/auth/login" => {
            json!({"username": "alice", "password": PASSWORD})
        }
        "POST /api/user/" => {
            json!({"username": "created", "password": PASSWORD, "display_name": "C"})
        }
        "PUT /api/user/" => {
            json!({"id": alice, "username": "alice", "display_name": "A", "group": "default"})
        }
        "POST /api/user/manage" => json!({"id": alice, "action": "disable"}),
        "PUT /api/user/self" => json!({"display_name": "Alice"}),
        "PUT /api/user/setting" => json!({"notify_type": "email"}),
        "POST /api/user/topup" => json!({"key": "nope"}),
        "POST /api/user/aff_transfer" => json!({"quota": 1}),
        "PUT /api/option/" => json!({"key": "RegisterEnabled", "value": "true"}),
        "POST /api/redemption/" => json!({"name": "n", "quota": 1, "count": 1}),
        "PUT /api/v1/users/profile" => json!({"username": "alice2"}),
        "PUT /api/v1/users/password" => {
            json!({"old_password": PASSWORD, "new_password": "newpassword1", "confirm_password": "newpassword1"})
        }
        "PUT /api/v1/admin/users/{alice}/status" => json!({"status": 0}),
        _ => json!({}),
    }
}

fn request(
    app: &TestApp,
    a: &Actors,
    case: &Case,
    field: &str,
    value: &str,
) -> reqwest::RequestBuilder {
    let (method, path) = case.name.split_once(' ').unwrap();
    let method: Method = method.parse().unwrap();
    let path = path.replace("{alice}", &a.alice.id.to_string());
    let admin = path.starts_with("/api/user/search")
        || path == "/api/user/"
        || path.starts_with("/api/user/manage")
        || path.starts_with("/api/option")
        || path.starts_with("/api/redemption")
        || path.starts_with("/api/v1/admin");
    let public =
        path.ends_with("/register") || path.ends_with("/login") || path.ends_with("/refresh");
    let path = if method == Method::GET {
        format!("{path}?{field}={}", percent_encode(value))
    } else {
        path
    };
    let builder = match (case.surface, public, admin) {
        (Surface::Compat, true, _) => compat(app, None, method.clone(), &path),
        (Surface::Compat, false, true) => compat(app, Some(&a.root), method.clone(), &path),
        (Surface::Compat, false, false) => compat(app, Some(&a.alice), method.clone(), &path),
        (Surface::Rest, true, _) => app.client.request(method.clone(), app.url(&path)),
        (Surface::Rest, false, true) => bearer(app, method.clone(), &path, &a.root_rest.access),
        (Surface::Rest, false, false) => bearer(app, method.clone(), &path, &a.alice_rest.access),
    };
    if method == Method::GET {
        builder
    } else {
        let mut body = base_body(case.name, a.alice.id);
        body[field] = json!(value);
        builder.json(&body)
    }
}

/// Percent-encodes every byte outside the unreserved set (RFC 3986).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn control_characters_in_any_string_field_are_refused_at_the_edge() {
    let app = TestApp::spawn().await;
    let a = actors(&app).await;
    let before = snapshot(&app).await;
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut sent = 0;
    for case in CASES {
        for field in case.fields {
            // Every control sample, plus a few generated mixes of printable text around one.
            let mut values: Vec<String> = CONTROLS.iter().map(|c| (*c).to_owned()).collect();
            for _ in 0..2 {
                let c = rng.pick(&CONTROLS);
                values.push(format!(
                    "{}{c}{}",
                    rng.pick(&["a", "alice", "x@y.z", "1"]),
                    rng.pick(&["", "b", "9"])
                ));
            }
            for value in values {
                if case.multiline.contains(field)
                    && value
                        .chars()
                        .all(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r'))
                {
                    continue;
                }
                let what = format!("{} {field}={value:?}", case.name);
                let reply = send(request(&app, &a, case, field, &value)).await;
                check(case.surface, &reply, true, &what);
                sent += 1;
            }
        }
    }
    assert!(sent > 600, "only {sent} requests");
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused request changed something"
    );
}

#[tokio::test]
async fn line_breaks_stay_allowed_where_a_field_is_multiline_text() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let value = "{\n\t\"default\": 1,\r\n\t\"vip\": 1\n}";
    let reply = app
        .call(
            &root,
            Method::PUT,
            "/api/option/",
            Some(json!({"key": "GroupRatio", "value": value})),
        )
        .await;
    assert_eq!(reply["success"], true, "{reply}");
}
