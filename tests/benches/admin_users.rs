//! Latency of the admin user list and search on 100 000 users, through the real server.
//!
//! `cargo bench -p tollgate-tests --bench admin_users` runs it on a temporary SQLite file, and
//! also on PostgreSQL / MySQL when `TEST_DATABASE_URL` / `TEST_MYSQL_URL` name a server (a
//! scratch database is created there and dropped at the end). For each backend it starts the
//! server in-process on a free port, seeds the users, logs in as root on both surfaces, warms
//! up, then times sequential requests (one client, one request in flight) of each case and
//! prints p50/p95/p99/max and requests per second.
//!
//! Environment: `BENCH_USERS` (default 100000), `BENCH_REQUESTS` per case (default 200),
//! `BENCH_WARMUP` per case (default 20).

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reqwest::{Client, RequestBuilder, StatusCode};
use sea_orm::{ConnectionTrait as _, DatabaseConnection, Statement};
use secrecy::SecretString;
use serde_json::{Value, json};
use tollgate_api::{Application, Settings};
use tollgate_db::testing::{Backend, ScratchDb};

const ROOT_USERNAME: &str = "root";
const ROOT_PASSWORD: &str = "root-password-for-the-benchmark";
/// Seeded usernames are `u1` ..= `u100000`.
const PREFIX: &str = "u";
/// Matches u4242 and u42420..=u42429 (11 users), as a prefix and as a substring.
const KEYWORD: &str = "u4242";

/// One timed request shape.
struct Case {
    name: &'static str,
    path: String,
    auth: Auth,
}

#[derive(Clone, Copy)]
enum Auth {
    /// The console's session cookie plus `New-Api-User`.
    Compat,
    /// `Authorization: Bearer <access token>`.
    Rest,
}

struct Credentials {
    cookie: String,
    user_id: i64,
    access_token: String,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "compat list, page 1",
            path: "/api/user/?p=1&page_size=10".into(),
            auth: Auth::Compat,
        },
        Case {
            name: "compat list, page 5000",
            path: "/api/user/?p=5000&page_size=10".into(),
            auth: Auth::Compat,
        },
        Case {
            name: "compat search (contains)",
            path: format!("/api/user/search?keyword={KEYWORD}"),
            auth: Auth::Compat,
        },
        Case {
            name: "REST search (prefix)",
            path: format!("/api/v1/admin/users?page=1&page_size=10&search={KEYWORD}"),
            auth: Auth::Rest,
        },
        Case {
            name: "REST search (prefix 'u1', 11 112 hits)",
            path: "/api/v1/admin/users?page=1&page_size=10&search=u1".into(),
            auth: Auth::Rest,
        },
    ]
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let users = env_number("BENCH_USERS", 100_000);
    let requests = env_number("BENCH_REQUESTS", 200).max(1);
    let warmup = env_number("BENCH_WARMUP", 20);
    println!(
        "admin_users: {users} users, {requests} timed requests per case after {warmup} warm-up \
         requests, sequential, {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let mut scratches = vec![ScratchDb::sqlite()?];
    scratches.extend(ScratchDb::postgres_from_env().await?);
    scratches.extend(ScratchDb::mysql_from_env().await?);
    for scratch in scratches {
        let backend = scratch.backend;
        let outcome = bench_backend(&scratch, users, requests, warmup).await;
        // The server's pool is still open; the drop ends its sessions (PostgreSQL: FORCE).
        let dropped = scratch.drop_database().await;
        outcome.with_context(|| format!("benchmark on {backend}"))?;
        dropped.with_context(|| format!("dropping the {backend} scratch database"))?;
    }
    Ok(())
}

async fn bench_backend(
    scratch: &ScratchDb,
    users: usize,
    requests: usize,
    warmup: usize,
) -> anyhow::Result<()> {
    let backend = scratch.backend;
    println!("\n## {backend}");
    let settings = Settings {
        addr: "127.0.0.1:0".into(),
        database_url: SecretString::from(scratch.url.clone()),
        database_max_connections: 8,
        root_username: Some(ROOT_USERNAME.into()),
        root_password: Some(SecretString::from(ROOT_PASSWORD)),
        ..Settings::default()
    };
    let app = Application::build(settings)
        .await
        .context("building the server")?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let server = tokio::spawn(app.run_until_stopped());

    let db = tollgate_db::connect(&scratch.url, 2).await?;
    let outcome = seed_and_measure(&db, backend, &base, users, requests, warmup).await;
    db.close().await.ok();
    server.abort();
    outcome
}

async fn seed_and_measure(
    db: &DatabaseConnection,
    backend: Backend,
    base: &str,
    users: usize,
    requests: usize,
    warmup: usize,
) -> anyhow::Result<()> {
    // Root's argon2 hash, so every seeded user has a real hash (of the root password).
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT password_hash FROM users WHERE username = '{ROOT_USERNAME}'"),
        ))
        .await?
        .context("the root user is missing")?;
    let hash: String = row.try_get("", "password_hash")?;

    let started = Instant::now();
    let seeded = tollgate_db::seed::seed_users(db, users as u64, PREFIX, &hash).await?;
    let seeding = started.elapsed();
    println!(
        "seeded {seeded} users in {:.1} s ({:.0} rows/s)",
        seeding.as_secs_f64(),
        seeded as f64 / seeding.as_secs_f64()
    );
    // Fresh statistics, as autovacuum / InnoDB would gather after a bulk load. SQLite gathers
    // none by itself and the server does not run ANALYZE, so it is left without.
    match backend {
        Backend::Postgres => db.execute_unprepared("ANALYZE users").await.map(drop)?,
        Backend::MySql => db
            .execute_unprepared("ANALYZE TABLE users")
            .await
            .map(drop)?,
        Backend::Sqlite => {}
    }

    // reqwest is built without a default rustls provider (workspace Cargo.toml).
    tollgate_payments::install_crypto_provider();
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let credentials = login(&client, base).await?;

    println!(
        "\n| case | hits | p50 ms | p95 ms | p99 ms | max ms | req/s |\n|---|---:|---:|---:|---:|---:|---:|"
    );
    for case in cases() {
        let request = || {
            let req = client.get(format!("{base}{}", case.path));
            authorize(req, case.auth, &credentials)
        };
        // One checked request: the endpoint exists and answers successfully.
        let res = request().send().await?;
        let status = res.status();
        if status == StatusCode::NOT_FOUND {
            println!("| {} | endpoint missing (HTTP 404) | | | | | |", case.name);
            continue;
        }
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() || body["success"] == false {
            bail!("{} answered HTTP {status}: {body}", case.name);
        }
        let hits = total(&body).map_or_else(|| "?".into(), |t| t.to_string());

        for _ in 0..warmup {
            expect_ok(request()).await?;
        }
        let mut times = Vec::with_capacity(requests);
        let all = Instant::now();
        for _ in 0..requests {
            let one = Instant::now();
            expect_ok(request()).await?;
            times.push(one.elapsed());
        }
        let elapsed = all.elapsed();
        times.sort();
        println!(
            "| {} | {hits} | {} | {} | {} | {} | {:.0} |",
            case.name,
            ms(percentile(&times, 50)),
            ms(percentile(&times, 95)),
            ms(percentile(&times, 99)),
            ms(times.last().copied().unwrap_or_default()),
            requests as f64 / elapsed.as_secs_f64()
        );
    }
    Ok(())
}

/// Logs root in on the compat surface (cookie) and on the REST surface (access token).
async fn login(client: &Client, base: &str) -> anyhow::Result<Credentials> {
    let body = json!({"username": ROOT_USERNAME, "password": ROOT_PASSWORD});
    let res = client
        .post(format!("{base}/api/user/login"))
        .json(&body)
        .send()
        .await?;
    let cookie = res
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix("session=")?
                .split(';')
                .next()
                .map(str::to_owned)
        })
        .context("the compat login set no session cookie")?;
    let reply: Value = res.json().await?;
    let user_id = reply["data"]["id"]
        .as_i64()
        .with_context(|| format!("the compat login failed: {reply}"))?;

    let reply: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    let access_token = reply["data"]["access_token"]
        .as_str()
        .with_context(|| format!("the REST login failed: {reply}"))?
        .to_owned();
    Ok(Credentials {
        cookie,
        user_id,
        access_token,
    })
}

fn authorize(req: RequestBuilder, auth: Auth, c: &Credentials) -> RequestBuilder {
    match auth {
        Auth::Compat => req
            .header("Cookie", format!("session={}", c.cookie))
            .header("New-Api-User", c.user_id.to_string()),
        Auth::Rest => req.bearer_auth(&c.access_token),
    }
}

/// Sends the request and reads the whole body; fails on a non-2xx status.
async fn expect_ok(req: RequestBuilder) -> anyhow::Result<()> {
    let res = req.send().await?;
    let status = res.status();
    let body = res.bytes().await?;
    if !status.is_success() {
        bail!("HTTP {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok(())
}

/// The `total` of a page reply, wherever the surface puts it.
fn total(body: &Value) -> Option<u64> {
    let data = &body["data"];
    [
        &data["total"],
        &data["pagination"]["total"],
        &data["meta"]["total"],
        &body["total"],
    ]
    .into_iter()
    .find_map(Value::as_u64)
}

/// The nearest-rank percentile of sorted `times`.
fn percentile(times: &[Duration], p: usize) -> Duration {
    if times.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * times.len()).div_ceil(100).max(1);
    times[rank.min(times.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}
