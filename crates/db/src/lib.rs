//! sea-orm adapters of Tollgate's repository ports, for SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! This crate implements the traits of [`tollgate_domain::ports`] and nothing else: no business
//! rule lives here beyond what SQL must enforce atomically (conditional updates, unique keys).
//! sea-orm types never leave it: entities are private, every public signature speaks domain
//! types, and only [`connect`] hands out the opaque `DatabaseConnection` pool to the composition
//! root. It must not depend on the web, auth or any other adapter crate.
//!
//! Every change of `users.quota` / `users.aff_quota` goes through one private function,
//! `ledger::apply_entry`, which records a ledger row in the same transaction. Every write
//! transaction goes through one function, `txn::write`, the only code that commits or rolls
//! back.

mod audit;
pub mod counters;
mod entities;
mod error;
mod ledger;
mod options;
mod pool;
mod readiness;
mod redemptions;
mod secrets;
/// Bulk test data that bypasses the domain's validation: only with the `testing` feature.
#[cfg(feature = "testing")]
pub mod seed;
mod sessions;
mod topups;
mod two_factor;
mod txn;
mod user_search;
mod users;

#[cfg(feature = "testing")]
pub mod testing;

use std::time::Duration;

use anyhow::Context as _;
use migration::MigratorTrait as _;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

pub use audit::SeaAuditRepository;
pub use ledger::SeaLedgerRepository;
pub use options::SeaOptionsRepository;
pub use pool::{PoolStats, pool_stats};
pub use readiness::SeaReadiness;
pub use redemptions::SeaRedemptionRepository;
pub use secrets::shared_secret;
pub use sessions::SeaSessionRepository;
pub use topups::SeaTopUpRepository;
pub use two_factor::SeaTwoFactorRepository;
pub use users::SeaUserRepository;

/// How long a SQLite connection waits for the write lock before failing with `SQLITE_BUSY`.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens a connection pool of at most `max_connections` connections.
///
/// For `sqlite:` URLs the database file (and its parent directory) is created when missing,
/// and every connection runs in WAL mode with `synchronous=FULL`, a 10 s busy timeout and
/// foreign keys on.
///
/// # Errors
/// Fails when the URL cannot be parsed or the server cannot be reached. The message names the
/// backend, never the URL, which may hold a password.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    let backend = backend_name(url);
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(max_connections.max(1))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        create_sqlite_parent_dir(url)?;
        options.map_sqlx_sqlite_opts(|o| {
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
        });
    }
    // The driver's error text can quote the whole URL (sea-orm does for an unparsable one),
    // so it is redacted and not kept as a source error.
    Database::connect(options).await.map_err(|e| {
        anyhow::anyhow!(
            "failed to connect to the {backend} database: {}",
            redact(&e.to_string(), url)
        )
    })
}

/// Applies every pending migration of [`migration::Migrator`].
///
/// # Errors
/// Fails when a migration fails; the database is left at the last migration that succeeded.
pub async fn migrate_up(db: &DatabaseConnection) -> anyhow::Result<()> {
    migration::Migrator::up(db, None)
        .await
        .context("failed to run the database migrations")
}

/// The backend a URL names, for error messages that must not echo the URL.
fn backend_name(url: &str) -> &'static str {
    if url.starts_with("sqlite:") {
        "SQLite"
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        "PostgreSQL"
    } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
        "MySQL"
    } else {
        "unknown"
    }
}

/// `text` with the URL and its password, raw or percent-decoded, replaced by a placeholder.
fn redact(text: &str, url: &str) -> String {
    let mut out = text.replace(url, "<database url>");
    if let Some(password) = url_password(url) {
        for secret in [percent_decode(password), password.to_owned()] {
            if !secret.is_empty() {
                out = out.replace(&secret, "<redacted>");
            }
        }
    }
    out
}

/// The password of `scheme://user:password@host/...`, if any.
fn url_password(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = rest.split(['/', '?', '#']).next()?;
    let userinfo = &authority[..authority.rfind('@')?];
    userinfo.split_once(':').map(|(_, password)| password)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// SQLite creates the file but not its directory, so `sqlite://data/tollgate.db` would fail on
/// a fresh checkout.
fn create_sqlite_parent_dir(url: &str) -> anyhow::Result<()> {
    let parsed: SqliteConnectOptions = url
        .parse()
        .context("failed to parse the SQLite database URL")?;
    let file = parsed.get_filename();
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(());
    }
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .context("failed to create the directory of the SQLite database")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_the_url_and_the_password() {
        let url = "postgres://app:p%40ss@db:5432/tollgate";
        let text = format!("cannot parse '{url}'; auth failed for p@ss and p%40ss");
        let out = redact(&text, url);
        assert!(!out.contains("p@ss") && !out.contains("p%40ss"), "{out}");
        assert!(out.contains("<database url>"), "{out}");
    }

    #[test]
    fn password_is_found_only_in_the_userinfo() {
        assert_eq!(url_password("mysql://root:pw@h:3306/db"), Some("pw"));
        assert_eq!(url_password("mysql://root@h:3306/db"), None);
        assert_eq!(url_password("postgres://h/db?user=a:b@c"), None);
        assert_eq!(url_password("sqlite://data/t.db"), None);
    }
}
