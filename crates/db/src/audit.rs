//! [`AuditRepository`] over sea-orm, and the insert that other adapters call inside their own
//! transactions so that an act and its audit record commit together.

use anyhow::anyhow;
use async_trait::async_trait;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait as _, Condition, ConnectionTrait, DatabaseConnection, EntityTrait as _,
    PaginatorTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
};
use tollgate_domain::audit::{AuditAction, AuditEntry, AuditFilter, AuditRecord, AuditScope};
use tollgate_domain::ports::AuditRepository;
use tollgate_domain::{Page, PageRequest, RepoError, Role, UserId};

use crate::entities::{audit, user};
use crate::error::unexpected;

/// Inserts one audit record with the caller's connection or transaction; returns its id.
/// Roles the entry does not carry are read from the user rows in the same transaction, so
/// the entry keeps the roles of the moment it was written (the scope of the log relies on
/// them, not on rows that may later change or vanish).
pub(crate) async fn insert<C: ConnectionTrait>(
    conn: &C,
    entry: &AuditEntry,
) -> Result<i64, sea_orm::DbErr> {
    let actor_role = match (entry.actor_role, entry.actor_id) {
        (Some(role), _) => Some(role),
        (None, Some(id)) => role_of(conn, id).await?,
        (None, None) => None,
    };
    let target_role = match (entry.target_role, entry.target_id) {
        (Some(role), _) => Some(role),
        (None, Some(id)) => role_of(conn, id).await?,
        (None, None) => None,
    };
    let row = audit::ActiveModel {
        id: NotSet,
        actor_id: Set(entry.actor_id.map(UserId::get)),
        target_id: Set(entry.target_id.map(UserId::get)),
        action: Set(entry.action.as_str().to_owned()),
        before: Set(entry.before.as_ref().map(ToString::to_string)),
        after: Set(entry.after.as_ref().map(ToString::to_string)),
        ip: Set(entry.ip.clone()),
        created_at: Set(entry.at),
        actor_role: Set(actor_role.map(Role::code)),
        target_role: Set(target_role.map(Role::code)),
    };
    Ok(audit::Entity::insert(row).exec(conn).await?.last_insert_id)
}

/// The role of a user row (deleted or not), if the row exists.
async fn role_of<C: ConnectionTrait>(conn: &C, id: UserId) -> Result<Option<Role>, sea_orm::DbErr> {
    let code: Option<i32> = user::Entity::find_by_id(id.get())
        .select_only()
        .column(user::Column::Role)
        .into_tuple()
        .one(conn)
        .await?;
    Ok(code.and_then(Role::from_code))
}

fn to_record(m: audit::Model) -> Result<AuditRecord, anyhow::Error> {
    let action = AuditAction::parse(&m.action)
        .ok_or_else(|| anyhow!("audit record {} has the unknown action {}", m.id, m.action))?;
    let json = |s: Option<String>| -> Result<Option<serde_json::Value>, anyhow::Error> {
        s.map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(anyhow::Error::from)
    };
    Ok(AuditRecord {
        id: m.id,
        entry: AuditEntry {
            actor_id: m.actor_id.map(UserId::new),
            target_id: m.target_id.map(UserId::new),
            action,
            before: json(m.before)?,
            after: json(m.after)?,
            ip: m.ip,
            at: m.created_at,
            actor_role: m.actor_role.and_then(Role::from_code),
            target_role: m.target_role.and_then(Role::from_code),
        },
    })
}

/// The SQL form of [`AuditScope::allows`] (the contract tests hold them equal).
fn scope_condition(scope: &AuditScope) -> Option<Condition> {
    if scope.reader_role == Role::Root {
        return None;
    }
    let root = Role::Root.code();
    let actor = Condition::any()
        .add(audit::Column::ActorId.is_null())
        .add(audit::Column::ActorRole.lt(root));
    let target = Condition::any()
        .add(audit::Column::TargetId.is_null())
        .add(audit::Column::TargetId.eq(scope.reader.get()))
        .add(audit::Column::TargetRole.lt(scope.reader_role.code()));
    // `role < x` is not true for NULL: an unknown role hides the entry.
    Some(Condition::all().add(actor).add(target))
}

/// [`AuditRepository`] over sea-orm.
#[derive(Debug, Clone)]
pub struct SeaAuditRepository {
    db: DatabaseConnection,
}

impl SeaAuditRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl AuditRepository for SeaAuditRepository {
    async fn record(&self, entry: &AuditEntry) -> Result<(), RepoError> {
        insert(&self.db, entry)
            .await
            .map_err(|e| unexpected(e, "failed to write an audit record"))?;
        Ok(())
    }

    async fn list(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditRecord>, RepoError> {
        let mut cond = Condition::all();
        if let Some(a) = filter.actor_id {
            cond = cond.add(audit::Column::ActorId.eq(a.get()));
        }
        if let Some(t) = filter.target_id {
            cond = cond.add(audit::Column::TargetId.eq(t.get()));
        }
        if let Some(action) = filter.action {
            cond = cond.add(audit::Column::Action.eq(action.as_str()));
        }
        if let Some(from) = filter.from {
            cond = cond.add(audit::Column::CreatedAt.gte(from));
        }
        if let Some(to) = filter.to {
            cond = cond.add(audit::Column::CreatedAt.lte(to));
        }
        if let Some(scope) = filter.scope.as_ref().and_then(scope_condition) {
            cond = cond.add(scope);
        }
        let select = audit::Entity::find().filter(cond);
        let total = select
            .clone()
            .count(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to count audit records"))?;
        let rows = select
            .order_by_desc(audit::Column::Id)
            .offset(page.offset())
            .limit(page.size())
            .all(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to read audit records"))?;
        let items = rows
            .into_iter()
            .map(to_record)
            .collect::<Result<Vec<_>, _>>()
            .map_err(RepoError)?;
        Ok(Page {
            items,
            total,
            request: page,
        })
    }

    async fn purge(&self, before: i64) -> Result<u64, RepoError> {
        let res = audit::Entity::delete_many()
            .filter(audit::Column::CreatedAt.lt(before))
            .exec(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to purge audit records"))?;
        Ok(res.rows_affected)
    }
}
