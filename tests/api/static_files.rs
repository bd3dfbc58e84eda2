//! `server.static_dir` (issue 11): a built console served same-origin, with the SPA fallback,
//! cache headers by kind of file, no way out of the folder, and the API's 404 JSON kept.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use reqwest::Method;
use secrecy::SecretString;
use tollgate_db::testing::ScratchDb;

use crate::helpers::TestApp;
use crate::reply::send;

const INDEX: &str = "<!doctype html><title>console</title>";
const SECRET: &str = "outside-the-console-folder";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `<tmp>/dist` holding a small built console, and `<tmp>/secret.txt` beside it.
fn console_folder() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");
    std::fs::create_dir_all(dist.join("assets")).unwrap();
    std::fs::write(dist.join("index.html"), INDEX).unwrap();
    std::fs::write(dist.join("assets/index-B1x9Qz7a.js"), "console.log(1)").unwrap();
    std::fs::write(dist.join("assets/index-Cc3d4e5f.css"), "body{}").unwrap();
    std::fs::write(dist.join("logo.png"), [0x89, b'P', b'N', b'G']).unwrap();
    std::fs::write(tmp.path().join("secret.txt"), SECRET).unwrap();
    (tmp, dist)
}

async fn serving(dist: &Path) -> TestApp {
    let dir = dist.to_path_buf();
    TestApp::spawn_with(move |s| s.server.static_dir = Some(dir)).await
}

/// A GET whose request line carries `path` exactly as written (HTTP clients normalise `..`
/// and `%2e%2e` away before sending). Returns the status line and the whole response.
async fn raw_get(app: &TestApp, path: &str) -> (String, String) {
    let addr = app.address.trim_start_matches("http://").to_owned();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text.lines().next().unwrap_or_default().to_owned();
        (status, text)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_console_is_served_with_its_pages_falling_back_to_the_index() {
    let (_tmp, dist) = console_folder();
    let app = serving(&dist).await;
    for page in ["/", "/login", "/console", "/console/user", "/setup?x=1"] {
        let res = app.client.get(app.url(page)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{page}");
        let headers = res.headers().clone();
        assert_eq!(
            headers["content-type"], "text/html; charset=utf-8",
            "{page}"
        );
        assert_eq!(headers["cache-control"], "no-cache", "{page}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(res.text().await.unwrap(), INDEX, "{page}");
    }
    // Hashed assets are cached for a year; other files are revalidated.
    for (path, content_type, cache) in [
        (
            "/assets/index-B1x9Qz7a.js",
            "text/javascript; charset=utf-8",
            IMMUTABLE,
        ),
        (
            "/assets/index-Cc3d4e5f.css",
            "text/css; charset=utf-8",
            IMMUTABLE,
        ),
        ("/logo.png", "image/png", "no-cache"),
    ] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-type"], content_type, "{path}");
        assert_eq!(res.headers()["cache-control"], cache, "{path}");
        assert!(res.headers().contains_key("last-modified"), "{path}");
    }
    // A missing asset is a 404, not the index under a script's name.
    for path in ["/assets/missing-1234abcd.js", "/favicon.ico"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    // Revalidation answers 304 without a body.
    let res = app.client.get(app.url("/logo.png")).send().await.unwrap();
    let modified = res.headers()["last-modified"].clone();
    let res = app
        .client
        .get(app.url("/logo.png"))
        .header("If-Modified-Since", modified)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert!(res.bytes().await.unwrap().is_empty());
    // HEAD gets the headers only.
    let res = app.client.head(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_api_and_the_operational_endpoints_keep_their_answers() {
    let (_tmp, dist) = console_folder();
    let app = serving(&dist).await;
    // Unknown API paths keep their 404 JSON (each surface's envelope), never the index.
    for path in [
        "/api/nope",
        "/api/",
        "/api",
        "/api/v1/nope",
        "/healthz/x",
        "/readyz/",
    ] {
        let reply = app.anonymous(Method::GET, path, None).await;
        assert_eq!(reply.status, 404, "{path}");
        assert!(reply.content_type.starts_with("application/json"), "{path}");
        assert!(reply.body.is_object(), "{path}: {}", reply.body);
    }
    app.anonymous(Method::GET, "/api/nope", None)
        .await
        .refused_with("未找到该接口");
    let reply = app.anonymous(Method::GET, "/api/status", None).await;
    assert_eq!(reply.success()["setup"], true);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // Only GET and HEAD read the console.
    for method in [Method::POST, Method::PUT, Method::DELETE] {
        let reply = send(app.client.request(method.clone(), app.url("/console"))).await;
        assert_eq!(reply.status, 404, "{method}");
        reply.refused_with("未找到该接口");
    }
}

#[tokio::test]
async fn no_path_leaves_the_console_folder() {
    let (_tmp, dist) = console_folder();
    let app = serving(&dist).await;
    // The harness's raw request reaches the file it names.
    let (status, body) = raw_get(&app, "/assets/index-B1x9Qz7a.js").await;
    assert!(status.contains(" 200 "), "{status}");
    assert!(body.ends_with("console.log(1)"), "{body}");
    for path in [
        "/../secret.txt",
        "/assets/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "/.%2e/secret.txt",
        "/%252e%252e/secret.txt",
        "//../secret.txt",
    ] {
        let (status, body) = raw_get(&app, path).await;
        assert!(!body.contains(SECRET), "{path} leaked: {status}");
        assert!(
            status.contains(" 404 ") || status.contains(" 400 "),
            "{path}: {status}"
        );
    }
}

#[tokio::test]
async fn without_a_console_folder_unknown_paths_are_the_404_json() {
    let app = TestApp::spawn().await;
    for path in ["/", "/console", "/assets/index.js"] {
        let reply = app.anonymous(Method::GET, path, None).await;
        assert_eq!(reply.status, 404, "{path}");
        reply.refused_with("未找到该接口");
    }
}

#[tokio::test]
async fn a_console_folder_that_does_not_exist_stops_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    let scratch = ScratchDb::sqlite().unwrap();
    let settings = tollgate_api::Settings {
        addr: "127.0.0.1:0".into(),
        database_url: SecretString::from(scratch.url.clone()),
        server: tollgate_api::config::ServerSettings {
            static_dir: Some(tmp.path().join("web/dist")),
            ..Default::default()
        },
        ..Default::default()
    };
    let Err(e) = tollgate_api::Application::build(settings).await else {
        panic!("the server started without its console folder");
    };
    let message = format!("{e:#}");
    assert!(
        message.contains("server.static_dir") && message.contains("web/dist"),
        "{message}"
    );
}
