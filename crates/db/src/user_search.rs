//! The admin listing and search of users (docs/newapi-behaviour.md §6.1, scoped by the role
//! hierarchy).
//!
//! The keyword matches username, display name or e-mail, case-sensitively and with the same
//! result on every backend, plus the id when the keyword is a positive integer. How a text
//! predicate is phrased differs per backend, so that a prefix search is served by the indexes
//! of migration `m20261121_000006` instead of scanning the table:
//!
//! | backend    | prefix                                          | contains                 |
//! |------------|-------------------------------------------------|--------------------------|
//! | SQLite     | `col >= kw AND col < next(kw)` (BINARY)          | `instr(col, kw) > 0`     |
//! | PostgreSQL | the same range on `col COLLATE "C"`              | `col LIKE '%kw%'`        |
//! | MySQL      | `col LIKE 'kw%'` (`utf8mb4_bin` columns)         | `col LIKE '%kw%'`        |
//!
//! SQLite's LIKE ignores case and is never index-served here, hence the range. PostgreSQL's
//! LIKE only uses a B-tree under the C collation with a literal pattern (not with the generic
//! plan of a prepared statement), hence the range under `COLLATE "C"`, which orders by code
//! point whatever the database's collation. MySQL turns `LIKE 'kw%'` into an index range
//! itself, and a range comparison would suffer from `utf8mb4_bin`'s PAD SPACE semantics.
//! Under binary collations (code-point order = UTF-8 byte order) "starts with kw" is exactly
//! `kw <= col < next(kw)`, where `next(kw)` is `kw` with its last character incremented.
//!
//! A contains search cannot use these indexes: it reads every visible row.

use sea_orm::sea_query::{Condition, Expr, ExprTrait as _, LikeExpr};
use sea_orm::{
    ColumnTrait as _, DbBackend, EntityTrait as _, QueryFilter as _, QueryOrder as _,
    QuerySelect as _, Select,
};
use tollgate_domain::ports::{MatchMode, UserQuery};
use tollgate_domain::{Page, PageRequest, RepoError, User};

use crate::entities::user;
use crate::error::unexpected;
use crate::users::SeaUserRepository;

/// The escape character of LIKE patterns. Not `\`, which MySQL also treats as an escape
/// inside string literals.
pub(crate) const LIKE_ESCAPE: char = '!';

/// The text columns a keyword is matched against, with their SQL names.
const TEXT_COLUMNS: [(user::Column, &str); 3] = [
    (user::Column::Username, "username"),
    (user::Column::DisplayName, "display_name"),
    (user::Column::Email, "email"),
];

impl SeaUserRepository {
    /// Users matching `query`, newest id first, soft-deleted ones included; `total` counts
    /// every match.
    pub(crate) async fn search_users(
        &self,
        query: &UserQuery,
        page: PageRequest,
    ) -> Result<Page<User>, RepoError> {
        let backend = self.db.get_database_backend();
        let total: Option<i64> = count_select(backend, query)
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to count users"))?;
        let total = total.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        // Also keeps large offsets away from the database (`PageRequest` bounds them).
        if page.offset() >= total {
            return Ok(Page {
                items: Vec::new(),
                total,
                request: page,
            });
        }
        let items = page_select(backend, query, page)
            .all(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to search users"))?
            .into_iter()
            .map(User::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            total,
            request: page,
        })
    }
}

/// `SELECT COUNT(id) AS total` of the users matching `query`.
fn count_select(backend: DbBackend, query: &UserQuery) -> Select<user::Entity> {
    user::Entity::find()
        .select_only()
        .column_as(user::Column::Id.count(), "total")
        .filter(condition(backend, query))
}

/// One page of the users matching `query`, newest id first.
///
/// On PostgreSQL a prefix search orders by `id + 0`, which the primary key cannot deliver.
/// sqlx prepares its statements, and after five runs PostgreSQL may switch to a generic plan,
/// blind to the keyword: it then guesses that many rows match and walks the primary key
/// backwards, filtering, until it has a page, which reads the whole table for a rare prefix.
/// Without that option, it takes the per-column indexes (BitmapOr) and sorts the matches.
fn page_select(backend: DbBackend, query: &UserQuery, page: PageRequest) -> Select<user::Entity> {
    let select = user::Entity::find().filter(condition(backend, query));
    let select = if backend == DbBackend::Postgres && uses_text_indexes(query) {
        select.order_by_desc(Expr::cust(r#""users"."id" + 0"#))
    } else {
        select.order_by_desc(user::Column::Id)
    };
    select.offset(page.offset()).limit(page.size())
}

/// The trimmed keyword, unless blank.
fn keyword_of(query: &UserQuery) -> Option<&str> {
    query
        .keyword
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

/// Whether the text predicates of `query` are the index-served prefix ranges.
fn uses_text_indexes(query: &UserQuery) -> bool {
    query.match_mode == MatchMode::Prefix && keyword_of(query).is_some_and(|k| !k.contains('\0'))
}

/// The WHERE clause of `query` on `backend`.
fn condition(backend: DbBackend, query: &UserQuery) -> Condition {
    // `role + 0`: an index cannot serve the scope, and must not be offered. The scope keeps
    // nearly every row (admins and root see all users), yet MySQL merges `idx_users_role` with
    // the primary key for the OR and sorts the whole table for each page (150 ms instead of
    // 0.5 ms on 100 000 users), and PostgreSQL's generic plans scan that index too.
    let visible = Condition::any()
        .add(
            Expr::col(user::Column::Role)
                .add(Expr::cust("0"))
                .lt(query.visible_below.code()),
        )
        .add_option(query.also.map(|id| user::Column::Id.eq(id.get())));
    let mut all = Condition::all().add(visible);
    if let Some(group) = &query.group {
        all = all.add(user::Column::UserGroup.eq(group.as_str()));
    }
    if let Some(status) = query.status {
        all = all.add(user::Column::Status.eq(status.code()));
    }
    if query.live_only {
        all = all.add(user::Column::DeletedAt.is_null());
    }
    if let Some(keyword) = keyword_of(query) {
        all = all.add(keyword_condition(backend, keyword, query.match_mode));
    }
    all
}

/// Any text column matches `keyword`, or the id equals it.
fn keyword_condition(backend: DbBackend, keyword: &str, mode: MatchMode) -> Condition {
    let mut any = Condition::any();
    // PostgreSQL cannot store (or even receive) NUL; no backend has it in these columns.
    if !keyword.contains('\0') {
        for (column, name) in TEXT_COLUMNS {
            any = any.add(text_match(backend, column, name, keyword, mode));
        }
    }
    if let Some(id) = keyword.parse::<i64>().ok().filter(|id| *id > 0) {
        any = any.add(user::Column::Id.eq(id));
    }
    if any.is_empty() {
        // An empty OR would be dropped from the AND, matching everything.
        any = any.add(Expr::cust("1 = 0"));
    }
    any
}

/// `column` (named `name` in SQL) matches `keyword` by `mode`, case-sensitively.
fn text_match(
    backend: DbBackend,
    column: user::Column,
    name: &str,
    keyword: &str,
    mode: MatchMode,
) -> Condition {
    let upper = prefix_upper_bound(keyword);
    match (mode, backend) {
        (MatchMode::Prefix, DbBackend::Sqlite) => Condition::all()
            .add(column.gte(keyword))
            .add_option(upper.map(|upper| column.lt(upper))),
        (MatchMode::Prefix, DbBackend::Postgres) => Condition::all()
            .add(Expr::cust_with_values(
                format!(r#""{name}" COLLATE "C" >= $1"#),
                [keyword],
            ))
            .add_option(upper.map(|upper| {
                Expr::cust_with_values(format!(r#""{name}" COLLATE "C" < $1"#), [upper])
            })),
        (MatchMode::Prefix, _) => Condition::all().add(
            column.like(LikeExpr::new(format!("{}%", escape_like(keyword))).escape(LIKE_ESCAPE)),
        ),
        (MatchMode::Contains, DbBackend::Sqlite) => Condition::all().add(Expr::cust_with_values(
            format!(r#"instr("{name}", ?) > 0"#),
            [keyword],
        )),
        (MatchMode::Contains, _) => Condition::all().add(
            column.like(LikeExpr::new(format!("%{}%", escape_like(keyword))).escape(LIKE_ESCAPE)),
        ),
    }
}

/// `text` with the LIKE wildcards and the escape character escaped, to match literally.
pub(crate) fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if matches!(c, '%' | '_') || c == LIKE_ESCAPE {
            out.push(LIKE_ESCAPE);
        }
        out.push(c);
    }
    out
}

/// The smallest string above every string that starts with `prefix`, in code-point order
/// (which is UTF-8 byte order): `prefix` with its last character incremented, dropping
/// trailing U+10FFFF. `None` when there is no such string (`prefix` is all U+10FFFF).
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = next_char(last) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The next Unicode scalar value after `c`, skipping the surrogates.
fn next_char(c: char) -> Option<char> {
    match u32::from(c) + 1 {
        0xD800 => Some('\u{E000}'),
        n => char::from_u32(n),
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::ActiveValue::Set;
    use sea_orm::{
        ActiveModelTrait as _, ConnectionTrait as _, DatabaseConnection, QueryResult,
        QueryTrait as _, Statement,
    };
    use tollgate_domain::{Role, UserId, UserStatus};

    use super::*;
    use crate::testing::{Backend, ScratchDb, all_from_env, backend_of, on_every_backend};

    #[test]
    fn upper_bound_increments_the_last_character() {
        assert_eq!(prefix_upper_bound("abc").as_deref(), Some("abd"));
        assert_eq!(
            prefix_upper_bound("a\u{D7FF}").as_deref(),
            Some("a\u{E000}")
        );
        assert_eq!(prefix_upper_bound("ab\u{10FFFF}").as_deref(), Some("ac"));
        assert_eq!(prefix_upper_bound("\u{10FFFF}\u{10FFFF}"), None);
        assert_eq!(prefix_upper_bound("zoë").as_deref(), Some("zoì"));
    }

    #[test]
    fn like_wildcards_and_the_escape_are_escaped() {
        assert_eq!(escape_like("100%_a!b"), "100!%!_a!!b");
        assert_eq!(escape_like("plain"), "plain");
    }

    /// One fixture user: (username, display name, e-mail, role, group, status, deleted).
    type Row = (
        &'static str,
        &'static str,
        Option<&'static str>,
        Role,
        &'static str,
        UserStatus,
        bool,
    );

    /// Inserted in this order into a fresh database, so ids are 1..=11.
    const FIXTURE: [Row; 11] = [
        (
            "root",
            "Root",
            None,
            Role::Root,
            "default",
            UserStatus::Enabled,
            false,
        ),
        (
            "admin1",
            "Admin One",
            Some("admin1@example.com"),
            Role::Admin,
            "default",
            UserStatus::Enabled,
            false,
        ),
        (
            "alice",
            "Alice Liddell",
            Some("alice@example.com"),
            Role::User,
            "default",
            UserStatus::Enabled,
            false,
        ),
        (
            "Alice2",
            "alice in caps",
            Some("ALICE2@Example.com"),
            Role::User,
            "vip",
            UserStatus::Enabled,
            false,
        ),
        (
            "bob",
            "Bobby Tables",
            Some("bob@corp.example"),
            Role::User,
            "vip",
            UserStatus::Disabled,
            false,
        ),
        (
            "carol_x",
            "100% Carol",
            None,
            Role::User,
            "default",
            UserStatus::Enabled,
            true,
        ),
        (
            "carolYx",
            "Carol!Y",
            Some("carol@example.com"),
            Role::User,
            "default",
            UserStatus::Enabled,
            false,
        ),
        (
            "dave",
            "1000 Dave",
            Some("dave@example.com"),
            Role::User,
            "default",
            UserStatus::Enabled,
            false,
        ),
        (
            "3frank",
            "Frank",
            Some("frank3@example.com"),
            Role::User,
            "svip",
            UserStatus::Enabled,
            false,
        ),
        (
            "zoe",
            "Zoë 🦀",
            Some("zoe@example.com"),
            Role::User,
            "default",
            UserStatus::Enabled,
            false,
        ),
        (
            "maxchar",
            "max\u{10FFFF}end",
            None,
            Role::User,
            "default",
            UserStatus::Enabled,
            false,
        ),
    ];

    async fn insert_fixture(db: &DatabaseConnection) {
        for (i, (username, display, email, role, group, status, deleted)) in
            FIXTURE.into_iter().enumerate()
        {
            let row = user::ActiveModel {
                username: Set(username.to_owned()),
                password_hash: Set(String::new()),
                display_name: Set(display.to_owned()),
                email: Set(email.map(str::to_owned)),
                role: Set(role.code()),
                user_group: Set(group.to_owned()),
                status: Set(status.code()),
                setting: Set("{}".to_owned()),
                created_at: Set(1_700_000_000),
                updated_at: Set(1_700_000_000),
                deleted_at: Set(deleted.then_some(1_700_000_100)),
                ..Default::default()
            };
            let inserted = row.insert(db).await.expect("insert a fixture user");
            assert_eq!(inserted.id, i as i64 + 1, "fixture ids are sequential");
        }
    }

    /// The repository over `db` with the fixture inserted, and the backend's name.
    async fn fixture(db: DatabaseConnection) -> (SeaUserRepository, Backend) {
        insert_fixture(&db).await;
        (SeaUserRepository::new(db.clone()), backend_of(&db))
    }

    /// What root sees (everyone), with no filter.
    fn everyone() -> UserQuery {
        UserQuery {
            keyword: None,
            match_mode: MatchMode::Prefix,
            group: None,
            status: None,
            visible_below: Role::Root,
            also: Some(UserId::new(1)),
            live_only: false,
        }
    }

    fn keyword(kw: &str, mode: MatchMode) -> UserQuery {
        UserQuery {
            keyword: Some(kw.to_owned()),
            match_mode: mode,
            ..everyone()
        }
    }

    /// Usernames of the first page of 100 and the total.
    async fn names(repo: &SeaUserRepository, query: &UserQuery) -> (Vec<String>, u64) {
        let page = repo
            .search_users(query, PageRequest::new(Some(1), Some(100)))
            .await
            .expect("search");
        let names = page.items.into_iter().map(|u| u.username).collect();
        (names, page.total)
    }

    async fn matches(repo: &SeaUserRepository, query: &UserQuery) -> Vec<String> {
        let (names, total) = names(repo, query).await;
        assert_eq!(total, names.len() as u64, "total of {query:?}");
        names
    }

    /// The plans of the search on 100 000 seeded users, printed and checked: a prefix search
    /// is served by one index per column, never by a table scan. Run by hand with
    /// `cargo test -p tollgate-db --lib plans -- --ignored --nocapture`.
    #[tokio::test]
    #[ignore = "seeds 100 000 users on every backend; run by hand"]
    async fn prefix_search_plans_use_the_indexes_on_100k_users() {
        for scratch in all_from_env().await.expect("scratch databases") {
            let backend = scratch.backend;
            // One connection: the session settings below apply to the statements after them.
            let db = scratch
                .connect_migrated(1)
                .await
                .expect("migrated database");
            crate::seed::seed_users(&db, 100_000, "u", "x")
                .await
                .expect("seed");
            let analyze = match backend {
                Backend::Sqlite => "ANALYZE",
                Backend::Postgres => "ANALYZE users",
                Backend::MySql => "ANALYZE TABLE users",
            };
            db.execute_unprepared(analyze).await.expect("analyze");
            let dbb = db.get_database_backend();
            let admin = |q: UserQuery| UserQuery {
                visible_below: Role::Admin,
                also: Some(UserId::new(7)),
                ..q
            };
            let cases = [
                ("prefix 'u4242'", keyword("u4242", MatchMode::Prefix)),
                (
                    "prefix '4242' (also the id)",
                    keyword("4242", MatchMode::Prefix),
                ),
                (
                    "prefix 'Quiet Ot', admin scope, group vip",
                    UserQuery {
                        group: Some("vip".into()),
                        ..admin(keyword("Quiet Ot", MatchMode::Prefix))
                    },
                ),
                ("contains 'u4242'", keyword("u4242", MatchMode::Contains)),
                ("list, no keyword", everyone()),
            ];
            for (label, query) in cases {
                let page = page_select(dbb, &query, PageRequest::default()).build(dbb);
                let count = count_select(dbb, &query).build(dbb);
                for (what, statement) in [("page", page), ("count", count)] {
                    let plan = explain(&db, backend, statement.clone()).await;
                    println!("--- {backend}, {label}, {what}:\n{}", plan.join("\n"));
                    if label.starts_with("prefix") {
                        assert_indexed(backend, &plan);
                    }
                    if backend == Backend::Postgres {
                        // sqlx prepares statements, and PostgreSQL switches a prepared
                        // statement to a generic plan (blind to the values) after 5 runs.
                        let plan = generic_plan(&db, statement).await;
                        println!(
                            "--- {backend}, {label}, {what}, generic:\n{}",
                            plan.join("\n")
                        );
                        if label.starts_with("prefix") {
                            assert_indexed(backend, &plan);
                        }
                    }
                }
            }
            db.close().await.expect("close the pool");
            ScratchDb::drop_database(scratch).await.expect("drop");
        }
    }

    /// The plan of `statement`, one line per row of EXPLAIN (PostgreSQL: EXPLAIN ANALYZE).
    async fn explain(
        db: &DatabaseConnection,
        backend: Backend,
        statement: Statement,
    ) -> Vec<String> {
        let prefix = match backend {
            Backend::Sqlite => "EXPLAIN QUERY PLAN",
            Backend::Postgres => "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)",
            Backend::MySql => "EXPLAIN",
        };
        let statement = Statement {
            sql: format!("{prefix} {}", statement.sql),
            ..statement
        };
        let rows = db.query_all_raw(statement).await.expect("explain");
        rows.iter()
            .map(|row| match backend {
                Backend::Sqlite => text(row, "detail"),
                Backend::Postgres => text(row, "QUERY PLAN"),
                Backend::MySql => ["table", "type", "key", "rows", "Extra"]
                    .map(|c| format!("{c}={}", text(row, c)))
                    .join(" "),
            })
            .collect()
    }

    /// PostgreSQL's generic plan of `statement` (`plan_cache_mode = force_generic_plan`).
    async fn generic_plan(db: &DatabaseConnection, statement: Statement) -> Vec<String> {
        use sea_orm::sea_query::{PostgresQueryBuilder, QueryBuilder as _};
        let args: Vec<String> = statement
            .values
            .iter()
            .flat_map(|v| v.0.iter())
            .map(|v| PostgresQueryBuilder.value_to_string(v))
            .collect();
        for sql in [
            "SET plan_cache_mode = force_generic_plan".to_owned(),
            format!("PREPARE tg_plan AS {}", statement.sql),
        ] {
            db.execute_unprepared(&sql).await.expect("prepare");
        }
        let plan = db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("EXPLAIN (COSTS OFF) EXECUTE tg_plan({})", args.join(", ")),
            ))
            .await
            .expect("explain execute")
            .iter()
            .map(|row| text(row, "QUERY PLAN"))
            .collect();
        for sql in ["DEALLOCATE tg_plan", "RESET plan_cache_mode"] {
            db.execute_unprepared(sql).await.expect("deallocate");
        }
        plan
    }

    /// A column of an EXPLAIN row, whatever its type.
    fn text(row: &QueryResult, column: &str) -> String {
        if let Ok(v) = row.try_get::<Option<String>>("", column) {
            return v.unwrap_or_else(|| "NULL".into());
        }
        if let Ok(v) = row.try_get::<Option<i64>>("", column) {
            return v.map_or_else(|| "NULL".into(), |v| v.to_string());
        }
        if let Ok(v) = row.try_get::<Option<u64>>("", column) {
            return v.map_or_else(|| "NULL".into(), |v| v.to_string());
        }
        "?".into()
    }

    /// Every text column is reached through its own index, and the table is never scanned.
    #[track_caller]
    fn assert_indexed(backend: Backend, plan: &[String]) {
        let all = plan.join("\n");
        let (indexes, forbidden): (&[&str], &[&str]) = match backend {
            Backend::Sqlite => (
                &["MULTI-INDEX OR", "idx_users_display_name", "uq_users_email"],
                &["SCAN users"],
            ),
            Backend::Postgres => (
                &[
                    "BitmapOr",
                    "idx_users_username_c",
                    "idx_users_display_name_c",
                    "idx_users_email_c",
                ],
                &["Seq Scan", "Index Scan Backward", "Index Only Scan"],
            ),
            Backend::MySql => (
                &["index_merge", "idx_users_display_name", "uq_users_email"],
                &["type=ALL", "type=index "],
            ),
        };
        for index in indexes {
            assert!(
                all.contains(index),
                "{backend}: {index} is not in the plan:\n{all}"
            );
        }
        for scan in forbidden {
            assert!(!all.contains(scan), "{backend}: {scan} in the plan:\n{all}");
        }
    }

    #[tokio::test]
    async fn visibility_is_scoped_by_role_plus_the_actor() {
        on_every_backend(|db| async move {
            let (repo, backend) = &fixture(db).await;
            let all = matches(repo, &everyone()).await;
            assert_eq!(all.len(), 11, "{backend}: root sees everyone");
            assert_eq!(all.last().map(String::as_str), Some("root"), "{backend}");

            let admin = UserQuery {
                visible_below: Role::Admin,
                also: Some(UserId::new(2)),
                ..everyone()
            };
            let seen = matches(repo, &admin).await;
            assert!(seen.contains(&"admin1".to_owned()), "{backend}: itself");
            assert!(!seen.contains(&"root".to_owned()), "{backend}: not above");
            assert_eq!(seen.len(), 10, "{backend}: {seen:?}");

            let other_admin = UserQuery {
                also: Some(UserId::new(3)),
                ..admin.clone()
            };
            let seen = matches(repo, &other_admin).await;
            assert!(
                !seen.contains(&"admin1".to_owned()),
                "{backend}: a peer admin"
            );

            let nobody = UserQuery {
                visible_below: Role::User,
                also: None,
                ..everyone()
            };
            assert!(matches(repo, &nobody).await.is_empty(), "{backend}");
            let only_self = UserQuery {
                visible_below: Role::User,
                also: Some(UserId::new(4)),
                ..everyone()
            };
            assert_eq!(matches(repo, &only_self).await, ["Alice2"], "{backend}");

            // The scope applies to the id match too.
            let root_by_id = UserQuery {
                keyword: Some("1".into()),
                ..admin
            };
            assert!(
                !matches(repo, &root_by_id)
                    .await
                    .contains(&"root".to_owned()),
                "{backend}"
            );
        })
        .await;
    }

    #[tokio::test]
    async fn deleted_users_are_listed_and_found() {
        on_every_backend(|db| async move {
            let (repo, backend) = &fixture(db).await;
            assert!(
                matches(repo, &everyone())
                    .await
                    .contains(&"carol_x".to_owned()),
                "{backend}"
            );
            let page = repo
                .search_users(
                    &keyword("carol_", MatchMode::Prefix),
                    PageRequest::default(),
                )
                .await
                .expect("search");
            assert_eq!(page.items.len(), 1, "{backend}");
            assert!(page.items[0].deleted_at.is_some(), "{backend}");
            // ...unless the listing asks for live users only (the REST list).
            let live = UserQuery {
                live_only: true,
                ..everyone()
            };
            let (names, total) = names(repo, &live).await;
            assert!(!names.contains(&"carol_x".to_owned()), "{backend}");
            assert_eq!(total, 10, "{backend}: {names:?}");
            let live_carol = UserQuery {
                live_only: true,
                ..keyword("carol_", MatchMode::Prefix)
            };
            assert!(matches(repo, &live_carol).await.is_empty(), "{backend}");
        })
        .await;
    }

    #[tokio::test]
    async fn group_and_status_filter_exactly() {
        on_every_backend(|db| async move {
            let (repo, backend) = &fixture(db).await;
            let vip = UserQuery {
                group: Some("vip".into()),
                ..everyone()
            };
            assert_eq!(matches(repo, &vip).await, ["bob", "Alice2"], "{backend}");
            let vi = UserQuery {
                group: Some("vi".into()),
                ..everyone()
            };
            assert!(matches(repo, &vi).await.is_empty(), "{backend}: exact");
            let disabled = UserQuery {
                status: Some(UserStatus::Disabled),
                ..everyone()
            };
            assert_eq!(matches(repo, &disabled).await, ["bob"], "{backend}");
            let enabled_vip = UserQuery {
                status: Some(UserStatus::Enabled),
                ..vip.clone()
            };
            assert_eq!(matches(repo, &enabled_vip).await, ["Alice2"], "{backend}");
            let vip_keyword = UserQuery {
                keyword: Some("b".into()),
                ..vip
            };
            assert_eq!(matches(repo, &vip_keyword).await, ["bob"], "{backend}");
        })
        .await;
    }

    #[tokio::test]
    async fn prefix_and_contains_match_the_three_columns() {
        on_every_backend(|db| async move {
            let (repo, backend) = &fixture(db).await;
            let prefix = async |kw: &str| matches(repo, &keyword(kw, MatchMode::Prefix)).await;
            let contains = async |kw: &str| matches(repo, &keyword(kw, MatchMode::Contains)).await;
            // Username, display name, e-mail.
            assert_eq!(prefix("bo").await, ["bob"], "{backend}");
            assert_eq!(prefix("Bobby T").await, ["bob"], "{backend}");
            assert_eq!(prefix("frank3@").await, ["3frank"], "{backend}");
            assert_eq!(prefix("carol").await, ["carolYx", "carol_x"], "{backend}");
            // A prefix does not match inside; contains does.
            assert!(prefix("Tables").await.is_empty(), "{backend}");
            assert_eq!(contains("Tables").await, ["bob"], "{backend}");
            assert_eq!(contains("corp.").await, ["bob"], "{backend}");
            assert_eq!(
                contains("@example.com").await.len(),
                6,
                "{backend}: every example.com address"
            );
            // The whole value is a prefix of itself; a longer keyword matches nothing.
            assert_eq!(prefix("alice@example.com").await, ["alice"], "{backend}");
            assert!(prefix("alice@example.comx").await.is_empty(), "{backend}");
            // Non-ASCII and the highest code point.
            assert_eq!(prefix("Zoë").await, ["zoe"], "{backend}");
            assert!(prefix("Zoe").await.is_empty(), "{backend}");
            assert_eq!(contains("🦀").await, ["zoe"], "{backend}");
            assert_eq!(prefix("max\u{10FFFF}").await, ["maxchar"], "{backend}");
            assert_eq!(prefix("max\u{10FFFF}e").await, ["maxchar"], "{backend}");
            // Blank keywords are no keyword; the keyword is trimmed.
            assert_eq!(prefix("   ").await.len(), 11, "{backend}");
            assert_eq!(prefix("  bob\t").await, ["bob"], "{backend}");
            assert!(prefix("nul\0").await.is_empty(), "{backend}");
        })
        .await;
    }

    #[tokio::test]
    async fn matching_is_case_sensitive() {
        on_every_backend(|db| async move {
            let (repo, backend) = &fixture(db).await;
            let prefix = async |kw: &str| matches(repo, &keyword(kw, MatchMode::Prefix)).await;
            let contains = async |kw: &str| matches(repo, &keyword(kw, MatchMode::Contains)).await;
            assert_eq!(prefix("Alice2").await, ["Alice2"], "{backend}");
            assert!(prefix("alice2").await.is_empty(), "{backend}");
            assert!(prefix("ALICE2@example").await.is_empty(), "{backend}");
            assert_eq!(prefix("ALICE").await, ["Alice2"], "{backend}: e-mail only");
            assert_eq!(prefix("alice").await, ["Alice2", "alice"], "{backend}");
            assert_eq!(contains("Example").await, ["Alice2"], "{backend}");
            assert!(contains("BOB").await.is_empty(), "{backend}");
            assert!(prefix("ROOT").await.is_empty(), "{backend}");
        })
        .await;
    }

    #[tokio::test]
    async fn wildcards_and_the_escape_character_match_literally() {
        on_every_backend(|db| async move {
            let (repo, backend) = &fixture(db).await;
            for mode in [MatchMode::Prefix, MatchMode::Contains] {
                let find = async |kw: &str| matches(repo, &keyword(kw, mode)).await;
                assert_eq!(find("carol_").await, ["carol_x"], "{backend} {mode:?}");
                assert_eq!(find("100%").await, ["carol_x"], "{backend} {mode:?}");
                assert_eq!(find("Carol!").await, ["carolYx"], "{backend} {mode:?}");
                assert_eq!(find("Carol!Y").await, ["carolYx"], "{backend} {mode:?}");
                assert!(find("%").await.len() <= 1, "{backend} {mode:?}");
                assert!(find("_").await.len() <= 1, "{backend} {mode:?}");
                assert!(find("!%").await.is_empty(), "{backend} {mode:?}");
            }
            let contains = async |kw: &str| matches(repo, &keyword(kw, MatchMode::Contains)).await;
            assert_eq!(contains("%").await, ["carol_x"], "{backend}");
            assert_eq!(contains("_").await, ["carol_x"], "{backend}");
            assert_eq!(contains("!").await, ["carolYx"], "{backend}");
            assert_eq!(contains("0% C").await, ["carol_x"], "{backend}");
        })
        .await;
    }

    #[tokio::test]
    async fn a_numeric_keyword_also_matches_the_id() {
        on_every_backend(|db| async move {
            let (repo, backend) = &fixture(db).await;
            let prefix = async |kw: &str| matches(repo, &keyword(kw, MatchMode::Prefix)).await;
            // id 3 is alice; "3frank" starts with "3".
            assert_eq!(prefix("3").await, ["3frank", "alice"], "{backend}");
            assert_eq!(prefix(" 5 ").await, ["bob"], "{backend}");
            let contains = async |kw: &str| matches(repo, &keyword(kw, MatchMode::Contains)).await;
            // id 3, "3frank", and frank3@example.com (the same user).
            assert_eq!(contains("3").await, ["3frank", "alice"], "{backend}");
            // Contains "10" in "1000 Dave" and "100% Carol", plus id 10.
            assert_eq!(
                contains("10").await,
                ["zoe", "dave", "carol_x"],
                "{backend}"
            );
            // Zero, negatives and overflow match no id (and do not fail).
            assert!(prefix("0").await.is_empty(), "{backend}");
            assert!(prefix("-3").await.is_empty(), "{backend}");
            assert!(prefix("99999999999999999999").await.is_empty(), "{backend}");
            assert!(prefix("42").await.is_empty(), "{backend}: no such id");
        })
        .await;
    }

    #[tokio::test]
    async fn pages_are_newest_first_with_the_total_of_all_matches() {
        on_every_backend(|db| async move {
            let (repo, backend) = &fixture(db).await;
            let mut seen = Vec::new();
            for p in 1..=4 {
                let page = repo
                    .search_users(&everyone(), PageRequest::new(Some(p), Some(3)))
                    .await
                    .expect("search");
                assert_eq!(page.total, 11, "{backend} page {p}");
                assert_eq!(page.request.page(), p as u64, "{backend}");
                assert_eq!(page.items.len(), if p < 4 { 3 } else { 2 }, "{backend}");
                seen.extend(page.items.into_iter().map(|u| u.id.get()));
            }
            assert_eq!(seen, (1..=11).rev().collect::<Vec<i64>>(), "{backend}");

            let beyond = repo
                .search_users(&everyone(), PageRequest::new(Some(5), Some(3)))
                .await
                .expect("search");
            assert!(beyond.items.is_empty(), "{backend}");
            assert_eq!(beyond.total, 11, "{backend}");
            let absurd = repo
                .search_users(&everyone(), PageRequest::new(Some(i64::MAX), Some(100)))
                .await
                .expect("search");
            assert!(absurd.items.is_empty(), "{backend}");

            let filtered = repo
                .search_users(
                    &keyword("example", MatchMode::Contains),
                    PageRequest::new(Some(2), Some(2)),
                )
                .await
                .expect("search");
            assert_eq!(filtered.total, 7, "{backend}");
            let ids: Vec<i64> = filtered.items.iter().map(|u| u.id.get()).collect();
            assert_eq!(ids, [8, 7], "{backend}");
        })
        .await;
    }
}
