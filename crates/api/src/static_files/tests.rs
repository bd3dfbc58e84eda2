use super::*;

fn seg(path: &str) -> Option<Vec<String>> {
    segments(path)
}

#[test]
fn paths_that_could_leave_the_folder_never_reach_the_disk() {
    for path in [
        "/../etc/passwd",
        "/assets/../../etc/passwd",
        "/%2e%2e/etc/passwd",
        "/%2E%2E%2Fetc%2Fpasswd",
        "/assets/..%2f..%2fsecret",
        "/..%5c..%5cwindows",
        "/assets\\..\\x",
        "/./index.html",
        "/.env",
        "/.git/config",
        "/%00index.html",
        "/C:/windows/win.ini",
        "/bad%zzescape",
        "/truncated%2",
        "/%ff%fe",
    ] {
        assert_eq!(seg(path), None, "{path}");
    }
}

#[test]
fn ordinary_paths_decode_once_into_segments() {
    assert_eq!(seg("/"), Some(vec![]));
    assert_eq!(
        seg("/assets/index-D2fE9x1a.js"),
        Some(vec!["assets".into(), "index-D2fE9x1a.js".into()])
    );
    assert_eq!(
        seg("//console///user/"),
        Some(vec!["console".into(), "user".into()])
    );
    assert_eq!(seg("/a%20b.png"), Some(vec!["a b.png".into()]));
    // Decoded exactly once: `%252e%252e` is a file literally named `%2e%2e`.
    assert_eq!(
        seg("/%252e%252e/x"),
        Some(vec!["%2e%2e".into(), "x".into()])
    );
    assert_eq!(seg("/中文"), Some(vec!["中文".into()]));
}

#[test]
fn hashed_names_are_recognised() {
    let hashed = |p: &str| is_hashed(&seg(p).unwrap());
    assert!(hashed("/assets/index-D2fE_x9A.js"));
    assert!(hashed("/assets/fonts/semi.woff2"));
    assert!(hashed("/static/js/main.3f2a9c1b.js"));
    assert!(hashed("/main.3f2a9c1b.chunk.css"));
    assert!(!hashed("/index.html"));
    assert!(!hashed("/logo.png"));
    assert!(!hashed("/jquery.min.js"));
    assert!(!hashed("/assets"));
    assert!(!hashed("/favicon.ico"));
    assert!(!hashed("/release.abcdefgh.txt"));
}

#[test]
fn content_types_follow_the_extension() {
    for (name, ty) in [
        ("index.html", "text/html; charset=utf-8"),
        ("a.JS", "text/javascript; charset=utf-8"),
        ("a.css", "text/css; charset=utf-8"),
        ("a.svg", "image/svg+xml"),
        ("a.woff2", "font/woff2"),
        ("a.json", "application/json"),
        ("a.ico", "image/x-icon"),
        ("no-extension", "application/octet-stream"),
        ("a.exe", "application/octet-stream"),
    ] {
        assert_eq!(content_type(Path::new(name)), ty, "{name}");
    }
}

fn site() -> (tempfile::TempDir, StaticSite) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("assets")).unwrap();
    std::fs::write(dir.path().join("index.html"), "<html>console</html>").unwrap();
    std::fs::write(dir.path().join("assets/app-1a2b3c4d.js"), "js").unwrap();
    std::fs::write(dir.path().join("logo.png"), "png").unwrap();
    let site = StaticSite::open(dir.path()).unwrap();
    (dir, site)
}

fn found(site: &StaticSite, path: &str) -> Option<(String, &'static str, &'static str)> {
    match lookup(site.root(), &seg(path).unwrap()).unwrap() {
        Found::File {
            body,
            content_type,
            cache,
            ..
        } => Some((String::from_utf8(body).unwrap(), content_type, cache)),
        Found::Missing => None,
    }
}

#[test]
fn files_are_served_and_pages_fall_back_to_the_index() {
    let (_dir, site) = site();
    let (body, ty, cache) = found(&site, "/assets/app-1a2b3c4d.js").unwrap();
    assert_eq!(
        (body.as_str(), ty, cache),
        ("js", "text/javascript; charset=utf-8", IMMUTABLE)
    );
    let (body, ty, cache) = found(&site, "/logo.png").unwrap();
    assert_eq!((body.as_str(), ty, cache), ("png", "image/png", REVALIDATE));
    for page in ["/", "/console", "/console/user/", "/assets", "/login"] {
        let (body, ty, cache) = found(&site, page).unwrap();
        assert_eq!(
            (body.as_str(), ty, cache),
            (
                "<html>console</html>",
                "text/html; charset=utf-8",
                REVALIDATE
            ),
            "{page}"
        );
    }
    assert!(found(&site, "/assets/missing-1a2b3c4d.js").is_none());
    assert!(found(&site, "/missing.png").is_none());
}

#[test]
fn a_folder_that_does_not_exist_or_is_a_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("dist");
    let err = StaticSite::open(&missing).unwrap_err().to_string();
    assert!(
        err.contains("server.static_dir") && err.contains("does not exist"),
        "{err}"
    );
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let err = StaticSite::open(&file).unwrap_err().to_string();
    assert!(err.contains("not a directory"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_link_out_of_the_folder_is_not_followed() {
    let (dir, site) = site();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "secret").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        dir.path().join("leak.txt"),
    )
    .unwrap();
    assert!(lookup(site.root(), &seg("/leak.txt").unwrap()).is_err());
}
