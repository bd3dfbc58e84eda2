//! Scratch databases for contract and integration tests (feature `testing`).
//!
//! [`ScratchDb::sqlite`] is a fresh database file in a temporary directory that lives as long
//! as the [`ScratchDb`]. [`ScratchDb::postgres_from_env`] and [`ScratchDb::mysql_from_env`]
//! create a uniquely named database on the server named by `TEST_DATABASE_URL` /
//! `TEST_MYSQL_URL`, or return `None` when the variable is unset. [`all_from_env`] gives
//! SQLite plus every configured server, so a story can run on every backend.

use anyhow::{Context as _, bail};
use sea_orm::{ConnectionTrait as _, DatabaseConnection};

/// The database engine behind a [`ScratchDb`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
            Backend::MySql => "MySQL",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An empty database for one test. Connect to [`ScratchDb::url`] (for example with
/// [`ScratchDb::connect_migrated`]).
#[derive(Debug)]
pub struct ScratchDb {
    /// Where the scratch database is; for servers it may hold a password, so do not print it.
    pub url: String,
    pub backend: Backend,
    /// Keeps the SQLite file's directory alive; deleted on drop.
    _dir: Option<tempfile::TempDir>,
    /// For server databases: where it was created from; dropped with the [`ScratchDb`].
    server: Option<ServerDb>,
}

#[derive(Debug)]
struct ServerDb {
    backend: Backend,
    admin_url: String,
    name: String,
}

impl ServerDb {
    async fn drop_database(&self) -> anyhow::Result<()> {
        let sql = match self.backend {
            // FORCE (PostgreSQL 13+) ends the sessions of pools still open on it.
            Backend::Postgres => format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_postgres(&self.name)
            ),
            Backend::MySql => format!("DROP DATABASE IF EXISTS {}", quote_mysql(&self.name)),
            Backend::Sqlite => return Ok(()),
        };
        let admin = crate::connect(&self.admin_url, 1).await?;
        if self.backend == Backend::MySql {
            // DROP waits for the metadata locks of open transactions, by default for a year:
            // a test that panicked mid-transaction must not hang the process. (The pool has
            // one connection, so the session setting applies to the DROP.)
            let _ = admin
                .execute_unprepared("SET SESSION lock_wait_timeout = 5")
                .await;
        }
        let dropped = admin
            .execute_unprepared(&sql)
            .await
            .with_context(|| format!("failed to drop a scratch {} database", self.backend));
        let _ = admin.close().await;
        dropped.map(|_| ())
    }
}

/// Drops a server database that [`ScratchDb::drop_database`] did not. Best effort: it never
/// panics, and it runs on its own thread and runtime because `Drop` cannot await.
impl Drop for ScratchDb {
    fn drop(&mut self) {
        let Some(server) = self.server.take() else {
            return;
        };
        let dropper = std::thread::Builder::new()
            .name("scratch-db-drop".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(runtime) = runtime {
                    let _ = runtime.block_on(server.drop_database());
                }
            });
        if let Ok(handle) = dropper {
            let _ = handle.join();
        }
    }
}

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "TEST_DATABASE_URL";
/// The environment variable naming the MySQL/MariaDB server for tests.
pub const MYSQL_ENV: &str = "TEST_MYSQL_URL";

impl ScratchDb {
    /// A fresh SQLite database file, `sqlite://<tmpdir>/<uuid>.db?mode=rwc`. Never
    /// `sqlite::memory:`, whose pooled connections would each see their own empty database.
    ///
    /// # Errors
    /// Fails when the temporary directory cannot be created.
    pub fn sqlite() -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("tollgate-db-")
            .tempdir()
            .context("failed to create a temporary directory for SQLite")?;
        let file = dir
            .path()
            .join(format!("{}.db", uuid::Uuid::new_v4().simple()));
        let Some(path) = file.to_str() else {
            bail!("the temporary directory's path is not UTF-8");
        };
        // sqlx percent-decodes the path; encode what would end it early.
        let path = path
            .replace('%', "%25")
            .replace('?', "%3F")
            .replace('#', "%23");
        Ok(Self {
            url: format!("sqlite://{path}?mode=rwc"),
            backend: Backend::Sqlite,
            _dir: Some(dir),
            server: None,
        })
    }

    /// A fresh database on the PostgreSQL server of `TEST_DATABASE_URL`, or `None` when the
    /// variable is unset or empty.
    ///
    /// # Errors
    /// Fails when the server cannot be reached or refuses `CREATE DATABASE`.
    pub async fn postgres_from_env() -> anyhow::Result<Option<Self>> {
        Self::server_from_env(POSTGRES_ENV, Backend::Postgres).await
    }

    /// A fresh database on the MySQL/MariaDB server of `TEST_MYSQL_URL`, or `None` when the
    /// variable is unset or empty.
    ///
    /// # Errors
    /// Fails when the server cannot be reached or refuses `CREATE DATABASE`.
    pub async fn mysql_from_env() -> anyhow::Result<Option<Self>> {
        Self::server_from_env(MYSQL_ENV, Backend::MySql).await
    }

    async fn server_from_env(var: &str, backend: Backend) -> anyhow::Result<Option<Self>> {
        let Some(admin_url) = std::env::var(var).ok().filter(|v| !v.trim().is_empty()) else {
            return Ok(None);
        };
        let name = format!("tg_{}", uuid::Uuid::new_v4().simple());
        let sql = match backend {
            Backend::Postgres => format!("CREATE DATABASE {}", quote_postgres(&name)),
            // utf8mb4: the server default may still be latin1, which cannot store every
            // username the domain accepts.
            Backend::MySql => format!(
                "CREATE DATABASE {} CHARACTER SET utf8mb4",
                quote_mysql(&name)
            ),
            Backend::Sqlite => bail!("SQLite has no server"),
        };
        let url = with_database(&admin_url, &name)?;
        let admin = crate::connect(&admin_url, 1)
            .await
            .with_context(|| format!("failed to reach the server of {var}"))?;
        let created = admin
            .execute_unprepared(&sql)
            .await
            .with_context(|| format!("failed to create a scratch {backend} database"));
        let _ = admin.close().await;
        created?;
        Ok(Some(Self {
            url,
            backend,
            _dir: None,
            server: Some(ServerDb {
                backend,
                admin_url,
                name,
            }),
        }))
    }

    /// Connects to the scratch database with a pool of `max_connections` and runs every
    /// migration.
    ///
    /// # Errors
    /// Fails when connecting or migrating fails.
    pub async fn connect_migrated(
        &self,
        max_connections: u32,
    ) -> anyhow::Result<DatabaseConnection> {
        let db = crate::connect(&self.url, max_connections).await?;
        crate::migrate_up(&db).await?;
        Ok(db)
    }

    /// Drops a server database now (SQLite's file goes with its directory); dropping the
    /// [`ScratchDb`] does the same, from a helper thread. Close every pool on it first.
    ///
    /// # Errors
    /// Fails when the server cannot be reached or refuses `DROP DATABASE`.
    pub async fn drop_database(mut self) -> anyhow::Result<()> {
        match self.server.take() {
            Some(server) => server.drop_database().await,
            None => Ok(()),
        }
    }
}

/// SQLite, plus a scratch database on each server configured by `TEST_DATABASE_URL` and
/// `TEST_MYSQL_URL`.
///
/// # Errors
/// Fails when a configured server cannot provide a scratch database: a configured backend is
/// never skipped silently.
pub async fn all_from_env() -> anyhow::Result<Vec<ScratchDb>> {
    let mut all = vec![ScratchDb::sqlite()?];
    all.extend(ScratchDb::postgres_from_env().await?);
    all.extend(ScratchDb::mysql_from_env().await?);
    Ok(all)
}

/// Runs `story` on a fresh, migrated database of every backend from [`all_from_env`] (a pool
/// of 8 connections), then drops the scratch databases. The story runs as its own task, so a
/// failure on one backend does not hide the others: the panic names every backend that failed.
///
/// # Panics
/// When a scratch database cannot be provided or migrated, or when the story fails on any
/// backend.
pub async fn on_every_backend<F, Fut>(story: F)
where
    F: Fn(DatabaseConnection) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let scratches = all_from_env()
        .await
        .unwrap_or_else(|e| panic!("scratch databases: {e:#}"));
    let mut failures = Vec::new();
    for scratch in scratches {
        let backend = scratch.backend;
        let db = scratch
            .connect_migrated(8)
            .await
            .unwrap_or_else(|e| panic!("{backend}: {e:#}"));
        let outcome = tokio::spawn(story(db.clone())).await;
        let _ = db.close().await;
        if let Err(e) = scratch.drop_database().await {
            eprintln!("could not drop the scratch {backend} database: {e:#}");
        }
        if let Err(e) = outcome {
            failures.push(format!("{backend}: {}", panic_message(e)));
        }
    }
    assert!(failures.is_empty(), "story failed on {failures:#?}");
}

/// The name of the backend behind a connection, for assertion messages.
pub fn backend_of(db: &DatabaseConnection) -> Backend {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => Backend::Postgres,
        sea_orm::DbBackend::MySql => Backend::MySql,
        _ => Backend::Sqlite,
    }
}

fn panic_message(err: tokio::task::JoinError) -> String {
    match err.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "non-string panic".to_owned()),
        Err(e) => e.to_string(),
    }
}

/// `"name"`, doubling embedded quotes.
fn quote_postgres(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// `` `name` ``, doubling embedded backticks.
fn quote_mysql(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

/// Replaces the database (the path) of a server URL, keeping credentials, host and query.
fn with_database(url: &str, database: &str) -> anyhow::Result<String> {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        bail!("a test database URL has no scheme");
    };
    let (head, rest) = url.split_at(scheme_end);
    let (before_query, query) = rest.split_at(rest.find('?').unwrap_or(rest.len()));
    // The authority cannot hold a raw '/', so the first one starts the path.
    let authority = before_query.split('/').next().unwrap_or_default();
    Ok(format!("{head}{authority}/{database}{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_path_is_replaced_and_the_rest_kept() {
        let cases = [
            ("postgres://u:p@h:5432/test", "postgres://u:p@h:5432/tg_x"),
            (
                "mysql://root@127.0.0.1:3306/test?ssl-mode=disabled",
                "mysql://root@127.0.0.1:3306/tg_x?ssl-mode=disabled",
            ),
            ("postgres://h", "postgres://h/tg_x"),
            ("postgres://h/", "postgres://h/tg_x"),
            (
                "postgres://h?sslmode=disable",
                "postgres://h/tg_x?sslmode=disable",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(with_database(input, "tg_x").unwrap(), want, "{input}");
        }
    }

    #[test]
    fn identifiers_are_quoted_per_backend() {
        assert_eq!(quote_postgres("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_mysql("a`b"), "`a``b`");
    }
}
