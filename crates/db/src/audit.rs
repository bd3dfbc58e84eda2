//! [`AuditRepository`] over sea-orm, and the insert that other adapters call inside their own
//! transactions so that an act and its audit record commit together.

use anyhow::anyhow;
use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait as _, Query};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait as _, Condition, ConnectionTrait, DatabaseConnection, EntityTrait as _,
    PaginatorTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
};
use tollgate_domain::audit::{AuditAction, AuditEntry, AuditFilter, AuditRecord};
use tollgate_domain::ports::AuditRepository;
use tollgate_domain::{Page, PageRequest, RepoError, UserId};

use crate::entities::{audit, user};
use crate::error::unexpected;

/// Inserts one audit record with the caller's connection or transaction; returns its id.
pub(crate) async fn insert<C: ConnectionTrait>(
    conn: &C,
    entry: &AuditEntry,
) -> Result<i64, sea_orm::DbErr> {
    let row = audit::ActiveModel {
        id: NotSet,
        actor_id: Set(entry.actor_id.map(UserId::get)),
        target_id: Set(entry.target_id.map(UserId::get)),
        action: Set(entry.action.as_str().to_owned()),
        before: Set(entry.before.as_ref().map(ToString::to_string)),
        after: Set(entry.after.as_ref().map(ToString::to_string)),
        ip: Set(entry.ip.clone()),
        created_at: Set(entry.at),
    };
    Ok(audit::Entity::insert(row).exec(conn).await?.last_insert_id)
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
            actor_id: m.actor_id.map(UserId),
            target_id: m.target_id.map(UserId),
            action,
            before: json(m.before)?,
            after: json(m.after)?,
            ip: m.ip,
            at: m.created_at,
        },
    })
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
        if let Some(below) = filter.visible_below {
            // Visible unless the target is a user at or above the reader's role; entries
            // about the reader itself and about no user (or a deleted row) stay visible.
            let protected = Query::select()
                .column(user::Column::Id)
                .from(user::Entity)
                .and_where(Expr::col(user::Column::Role).gte(below))
                .to_owned();
            let mut visible = Condition::any()
                .add(audit::Column::TargetId.is_null())
                .add(audit::Column::TargetId.not_in_subquery(protected));
            if let Some(me) = filter.also {
                visible = visible.add(audit::Column::TargetId.eq(me.get()));
            }
            cond = cond.add(visible);
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
}
