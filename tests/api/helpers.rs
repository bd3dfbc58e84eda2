//! The harness: `TestApp::spawn()` and one method per endpoint.

use std::sync::Once;

use reqwest::header::{HeaderMap, SET_COOKIE};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use secrecy::SecretString;
use serde_json::{Value, json};
use tollgate_api::{Application, Settings};
use tollgate_db::SeaLedgerRepository;
use tollgate_db::testing::{Backend, ScratchDb};
use tollgate_domain::ports::LedgerRepository as _;

use crate::reply::{Reply, send};

pub const ROOT_USERNAME: &str = "root";
pub const ROOT_PASSWORD: &str = "root-password-for-tests";
pub const PASSWORD: &str = "password123";

static TRACING: Once = Once::new();

/// Logs go to stderr only when `TEST_LOG` is set.
fn init_tracing() {
    TRACING.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            tollgate_api::telemetry::init(&tollgate_api::config::LogSettings::default());
        }
    });
}

/// The database for one test: PostgreSQL when `TEST_DATABASE_URL` is set, else MySQL/MariaDB
/// when `TEST_MYSQL_URL` is set, else a file SQLite database.
pub async fn scratch_db() -> ScratchDb {
    if let Some(db) = ScratchDb::postgres_from_env()
        .await
        .expect("postgres scratch db")
    {
        return db;
    }
    if let Some(db) = ScratchDb::mysql_from_env().await.expect("mysql scratch db") {
        return db;
    }
    ScratchDb::sqlite().expect("sqlite scratch db")
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    pub backend: Backend,
    /// The settings the server started with (to start another instance on the same data).
    pub settings: Settings,
    /// Owns the scratch database; `None` for a second instance on another's database.
    _scratch: Option<ScratchDb>,
}

/// A logged-in user: its id and the `session` cookie.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub cookie: String,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
        Self::spawn_on(scratch_db().await, configure).await
    }

    /// Starts a server on `scratch` with test settings, then lets the test adjust them.
    /// Every test client is 127.0.0.1, so the per-address limits are off unless a test turns
    /// them on: `settings.rate_limits.register_per_ip_per_hour`, and New API's request limits
    /// `rate_limits.global_api` and `rate_limits.critical` (`enabled`).
    pub async fn spawn_on(scratch: ScratchDb, configure: impl FnOnce(&mut Settings)) -> TestApp {
        init_tracing();
        let mut settings = Settings {
            addr: "127.0.0.1:0".into(),
            database_url: SecretString::from(scratch.url.clone()),
            database_max_connections: 8,
            root_username: Some(ROOT_USERNAME.into()),
            root_password: Some(SecretString::from(ROOT_PASSWORD)),
            ..Settings::default()
        };
        settings.rate_limits.register_per_ip_per_hour = 0;
        settings.rate_limits.global_api.enabled = false;
        settings.rate_limits.critical.enabled = false;
        configure(&mut settings);
        let backend = scratch.backend;
        Self::start(settings, backend, Some(scratch)).await
    }

    async fn start(settings: Settings, backend: Backend, scratch: Option<ScratchDb>) -> TestApp {
        let url = secrecy::ExposeSecret::expose_secret(&settings.database_url).to_owned();
        let app = Application::build(settings.clone())
            .await
            .expect("server builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        let db = tollgate_db::connect(&url, 2)
            .await
            .expect("test connection");
        // reqwest is built without a default rustls provider (workspace Cargo.toml).
        tollgate_payments::install_crypto_provider();
        TestApp {
            address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            db,
            backend,
            settings,
            _scratch: scratch,
        }
    }

    /// A second server instance on the same database (scale-out).
    pub async fn another_instance(&self) -> TestApp {
        Self::start(self.settings.clone(), self.backend, None).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A request that carries `session`'s cookie and matching `New-Api-User` header, as the
    /// console sends it.
    pub fn as_user(
        &self,
        method: reqwest::Method,
        path: &str,
        s: &Session,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("Cookie", format!("session={}", s.cookie))
            .header("New-Api-User", s.id.to_string())
    }

    /// A request as third-party clients send it: `Authorization: Bearer <access token>` plus
    /// `New-Api-User: <id>`.
    pub fn with_token(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        user_id: i64,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("Authorization", format!("Bearer {token}"))
            .header("New-Api-User", user_id.to_string())
    }

    /// A console-style request as `s` with an optional JSON body.
    pub async fn call(
        &self,
        s: &Session,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.as_user(method, path, s);
        if let Some(b) = body {
            req = req.json(&b);
        }
        send(req).await
    }

    /// A request as a third-party client sends it (see [`Self::with_token`]).
    pub async fn by_token(
        &self,
        token: &str,
        user_id: i64,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.with_token(method, path, token, user_id);
        if let Some(b) = body {
            req = req.json(&b);
        }
        send(req).await
    }

    /// A new access token for `s` (`GET /api/user/token`, which rotates it).
    pub async fn access_token(&self, s: &Session) -> String {
        let data = self
            .call(s, reqwest::Method::GET, "/api/user/token", None)
            .await
            .success();
        data.as_str().expect("access token").to_owned()
    }

    /// A request without credentials.
    pub async fn anonymous(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.client.request(method, self.url(path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        send(req).await
    }

    /// A `/api/v1` access token for the user.
    pub async fn rest_token(&self, username: &str, password: &str) -> String {
        self.rest_tokens(username, password).await.access
    }

    pub async fn register(&self, username: &str, password: &str) -> Reply {
        send(
            self.client
                .post(self.url("/api/user/register"))
                .json(&json!({"username": username, "password": password})),
        )
        .await
    }

    pub async fn login_response(&self, username: &str, password: &str) -> Reply {
        self.anonymous(
            reqwest::Method::POST,
            "/api/user/login",
            Some(json!({"username": username, "password": password})),
        )
        .await
    }

    /// Logs in and returns the session; panics when login fails.
    pub async fn login(&self, username: &str, password: &str) -> Session {
        let reply = self.login_response(username, password).await;
        let data = reply.success();
        Session {
            id: data["id"].as_i64().expect("user id"),
            cookie: session_cookie(&reply.headers).expect("login sets a session cookie"),
        }
    }

    /// Registers and logs in a new user.
    pub async fn user(&self, username: &str) -> Session {
        self.register(username, PASSWORD).await.success();
        self.login(username, PASSWORD).await
    }

    /// Registers `name`, makes it an admin in the database (not through a route, so no audit
    /// entry) and logs it in.
    pub async fn admin(&self, name: &str) -> Session {
        self.register(name, PASSWORD).await;
        self.exec(&format!(
            "UPDATE users SET role = 10 WHERE username = '{name}'"
        ))
        .await;
        self.login(name, PASSWORD).await
    }

    /// `PUT /api/option/` as `root`.
    pub async fn set_option(&self, root: &Session, key: &str, value: Value) -> Reply {
        let body = json!({"key": key, "value": value});
        self.call(root, reqwest::Method::PUT, "/api/option/", Some(body))
            .await
    }

    /// The value of one option, as `root` reads it with `GET /api/option/`.
    pub async fn option(&self, root: &Session, key: &str) -> Value {
        let all = self
            .call(root, reqwest::Method::GET, "/api/option/", None)
            .await
            .success();
        all.as_array()
            .expect("option list")
            .iter()
            .find(|o| o["key"] == key)
            .map(|o| o["value"].clone())
            .unwrap_or_else(|| panic!("no option {key}"))
    }

    pub async fn root(&self) -> Session {
        self.login(ROOT_USERNAME, ROOT_PASSWORD).await
    }

    pub async fn get_self(&self, s: &Session) -> Reply {
        self.call(s, reqwest::Method::GET, "/api/user/self", None)
            .await
    }

    /// Creates redemption codes as `admin`; returns the reply.
    pub async fn create_codes(&self, admin: &Session, body: Value) -> Reply {
        self.call(admin, reqwest::Method::POST, "/api/redemption/", Some(body))
            .await
    }

    /// Creates one code worth `quota` and returns its key.
    pub async fn code(&self, admin: &Session, quota: i64) -> String {
        let data = self
            .create_codes(admin, json!({"name": "test", "quota": quota, "count": 1}))
            .await
            .success();
        data[0].as_str().expect("key").to_owned()
    }

    pub async fn redeem(&self, s: &Session, key: &str) -> Reply {
        self.call(
            s,
            reqwest::Method::POST,
            "/api/user/topup",
            Some(json!({"key": key})),
        )
        .await
    }

    /// Runs SQL against the app's database (for arranging states the API cannot reach yet).
    pub async fn exec(&self, sql: &str) {
        self.db
            .execute_raw(Statement::from_string(self.db.get_database_backend(), sql))
            .await
            .expect("sql");
    }

    pub async fn query_i64(&self, sql: &str) -> Vec<Vec<i64>> {
        let rows = self
            .db
            .query_all_raw(Statement::from_string(self.db.get_database_backend(), sql))
            .await
            .expect("query");
        rows.iter()
            .map(|row| {
                // BIGINT and INTEGER columns alike (PostgreSQL will not widen implicitly).
                (0..)
                    .map_while(|i| {
                        row.try_get_by_index::<i64>(i)
                            .or_else(|_| row.try_get_by_index::<i32>(i).map(i64::from))
                            .ok()
                    })
                    .collect()
            })
            .collect()
    }

    /// Asserts that every balance (`quota` and `aff_quota` of every user) equals the sum of its
    /// ledger rows, through the adapter's own check ([`LedgerRepository::imbalances`]).
    pub async fn assert_ledger_balanced(&self) {
        let imbalances = SeaLedgerRepository::new(self.db.clone())
            .imbalances()
            .await
            .expect("ledger check");
        assert_eq!(imbalances, [], "balances differ from their ledger");
    }

    /// A column name quoted for the backend, for names some backends reserve (MySQL's
    /// `before`).
    pub fn column(&self, name: &str) -> String {
        match self.backend {
            Backend::MySql => format!("`{name}`"),
            Backend::Sqlite | Backend::Postgres => format!("\"{name}\""),
        }
    }

    /// Every (user id, stored quota), by id.
    pub async fn quotas(&self) -> Vec<(i64, i64)> {
        self.query_i64("SELECT id, quota FROM users ORDER BY id")
            .await
            .into_iter()
            .map(|r| (r[0], r[1]))
            .collect()
    }
}

/// The value of the `session` cookie set by a response.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers.get_all(SET_COOKIE).iter().find_map(|v| {
        let v = v.to_str().ok()?;
        let value = v.strip_prefix("session=")?.split(';').next()?;
        (!value.is_empty()).then(|| value.to_owned())
    })
}

/// The raw `Set-Cookie` header for the session cookie.
pub fn session_set_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("session="))
        .map(str::to_owned)
}

#[tokio::test]
#[should_panic(expected = "balances differ from their ledger")]
async fn the_ledger_check_sees_a_balance_written_around_the_ledger() {
    let app = TestApp::spawn().await;
    let s = app.user("drifter").await;
    app.assert_ledger_balanced().await;
    app.exec(&format!(
        "UPDATE users SET aff_quota = aff_quota + 1 WHERE id = {}",
        s.id
    ))
    .await;
    app.assert_ledger_balanced().await;
}
