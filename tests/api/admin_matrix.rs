//! The hierarchy as a matrix: every admin operation of both surfaces, by every kind of actor,
//! on every kind of target. Exactly the allowed cells succeed; refused cells change nothing.
//!
//! The expected verdicts below are written from the rules (an actor may read or change a
//! target only if its role is higher, only root promotes, root is protected, one may read
//! oneself, root may also edit its own row), not from the implementation.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, ROOT_PASSWORD, ROOT_USERNAME, Session, TestApp};
use crate::reply::send;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Actor {
    Anonymous,
    User,
    Admin,
    OtherAdmin,
    Root,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    User,
    Admin,
    Root,
    Itself,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    View,
    Update,
    Disable,
    Enable,
    Delete,
    HardDelete,
    Promote,
    Demote,
    RestDisable,
    RestEnable,
}

const ACTORS: [Actor; 5] = [
    Actor::Anonymous,
    Actor::User,
    Actor::Admin,
    Actor::OtherAdmin,
    Actor::Root,
];
const TARGETS: [Target; 4] = [Target::User, Target::Admin, Target::Root, Target::Itself];
const OPS: [Op; 10] = [
    Op::View,
    Op::Update,
    Op::Disable,
    Op::Enable,
    Op::Delete,
    Op::HardDelete,
    Op::Promote,
    Op::Demote,
    Op::RestDisable,
    Op::RestEnable,
];

fn expected(actor: Actor, target: Target, op: Op) -> bool {
    let is_admin = matches!(actor, Actor::Admin | Actor::OtherAdmin);
    match (actor, target) {
        (Actor::Anonymous | Actor::User, _) => false,
        // Root edits its own row (issue 11); role and status stay (root_self_edit.rs).
        (Actor::Root, Target::Itself | Target::Root) => matches!(op, Op::View | Op::Update),
        (_, Target::Itself) => op == Op::View,
        (_, Target::Root) => actor == Actor::Root && op == Op::View,
        (_, Target::Admin) if is_admin => false,
        (Actor::Root, Target::Admin) => op != Op::Promote,
        (_, Target::User) => match op {
            Op::Promote => actor == Actor::Root,
            Op::Demote => false,
            _ => true,
        },
        _ => false,
    }
}

struct Actors {
    user: Session,
    admin: Session,
    other_admin: Session,
    root: Session,
    jwt: std::collections::HashMap<&'static str, String>,
}

/// A user created directly in the database (fast fixture), with `role`; returns its id.
async fn insert_user(app: &TestApp, name: &str, role: i32) -> i64 {
    app.exec(&format!(
        "INSERT INTO users (username, password_hash, display_name, role, status, user_group, quota, \
         used_quota, request_count, aff_count, aff_quota, aff_history_quota, setting, created_at, updated_at) \
         VALUES ('{name}', '', '{name}', {role}, 1, 'default', 0, 0, 0, 0, 0, 0, '{{}}', 1, 1)"
    ))
    .await;
    app.query_i64(&format!("SELECT id FROM users WHERE username = '{name}'"))
        .await[0][0]
}

/// (exists, role, status, deleted, quota, display name changed)
async fn snapshot(app: &TestApp, id: i64) -> Vec<i64> {
    let rows = app
        .query_i64(&format!("SELECT COUNT(*) FROM users WHERE id = {id}"))
        .await;
    let mut out = vec![rows[0][0]];
    out.extend(
        app.query_i64(&format!(
            "SELECT role, status, COALESCE(deleted_at, 0), quota FROM users WHERE id = {id}"
        ))
        .await
        .into_iter()
        .next()
        .unwrap_or_default(),
    );
    out
}

async fn perform(
    app: &TestApp,
    actors: &Actors,
    actor: Actor,
    op: Op,
    id: i64,
    quota: i64,
) -> (u16, Value) {
    let session = match actor {
        Actor::Anonymous => None,
        Actor::User => Some(&actors.user),
        Actor::Admin => Some(&actors.admin),
        Actor::OtherAdmin => Some(&actors.other_admin),
        Actor::Root => Some(&actors.root),
    };
    let compat = |method: Method, path: String| match session {
        Some(s) => app.as_user(method, &path, s),
        None => app.client.request(method, app.url(&path)),
    };
    let rest = |status: i32| {
        let req = app
            .client
            .put(app.url(&format!("/api/v1/admin/users/{id}/status")))
            .json(&json!({"status": status}));
        match actor {
            Actor::Anonymous => req,
            Actor::User => req.bearer_auth(&actors.jwt["user"]),
            Actor::Admin => req.bearer_auth(&actors.jwt["admin"]),
            Actor::OtherAdmin => req.bearer_auth(&actors.jwt["other_admin"]),
            Actor::Root => req.bearer_auth(&actors.jwt["root"]),
        }
    };
    let manage = |action: &str| {
        compat(Method::POST, "/api/user/manage".into()).json(&json!({"id": id, "action": action}))
    };
    let req = match op {
        Op::View => compat(Method::GET, format!("/api/user/{id}")),
        Op::Update => compat(Method::PUT, "/api/user/".into())
            .json(&json!({"id": id, "quota": quota + 1234, "display_name": "changed"})),
        Op::Disable => manage("disable"),
        Op::Enable => manage("enable"),
        Op::Delete => manage("delete"),
        Op::Promote => manage("promote"),
        Op::Demote => manage("demote"),
        Op::HardDelete => compat(Method::DELETE, format!("/api/user/{id}")),
        Op::RestDisable => rest(0),
        Op::RestEnable => rest(1),
    };
    let res = send(req).await;
    let status = res.status;
    (status, res.body)
}

fn succeeded(op: Op, status: u16, body: &Value) -> bool {
    match op {
        Op::RestDisable | Op::RestEnable => status == 200,
        _ => status == 200 && body["success"] == true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_the_allowed_cells_succeed_and_refused_ones_change_nothing() {
    let app = TestApp::spawn().await;
    for (name, role) in [("m_user", 1), ("m_admin", 10), ("m_admin2", 10)] {
        app.register(name, PASSWORD).await;
        app.exec(&format!(
            "UPDATE users SET role = {role} WHERE username = '{name}'"
        ))
        .await;
    }
    let actors = Actors {
        user: app.login("m_user", PASSWORD).await,
        admin: app.login("m_admin", PASSWORD).await,
        other_admin: app.login("m_admin2", PASSWORD).await,
        root: app.root().await,
        jwt: [
            ("user", app.rest_token("m_user", PASSWORD).await),
            ("admin", app.rest_token("m_admin", PASSWORD).await),
            ("other_admin", app.rest_token("m_admin2", PASSWORD).await),
            ("root", app.rest_token(ROOT_USERNAME, ROOT_PASSWORD).await),
        ]
        .into(),
    };
    let mut failures = Vec::new();
    let mut n = 0;
    for actor in ACTORS {
        for target in TARGETS {
            for op in OPS {
                n += 1;
                let id = match (target, actor) {
                    (Target::User, _) => insert_user(&app, &format!("tu{n}"), 1).await,
                    (Target::Admin, _) => insert_user(&app, &format!("ta{n}"), 10).await,
                    (Target::Root, _) => actors.root.id,
                    (Target::Itself, Actor::User) => actors.user.id,
                    (Target::Itself, Actor::Admin) => actors.admin.id,
                    (Target::Itself, Actor::OtherAdmin) => actors.other_admin.id,
                    (Target::Itself, Actor::Root) => actors.root.id,
                    (Target::Itself, Actor::Anonymous) => {
                        insert_user(&app, &format!("ti{n}"), 1).await
                    }
                };
                if matches!(op, Op::Enable | Op::RestEnable)
                    && !matches!(target, Target::Root | Target::Itself)
                {
                    // Give enable something to change.
                    app.exec(&format!("UPDATE users SET status = 2 WHERE id = {id}"))
                        .await;
                }
                let before = snapshot(&app, id).await;
                let (status, body) = perform(&app, &actors, actor, op, id, before[4]).await;
                let ok = succeeded(op, status, &body);
                let after = snapshot(&app, id).await;
                let want = expected(actor, target, op);
                if ok != want {
                    failures.push(format!(
                        "{actor:?} {op:?} {target:?}: expected {want}, got {status} {body}"
                    ));
                    continue;
                }
                if !want {
                    if before != after {
                        failures.push(format!("{actor:?} {op:?} {target:?}: refused but changed {before:?} -> {after:?}"));
                    }
                    continue;
                }
                // Allowed: the change happened.
                let changed = match op {
                    Op::View => body["data"]["id"] == id,
                    Op::Update => after[4] == before[4] + 1234,
                    Op::Disable | Op::RestDisable => after[2] == 2,
                    Op::Enable | Op::RestEnable => after[2] == 1,
                    Op::Delete => after[3] != 0,
                    Op::HardDelete => after[0] == 0,
                    Op::Promote => after[1] == 10,
                    Op::Demote => after[1] == 1,
                };
                if !changed {
                    failures.push(format!(
                        "{actor:?} {op:?} {target:?}: allowed but {before:?} -> {after:?} {body}"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every admin quota change went through the ledger.
    app.assert_ledger_balanced().await;
}

#[test]
fn the_expected_table_has_the_cells_the_rules_allow() {
    // Guard against a table that allows nothing (or everything): count the allowed cells.
    let allowed = ACTORS
        .iter()
        .flat_map(|a| {
            TARGETS
                .iter()
                .flat_map(move |t| OPS.iter().map(move |o| (*a, *t, *o)))
        })
        .filter(|(a, t, o)| expected(*a, *t, *o))
        .count();
    // Admin and other admin: 8 ops on users + view self = 9 each; root: 9 on users, 9 on
    // admins, view and update self and root (the same user here) = 22.
    assert_eq!(allowed, 9 + 9 + 22);
}
