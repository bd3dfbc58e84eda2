//! `connect`, readiness and the scratch databases themselves.

use super::*;

async fn readiness_answers(db: DatabaseConnection) {
    SeaReadiness::new(db).check().await.unwrap();
}

#[tokio::test]
async fn connect_creates_a_missing_sqlite_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nested").join("deeper").join("t.db");
    let url = format!("sqlite://{}", file.display());
    let db = tollgate_db::connect(&url, 2).await.unwrap();
    tollgate_db::migrate_up(&db).await.unwrap();
    let mode = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "PRAGMA journal_mode",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<String>(0)
        .unwrap();
    assert_eq!(mode, "wal");
    let fk = query_i64(&db, "PRAGMA foreign_keys").await;
    assert_eq!(fk, [1]);
    let sync = query_i64(&db, "PRAGMA synchronous").await;
    assert_eq!(sync, [2], "FULL");
    db.close().await.unwrap();
    assert!(file.exists());
}

#[tokio::test]
async fn connect_errors_do_not_echo_the_url() {
    let url = "postgres://user:s3cret-pw@127.0.0.1:notaport/db";
    let err = tollgate_db::connect(url, 1).await.unwrap_err();
    let text = format!("{err:#} {err:?}");
    assert!(!text.contains("s3cret-pw"), "{text}");
    assert!(text.contains("PostgreSQL"), "{text}");
}

/// Dropping a server [`ScratchDb`] (without `drop_database`) removes its database too, so test
/// suites that only hold the guard do not pile up databases on the server.
#[tokio::test]
async fn server_scratch_databases_are_dropped_with_their_guard() {
    use tollgate_db::testing::{Backend, ScratchDb};
    let servers = [
        ScratchDb::postgres_from_env().await.unwrap(),
        ScratchDb::mysql_from_env().await.unwrap(),
    ];
    for scratch in servers.into_iter().flatten() {
        let name = scratch
            .url
            .rsplit('/')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_owned();
        let admin_var = match scratch.backend {
            Backend::Postgres => "TEST_DATABASE_URL",
            _ => "TEST_MYSQL_URL",
        };
        let sql = match scratch.backend {
            Backend::Postgres => {
                format!("SELECT COUNT(*) FROM pg_database WHERE datname = '{name}'")
            }
            _ => format!(
                "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '{name}'"
            ),
        };
        let admin = tollgate_db::connect(&std::env::var(admin_var).unwrap(), 1)
            .await
            .unwrap();
        let db = scratch.connect_migrated(2).await.unwrap();
        assert_eq!(query_i64(&admin, &sql).await, [1], "{name} exists");
        drop(scratch); // with the pool still open: PostgreSQL needs FORCE
        assert_eq!(query_i64(&admin, &sql).await, [0], "{name} dropped");
        drop(db);
        admin.close().await.unwrap();
    }
}

stories!(readiness_answers,);
