//! How fast can one client guess passwords of one account? Through the real server, with login
//! throttling off (what New API allows) and on (Tollgate's default policy).
//!
//! `cargo bench -p tollgate-tests --bench login_guessing` starts the server in-process on a
//! temporary SQLite file, registers one account, and lets one client send wrong passwords for
//! it as fast as it can with `BENCH_CONCURRENCY` requests in flight (default 8) for
//! `BENCH_SECS` seconds (default 20) per run. It prints, per run, the requests answered, the
//! passwords actually checked (the generic refusal, HTTP 200) and the throttled ones (HTTP 429),
//! each per second.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reqwest::Client;
use secrecy::SecretString;
use serde_json::json;
use tollgate_api::{Application, Settings};
use tollgate_db::testing::ScratchDb;

const PASSWORD: &str = "the-right-password-42";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let secs = env_number("BENCH_SECS", 20).max(1);
    let concurrency = env_number("BENCH_CONCURRENCY", 8).max(1);
    println!(
        "login_guessing: one client, one account, {concurrency} requests in flight, {secs} s per \
         run, {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for throttled in [false, true] {
        let scratch = ScratchDb::sqlite()?;
        let outcome = run(&scratch, throttled, secs, concurrency).await;
        scratch.drop_database().await.ok();
        outcome?;
    }
    Ok(())
}

async fn run(
    scratch: &ScratchDb,
    throttling: bool,
    secs: u64,
    concurrency: u64,
) -> anyhow::Result<()> {
    let mut settings = Settings {
        addr: "127.0.0.1:0".into(),
        database_url: SecretString::from(scratch.url.clone()),
        database_max_connections: 8,
        ..Settings::default()
    };
    settings.login_throttle.enabled = throttling;
    let app = Application::build(settings)
        .await
        .context("building the server")?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let server = tokio::spawn(app.run_until_stopped());
    let client = Client::new();

    let reg = client
        .post(format!("{base}/api/user/register"))
        .json(&json!({"username": "victim", "password": PASSWORD}))
        .send()
        .await?;
    if !reg.status().is_success() {
        bail!("registration failed: {}", reg.status());
    }

    let checked = Arc::new(AtomicU64::new(0));
    let limited = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let (client, base) = (client.clone(), base.clone());
            let (checked, limited) = (checked.clone(), limited.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    n += 1;
                    let res = client
                        .post(format!("{base}/api/user/login"))
                        .json(&json!({"username": "victim", "password": format!("guess-{w}-{n}")}))
                        .send()
                        .await?;
                    match res.status().as_u16() {
                        200 => checked.fetch_add(1, Ordering::Relaxed),
                        429 => limited.fetch_add(1, Ordering::Relaxed),
                        other => bail!("unexpected status {other}"),
                    };
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for w in workers {
        w.await??;
    }
    server.abort();

    let checked = checked.load(Ordering::Relaxed);
    let limited = limited.load(Ordering::Relaxed);
    #[allow(clippy::cast_precision_loss)]
    let per_sec = |n: u64| n as f64 / secs as f64;
    println!(
        "\n## throttling {}\nrequests answered: {} ({:.1}/s)\npasswords checked: {} ({:.2}/s)\n\
         throttled (429):   {} ({:.1}/s)",
        if throttling { "on" } else { "off" },
        checked + limited,
        per_sec(checked + limited),
        checked,
        per_sec(checked),
        limited,
        per_sec(limited),
    );
    Ok(())
}
