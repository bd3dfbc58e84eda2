//! The `tollgate` binary as an operator runs it: environment configuration, first start,
//! graceful shutdown, and the account commands that read passwords from stdin.

// A test harness: failing loudly on a broken fixture is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A command with a clean configuration environment and its database in `dir`.
fn tollgate(dir: &tempfile::TempDir) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("TOLLGATE_") {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(dir.path()).env("RUST_LOG", "warn").env(
        "TOLLGATE_DATABASE_URL",
        format!("sqlite://{}/nested/dir/t.db?mode=rwc", dir.path().display()),
    );
    cmd
}

fn run_with_stdin(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A minimal HTTP/1.1 exchange; returns (status, body).
fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn wait_until_healthy(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok()
            && http(port, "GET", "/healthz", None).0 == 200
        {
            return;
        }
        assert!(child.try_wait().unwrap().is_none(), "server exited early");
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("server did not become healthy");
}

#[test]
fn first_start_creates_root_prints_its_password_once_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = tollgate(&dir)
        .env("TOLLGATE_ADDR", format!("127.0.0.1:{port}"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    wait_until_healthy(port, &mut child);

    let lines: Vec<String> = rx.try_iter().collect();
    let password = lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("password: "))
        .unwrap_or_else(|| panic!("no generated password on stderr: {lines:?}"))
        .to_owned();
    assert_eq!(password.len(), 24);
    assert!(
        dir.path().join("nested/dir/t.db").is_file(),
        "database file created"
    );

    let (status, body) = http(
        port,
        "POST",
        "/api/user/login",
        Some(&format!(r#"{{"username":"root","password":"{password}"}}"#)),
    );
    assert_eq!(status, 200);
    assert!(body.contains(r#""success":true"#), "{body}");
    assert_eq!(http(port, "GET", "/readyz", None).0, 200);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");

    // A second start finds the root and prints no password.
    let port = free_port();
    let mut again = tollgate(&dir)
        .env("TOLLGATE_ADDR", format!("127.0.0.1:{port}"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_until_healthy(port, &mut again);
    let _ = Command::new("kill")
        .args(["-TERM", &again.id().to_string()])
        .status();
    let out = again.wait_with_output().unwrap();
    assert!(
        !text(&out.stderr).contains("password:"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bootstrap_credentials_from_the_environment_create_that_root() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = tollgate(&dir)
        .env("TOLLGATE_ADDR", format!("127.0.0.1:{port}"))
        .env("TOLLGATE_ROOT_USERNAME", "boss")
        .env("TOLLGATE_ROOT_PASSWORD", "12345678901")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_until_healthy(port, &mut child);
    let (_, body) = http(
        port,
        "POST",
        "/api/user/login",
        Some(r#"{"username":"boss","password":"12345678901"}"#),
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    assert!(body.contains(r#""role":100"#), "{body}");
    let stderr = text(&out.stderr);
    assert!(
        !stderr.contains("12345678901"),
        "password leaked to stderr: {stderr}"
    );
}

#[test]
fn create_root_and_reset_password_read_the_password_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tollgate(&dir);
    cmd.args(["create-root", "--username", "admin"]);
    let out = run_with_stdin(cmd, "first-password\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("root user `admin` created"));

    let mut cmd = tollgate(&dir);
    cmd.args(["create-root", "--username", "other"]);
    let out = run_with_stdin(cmd, "other-password\n");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("a root user already exists"),
        "{}",
        text(&out.stderr)
    );

    let mut cmd = tollgate(&dir);
    cmd.args(["reset-password", "--username", "admin"]);
    let out = run_with_stdin(cmd, "second-password\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("second-password"));

    let mut cmd = tollgate(&dir);
    cmd.args(["reset-password", "--username", "admin"]);
    let out = run_with_stdin(cmd, "short\n");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("password must be 8 to 128 characters"));

    let mut cmd = tollgate(&dir);
    cmd.args(["reset-password", "--username", "nobody"]);
    let out = run_with_stdin(cmd, "whatever-password\n");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no such user"));

    let out = tollgate(&dir).arg("check-ledger").output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ledger ok"));
}

#[test]
fn migrate_status_down_and_up_work_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = tollgate(&dir).args(["migrate", "up"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status = text(
        &tollgate(&dir)
            .args(["migrate", "status"])
            .output()
            .unwrap()
            .stdout,
    );
    let migrations = status.lines().count();
    assert!(migrations >= 5, "{status}");
    assert_eq!(status.matches("Applied").count(), migrations, "{status}");
    let out = tollgate(&dir)
        .args(["migrate", "down", "--steps", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status = text(
        &tollgate(&dir)
            .args(["migrate", "status"])
            .output()
            .unwrap()
            .stdout,
    );
    assert_eq!(status.matches("Pending").count(), 1, "{status}");
}

#[test]
fn configuration_errors_name_the_problem_and_keep_secrets_out() {
    let dir = tempfile::tempdir().unwrap();
    let out = tollgate(&dir)
        .args(["--config", "missing.toml", "migrate", "status"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("missing.toml not found"));

    let out = tollgate(&dir)
        .env("TOLLGATE_DATABASE_URL", "redis://user:hunter2@host")
        .args(["migrate", "status"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("database_url") && !stderr.contains("hunter2"),
        "{stderr}"
    );

    // A configured Redis that does not answer stops the start (an instance must not count
    // alone while its peers share a store), naming the server but not the password.
    let out = tollgate(&dir)
        .env("TOLLGATE_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("TOLLGATE_KV__REDIS_URL", "redis://:hunter2@127.0.0.1:1/0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("connecting to Redis at redis://127.0.0.1:1/0")
            && !stderr.contains("hunter2"),
        "{stderr}"
    );

    std::fs::write(dir.path().join("custom.toml"), "[session]\nttl_days = 0\n").unwrap();
    let out = tollgate(&dir)
        .args(["--config", "custom.toml", "migrate", "status"])
        .output()
        .unwrap();
    assert!(
        text(&out.stderr).contains("session.ttl_days"),
        "{}",
        text(&out.stderr)
    );
}
