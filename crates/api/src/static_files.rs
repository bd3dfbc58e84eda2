//! `server.static_dir`: a built single-page console (New API's `web/dist`) served same-origin,
//! as the app's default service (every path no route matched).
//!
//! - Files are served by path from the folder and from nowhere else: the path is decoded
//!   once, and a `.`/`..` segment, a dot-file, a backslash, a colon or a control character
//!   refuses the request; a file whose real path (symbolic links resolved) leaves the folder
//!   is not served.
//! - Any other `GET`/`HEAD` path answers `index.html` (the console's router takes it from
//!   there), except paths whose last segment has an extension (a missing asset is a 404, not a
//!   page) and the API's and operations' paths (`/api`, `/healthz`, `/readyz`, `/metrics`),
//!   which keep the JSON 404.
//! - Caching: files under `assets/` or with a content hash in their name are immutable for a
//!   year; everything else, `index.html` first, is `no-cache` with `Last-Modified`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_TYPE, HttpDate, IF_MODIFIED_SINCE, LAST_MODIFIED,
};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context as _;

use crate::compat::respond::{CompatError, locale_of};

/// `Cache-Control` of a file whose name changes with its content.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of everything else: revalidate on every use.
pub const REVALIDATE: &str = "no-cache";

/// Paths that belong to the API and the operational endpoints: never the console's.
const RESERVED: [&str; 4] = ["/api", "/healthz", "/readyz", "/metrics"];

/// Larger files are not served (a built console's largest bundle is a few MB).
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The console's folder, resolved once at start-up.
#[derive(Debug, Clone)]
pub struct StaticSite {
    root: PathBuf,
}

impl StaticSite {
    /// Resolves `dir`; a folder that does not exist (or is not a folder) is an error, so a
    /// misspelt path stops the start instead of serving 404s.
    ///
    /// # Errors
    /// When `dir` cannot be resolved or is not a directory.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let root = std::fs::canonicalize(dir)
            .with_context(|| format!("server.static_dir {} does not exist", dir.display()))?;
        anyhow::ensure!(
            root.is_dir(),
            "server.static_dir {} is not a directory",
            dir.display()
        );
        if !root.join("index.html").is_file() {
            tracing::warn!(dir = %root.display(), "server.static_dir has no index.html");
        }
        Ok(Self { root })
    }

    /// The resolved folder.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// What a path resolved to.
#[derive(Debug)]
enum Found {
    File {
        body: Vec<u8>,
        modified: Option<SystemTime>,
        content_type: &'static str,
        cache: &'static str,
    },
    Missing,
}

/// The default service: a console file, `index.html`, or the compat 404 JSON.
pub async fn serve(req: HttpRequest) -> Result<HttpResponse, CompatError> {
    let not_found = || CompatError::not_found(locale_of(&req));
    let path = req.path();
    let reserved = RESERVED.iter().any(|r| {
        path == *r
            || path
                .strip_prefix(r)
                .is_some_and(|rest| rest.starts_with('/'))
    });
    let readable = req.method() == Method::GET || req.method() == Method::HEAD;
    let site = req.app_data::<web::Data<StaticSite>>();
    let (Some(site), false, true) = (site, reserved, readable) else {
        return Err(not_found());
    };
    let Some(segments) = segments(path) else {
        return Err(not_found());
    };
    let root = site.root.clone();
    let found = web::block(move || lookup(&root, &segments))
        .await
        .map_err(|e| CompatError::internal(&e, locale_of(&req)))?;
    match found {
        Ok(Found::File {
            body,
            modified,
            content_type,
            cache,
        }) => Ok(reply(&req, body, modified, content_type, cache)),
        Ok(Found::Missing) => Err(not_found()),
        Err(e) => {
            // Unreadable files are the operator's to fix; the client sees a 404.
            tracing::warn!(error = %e, path = %req.path(), "static file not served");
            Err(not_found())
        }
    }
}

fn reply(
    req: &HttpRequest,
    body: Vec<u8>,
    modified: Option<SystemTime>,
    content_type: &'static str,
    cache: &'static str,
) -> HttpResponse {
    // Whole seconds, as HTTP dates carry them.
    let modified = modified
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| UNIX_EPOCH + Duration::from_secs(d.as_secs()));
    let since = req
        .headers()
        .get(IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<HttpDate>().ok())
        .map(SystemTime::from);
    let unchanged = matches!((modified, since), (Some(m), Some(s)) if m <= s);
    let mut res = HttpResponse::build(if unchanged {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    });
    res.insert_header((CACHE_CONTROL, cache));
    if let Some(m) = modified {
        res.insert_header((LAST_MODIFIED, HttpDate::from(m)));
    }
    if unchanged {
        return res.finish();
    }
    res.insert_header((CONTENT_TYPE, content_type)).body(body)
}

/// The decoded segments of a request path, or `None` when it must not touch the disk:
/// malformed percent-encoding, invalid UTF-8, `.`/`..`, a dot-file, a backslash, a colon, a
/// NUL or another control character. The path is decoded exactly once, so `%2e%2e` is `..`
/// (refused) and `%252e` is a file literally named `%2e`.
fn segments(path: &str) -> Option<Vec<String>> {
    let decoded = String::from_utf8(percent_decode(path)?).ok()?;
    let mut out = Vec::new();
    for seg in decoded.split('/').filter(|s| !s.is_empty()) {
        let unsafe_char = |c: char| c.is_control() || c == '\\' || c == ':';
        if seg.starts_with('.') || seg.chars().any(unsafe_char) {
            return None;
        }
        out.push(seg.to_owned());
    }
    Some(out)
}

/// `%XX` decoding; `None` on a `%` not followed by two hex digits.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(out)
}

/// Reads the file `segments` name under `root`, else `index.html` for a page path.
fn lookup(root: &Path, segments: &[String]) -> anyhow::Result<Found> {
    let mut path = root.to_path_buf();
    path.extend(segments);
    if path.is_file() {
        return read(root, &path, is_hashed(segments));
    }
    let has_extension = segments.last().is_some_and(|s| s.contains('.'));
    if has_extension {
        return Ok(Found::Missing);
    }
    let index = root.join("index.html");
    if index.is_file() {
        read(root, &index, false)
    } else {
        Ok(Found::Missing)
    }
}

fn read(root: &Path, path: &Path, hashed: bool) -> anyhow::Result<Found> {
    let real = std::fs::canonicalize(path)?;
    if !real.starts_with(root) {
        anyhow::bail!("{} leaves the console folder", path.display());
    }
    let meta = std::fs::metadata(&real)?;
    if meta.len() > MAX_FILE_BYTES {
        anyhow::bail!("{} is larger than {MAX_FILE_BYTES} bytes", path.display());
    }
    Ok(Found::File {
        body: std::fs::read(&real)?,
        modified: meta.modified().ok(),
        content_type: content_type(&real),
        cache: if hashed { IMMUTABLE } else { REVALIDATE },
    })
}

/// Whether a file's name changes with its content: Vite's `assets/` folder, or a name with a
/// hash part (`main.3f2a9c1b.js`: 8+ letters and digits, at least one digit, between dots).
fn is_hashed(segments: &[String]) -> bool {
    if segments.len() > 1 && segments.first().is_some_and(|s| s == "assets") {
        return true;
    }
    let Some(name) = segments.last() else {
        return false;
    };
    let parts: Vec<&str> = name.split('.').collect();
    let inner = parts
        .get(1..parts.len().saturating_sub(1))
        .unwrap_or_default();
    inner.iter().any(|p| {
        p.len() >= 8
            && p.chars().all(|c| c.is_ascii_alphanumeric())
            && p.chars().any(|c| c.is_ascii_digit())
    })
}

/// The `Content-Type` of a file, by its extension.
fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "wasm" => "application/wasm",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests;
