//! Issue 7.1: concurrent, conflicting admin writes on one user. For every round, each call
//! either succeeded and its effect is in the final state, or was refused (with the "changed
//! meanwhile" message, or a refusal the state it met justifies); never two successes with one
//! effect lost. The audit's before/after values chain from the initial to the final state, and
//! an admin's write never lands on a user that had become an admin.

use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, ROOT_PASSWORD, ROOT_USERNAME, Session, TestApp};
use crate::reply::send;

const ROUNDS: usize = 16;

const CHANGED_MEANWHILE: &str = "用户已被其他操作修改，请刷新后重试";
const NO_PERMISSION_UPDATE: &str = "无权更新同权限等级或更高权限等级的用户信息";
const USER_NOT_FOUND: &str = "用户不存在";

/// The state of a user row that admin writes change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    role: i64,
    status: i64,
    deleted: bool,
    quota: i64,
}

const INITIAL: State = State {
    role: 1,
    status: 1,
    deleted: false,
    quota: 0,
};

/// One reply of the compat surface: `Ok(())` or `Err(message)`.
type Outcome = Result<(), String>;

struct Race {
    app: TestApp,
    root: Session,
    adm: Session,
    root_token: String,
}

impl Race {
    async fn start() -> Race {
        let app = TestApp::spawn().await;
        let root = app.root().await;
        app.register("adm", PASSWORD).await;
        app.exec("UPDATE users SET role = 10 WHERE username = 'adm'")
            .await;
        let adm = app.login("adm", PASSWORD).await;
        let root_token = app.rest_token(ROOT_USERNAME, ROOT_PASSWORD).await;
        Race {
            app,
            root,
            adm,
            root_token,
        }
    }

    async fn target(&self, name: &str) -> i64 {
        let reg = self.app.register(name, PASSWORD).await;
        assert_eq!(reg["success"], true, "{reg}");
        self.app
            .query_i64(&format!("SELECT id FROM users WHERE username = '{name}'"))
            .await[0][0]
    }

    fn manage(&self, s: &Session, id: i64, action: &str) -> RequestBuilder {
        self.app
            .as_user(Method::POST, "/api/user/manage", s)
            .json(&json!({"id": id, "action": action}))
    }

    fn put_quota(&self, s: &Session, id: i64, quota: i64) -> RequestBuilder {
        self.app
            .as_user(Method::PUT, "/api/user/", s)
            .json(&json!({"id": id, "quota": quota, "role": 1, "status": 1}))
    }

    async fn state(&self, id: i64) -> State {
        let row = &self
            .app
            .query_i64(&format!(
                "SELECT role, status, CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END, quota \
                 FROM users WHERE id = {id}"
            ))
            .await[0];
        State {
            role: row[0],
            status: row[1],
            deleted: row[2] == 1,
            quota: row[3],
        }
    }

    /// The admin-write audit entries about `id`, oldest first.
    async fn audit(&self, id: i64) -> Vec<Value> {
        let res = send(
            self.app
                .client
                .get(
                    self.app
                        .url(&format!("/api/v1/admin/audit?target={id}&page_size=100")),
                )
                .bearer_auth(&self.root_token),
        )
        .await;
        let mut entries: Vec<Value> = res["data"]["entries"]
            .as_array()
            .unwrap_or_else(|| panic!("audit listing: {res}"))
            .iter()
            .filter(|e| {
                e["action"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("user.") && a != "user.created")
                    || e["action"] == "quota.changed"
            })
            .cloned()
            .collect();
        entries.sort_by_key(|e| e["id"].as_i64());
        entries
    }

    /// Replays the audit chain from [`INITIAL`]: every "before" is the state the previous
    /// entry left, an admin's entry only lands on a common user, and the chain ends in
    /// `last`. Returns the number of entries.
    async fn check_chain(&self, id: i64, last: State, round: &str) -> usize {
        let entries = self.audit(id).await;
        let mut s = INITIAL;
        for e in &entries {
            if e["actor_id"] == self.adm.id {
                assert_eq!(
                    s.role, 1,
                    "{round}: the admin wrote to an admin: {entries:#?}"
                );
            }
            if e["action"] == "quota.changed" {
                assert_eq!(e["before"]["quota"], s.quota, "{round}: {entries:#?}");
                s.quota = e["after"]["quota"].as_i64().unwrap();
            } else {
                assert_eq!(
                    (&e["before"]["role"], &e["before"]["status"]),
                    (&json!(s.role), &json!(s.status)),
                    "{round}: a before value is not the state replaced: {entries:#?}"
                );
                s.role = e["after"]["role"].as_i64().unwrap();
                s.status = e["after"]["status"].as_i64().unwrap();
                s.deleted |= e["after"]["deleted"] == true;
            }
        }
        assert_eq!(
            s, last,
            "{round}: the audit chain does not end in the final state"
        );
        entries.len()
    }
}

async fn outcome(req: RequestBuilder) -> Outcome {
    let body = send(req).await;
    if body["success"] == true {
        Ok(())
    } else {
        Err(body["message"].as_str().unwrap_or_default().to_owned())
    }
}

/// Sends both requests at the same moment.
async fn race(a: RequestBuilder, b: RequestBuilder) -> (Outcome, Outcome) {
    tokio::join!(outcome(a), outcome(b))
}

/// A refusal is allowed only with one of `allowed` messages.
#[track_caller]
fn refused_with(o: &Outcome, allowed: &[&str], round: &str) {
    if let Err(m) = o {
        assert!(
            allowed.contains(&m.as_str()),
            "{round}: unexpected refusal {m:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn root_promoting_while_an_admin_disables_never_loses_a_change() {
    let r = Race::start().await;
    for i in 0..ROUNDS {
        let round = format!("promote/disable round {i}");
        let id = r.target(&format!("pd{i}")).await;
        let (promote, disable) = race(
            r.manage(&r.root, id, "promote"),
            r.manage(&r.adm, id, "disable"),
        )
        .await;
        let last = r.state(id).await;
        refused_with(&promote, &[CHANGED_MEANWHILE], &round);
        // The admin may also meet an admin already (promote committed before its read).
        refused_with(&disable, &[CHANGED_MEANWHILE, NO_PERMISSION_UPDATE], &round);
        assert!(promote.is_ok() || disable.is_ok(), "{round}: both refused");
        assert_eq!(
            promote.is_ok(),
            last.role == 10,
            "{round}: {promote:?} {last:?}"
        );
        assert_eq!(
            disable.is_ok(),
            last.status == 2,
            "{round}: {disable:?} {last:?}"
        );
        let successes = usize::from(promote.is_ok()) + usize::from(disable.is_ok());
        assert_eq!(r.check_chain(id, last, &round).await, successes, "{round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admin_disabling_while_root_deletes_never_loses_a_change() {
    let r = Race::start().await;
    for i in 0..ROUNDS {
        let round = format!("disable/delete round {i}");
        let id = r.target(&format!("dd{i}")).await;
        let (disable, delete) = race(
            r.manage(&r.adm, id, "disable"),
            r.manage(&r.root, id, "delete"),
        )
        .await;
        let last = r.state(id).await;
        // A deleted user is not found by a later read.
        refused_with(&disable, &[CHANGED_MEANWHILE, USER_NOT_FOUND], &round);
        refused_with(&delete, &[CHANGED_MEANWHILE], &round);
        assert!(disable.is_ok() || delete.is_ok(), "{round}: both refused");
        assert_eq!(delete.is_ok(), last.deleted, "{round}: {delete:?} {last:?}");
        assert_eq!(
            disable.is_ok(),
            last.status == 2,
            "{round}: {disable:?} {last:?}"
        );
        let successes = usize::from(disable.is_ok()) + usize::from(delete.is_ok());
        assert_eq!(r.check_chain(id, last, &round).await, successes, "{round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admin_quota_edit_never_lands_on_a_user_root_just_promoted() {
    let r = Race::start().await;
    for i in 0..ROUNDS {
        let round = format!("quota/promote round {i}");
        let id = r.target(&format!("qp{i}")).await;
        let quota = 1000 + i64::try_from(i).unwrap();
        let (edit, promote) = race(
            r.put_quota(&r.adm, id, quota),
            r.manage(&r.root, id, "promote"),
        )
        .await;
        let last = r.state(id).await;
        refused_with(&edit, &[CHANGED_MEANWHILE, NO_PERMISSION_UPDATE], &round);
        // The quota edit changes neither role nor status: promote is never refused.
        assert_eq!(promote, Ok(()), "{round}");
        assert_eq!(last.role, 10, "{round}");
        assert_eq!(
            edit.is_ok(),
            last.quota == quota,
            "{round}: {edit:?} {last:?}"
        );
        let successes = usize::from(edit.is_ok()) + 1;
        assert_eq!(r.check_chain(id, last, &round).await, successes, "{round}");
    }
}

/// The REST surface answers a lost race with 409 and the same message.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rest_status_change_that_lost_a_race_answers_409() {
    let r = Race::start().await;
    let adm_token = r.app.rest_token("adm", PASSWORD).await;
    for i in 0..ROUNDS {
        let round = format!("rest disable/promote round {i}");
        let id = r.target(&format!("rp{i}")).await;
        let disable = r
            .app
            .client
            .put(r.app.url(&format!("/api/v1/admin/users/{id}/status")))
            .bearer_auth(&adm_token)
            .json(&json!({"status": 0}));
        let rest = async {
            let res = send(disable).await;
            let status = res.status;
            (status, res.body)
        };
        let ((status, body), promote) =
            tokio::join!(rest, outcome(r.manage(&r.root, id, "promote")));
        let last = r.state(id).await;
        refused_with(&promote, &[CHANGED_MEANWHILE], &round);
        match status {
            200 => assert_eq!(last.status, 2, "{round}"),
            409 => {
                assert_eq!(
                    (&body["code"], &body["message"]),
                    (&json!(409), &json!(CHANGED_MEANWHILE)),
                    "{round}: {body}"
                );
                assert_eq!(last.status, 1, "{round}");
            }
            // The admin met an admin: promote committed before its read.
            403 => assert_eq!(last.status, 1, "{round}"),
            other => panic!("{round}: unexpected {other} {body}"),
        }
        assert_eq!(
            promote.is_ok(),
            last.role == 10,
            "{round}: {promote:?} {last:?}"
        );
        let successes = usize::from(promote.is_ok()) + usize::from(status == 200);
        assert_eq!(r.check_chain(id, last, &round).await, successes, "{round}");
    }
}
