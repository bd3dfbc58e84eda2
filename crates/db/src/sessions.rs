//! [`SessionRepository`] over sea-orm.

use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait as _, Condition, DatabaseConnection, DbErr, EntityTrait as _, JoinType,
    QueryFilter as _, QuerySelect as _,
};
use tollgate_domain::audit::AuditEntry;
use tollgate_domain::ports::SessionRepository;
use tollgate_domain::session::refresh_reuse_audit;
use tollgate_domain::{
    ActiveSession, NewSession, RepoError, Rotation, SessionId, SessionKind, TokenHash, UserId,
};

use crate::entities::{refresh_token_use, session};
use crate::error::unexpected;
use crate::txn;

/// [`SessionRepository`] over sea-orm.
#[derive(Debug, Clone)]
pub struct SeaSessionRepository {
    db: DatabaseConnection,
}

impl SeaSessionRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

impl SeaSessionRepository {
    async fn find_one(
        &self,
        key: sea_orm::sea_query::SimpleExpr,
        now: i64,
    ) -> Result<Option<ActiveSession>, RepoError> {
        let row: Option<(i64, i64, String, i64)> = session::Entity::find()
            .select_only()
            .column(session::Column::Id)
            .column(session::Column::UserId)
            .column(session::Column::Kind)
            .column(session::Column::CreatedAt)
            .filter(key)
            .filter(active_at(now))
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to read a session"))?;
        row.map(|(id, user_id, kind, created_at)| {
            let kind = SessionKind::parse(&kind).ok_or_else(|| {
                RepoError::msg(format!("session {id} has the unknown kind {kind}"))
            })?;
            Ok(ActiveSession {
                id: SessionId::new(id),
                user_id: UserId::new(user_id),
                kind,
                created_at,
            })
        })
        .transpose()
    }
}

/// Revokes every active session of a user except `keep`, inside the caller's transaction.
pub(crate) async fn revoke_all_in<C: sea_orm::ConnectionTrait>(
    conn: &C,
    user_id: UserId,
    keep: Option<SessionId>,
    now: i64,
) -> Result<u64, sea_orm::DbErr> {
    let mut update = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(now))
        .filter(session::Column::UserId.eq(user_id.get()))
        .filter(active_at(now));
    if let Some(keep) = keep {
        update = update.filter(session::Column::Id.ne(keep.get()));
    }
    Ok(update.exec(conn).await?.rows_affected)
}

/// Neither revoked nor expired at `now`.
fn active_at(now: i64) -> Condition {
    Condition::all()
        .add(session::Column::RevokedAt.is_null())
        .add(session::Column::ExpiresAt.gt(now))
}

#[async_trait]
impl SessionRepository for SeaSessionRepository {
    #[tracing::instrument(skip_all, fields(user_id = %new.user_id))]
    async fn create(&self, new: &NewSession) -> Result<SessionId, RepoError> {
        // The session and its audit record (the login) commit together.
        let row = session::ActiveModel {
            id: NotSet,
            token_hash: Set(new.token_hash.as_str().to_owned()),
            user_id: Set(new.user_id.get()),
            kind: Set(new.kind.as_str().to_owned()),
            created_at: Set(new.created_at),
            expires_at: Set(new.expires_at),
            revoked_at: Set(None),
            ip: Set(new.ip.clone()),
            user_agent: Set(new.user_agent.clone()),
        };
        txn::write(&self.db, "failed to insert a session", async |txn| {
            let id = session::Entity::insert(row).exec(txn).await?.last_insert_id;
            if let Some(entry) = &new.audit {
                crate::audit::insert(txn, entry).await?;
            }
            Ok(SessionId::new(id))
        })
        .await
    }

    async fn find_active(
        &self,
        hash: &TokenHash,
        now: i64,
    ) -> Result<Option<ActiveSession>, RepoError> {
        self.find_one(session::Column::TokenHash.eq(hash.as_str()), now)
            .await
    }

    async fn find_active_by_id(
        &self,
        id: SessionId,
        now: i64,
    ) -> Result<Option<ActiveSession>, RepoError> {
        self.find_one(session::Column::Id.eq(id.get()), now).await
    }

    #[tracing::instrument(skip_all)]
    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        now: i64,
        expires_at: i64,
        ip: Option<String>,
    ) -> Result<Rotation, RepoError> {
        // One transaction (BEGIN IMMEDIATE on SQLite). The rotation is one conditional
        // statement: of two concurrent rotations of the same token, the second matches no row
        // (PostgreSQL and MySQL re-check it after the first commits) and then finds the token
        // among the used ones, committed by the first.
        txn::write(&self.db, "failed to rotate a refresh token", async |txn| {
            let res = session::Entity::update_many()
                .col_expr(session::Column::TokenHash, Expr::value(new.as_str()))
                .col_expr(session::Column::ExpiresAt, Expr::value(expires_at))
                .filter(session::Column::TokenHash.eq(old.as_str()))
                .filter(session::Column::Kind.eq(SessionKind::Refresh.as_str()))
                .filter(active_at(now))
                .exec(txn)
                .await?;
            if res.rows_affected == 1 {
                let (id, user_id, created_at): (i64, i64, i64) = session::Entity::find()
                    .select_only()
                    .column(session::Column::Id)
                    .column(session::Column::UserId)
                    .column(session::Column::CreatedAt)
                    .filter(session::Column::TokenHash.eq(new.as_str()))
                    .into_tuple()
                    .one(txn)
                    .await?
                    .ok_or_else(|| DbErr::RecordNotFound("the rotated session".into()))?;
                refresh_token_use::Entity::insert(refresh_token_use::ActiveModel {
                    token_hash: Set(old.as_str().to_owned()),
                    session_id: Set(id),
                    used_at: Set(now),
                })
                .exec_without_returning(txn)
                .await?;
                return Ok(Rotation::Rotated(ActiveSession {
                    id: SessionId::new(id),
                    user_id: UserId::new(user_id),
                    kind: SessionKind::Refresh,
                    created_at,
                }));
            }
            // Not current: a replay when some session already rotated it.
            let used: Option<(i64, i64)> = refresh_token_use::Entity::find()
                .select_only()
                .column(refresh_token_use::Column::SessionId)
                .column_as(session::Column::UserId, "user_id")
                .join(
                    JoinType::InnerJoin,
                    refresh_token_use::Entity::belongs_to(session::Entity)
                        .from(refresh_token_use::Column::SessionId)
                        .to(session::Column::Id)
                        .into(),
                )
                .filter(refresh_token_use::Column::TokenHash.eq(old.as_str()))
                .into_tuple()
                .one(txn)
                .await?;
            let Some((session_id, user_id)) = used else {
                return Ok(Rotation::Invalid);
            };
            let revoked = session::Entity::update_many()
                .col_expr(session::Column::RevokedAt, Expr::value(now))
                .filter(session::Column::Id.eq(session_id))
                .filter(active_at(now))
                .exec(txn)
                .await?
                .rows_affected;
            if revoked == 0 {
                // Already revoked or expired: nothing to revoke, nothing new to record.
                return Ok(Rotation::Invalid);
            }
            let (session_id, user_id) = (SessionId::new(session_id), UserId::new(user_id));
            crate::audit::insert(txn, &refresh_reuse_audit(session_id, user_id, now, ip)).await?;
            Ok(Rotation::Reused {
                session_id,
                user_id,
            })
        })
        .await
    }

    async fn revoke(&self, hash: &TokenHash, now: i64) -> Result<bool, RepoError> {
        let res = session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(now))
            .filter(session::Column::TokenHash.eq(hash.as_str()))
            .filter(active_at(now))
            .exec(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to revoke a session"))?;
        Ok(res.rows_affected > 0)
    }

    async fn revoke_by_id(
        &self,
        id: SessionId,
        now: i64,
        audit: Option<AuditEntry>,
    ) -> Result<bool, RepoError> {
        txn::write(&self.db, "failed to revoke a session", async |txn| {
            let res = session::Entity::update_many()
                .col_expr(session::Column::RevokedAt, Expr::value(now))
                .filter(session::Column::Id.eq(id.get()))
                .filter(active_at(now))
                .exec(txn)
                .await?;
            let revoked = res.rows_affected > 0;
            if let (true, Some(entry)) = (revoked, &audit) {
                crate::audit::insert(txn, entry).await?;
            }
            Ok(revoked)
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    async fn revoke_all_for_user(
        &self,
        user_id: UserId,
        keep: Option<SessionId>,
        now: i64,
    ) -> Result<u64, RepoError> {
        revoke_all_in(&self.db, user_id, keep, now)
            .await
            .map_err(|e| unexpected(e, "failed to revoke the sessions of a user").into())
    }

    async fn purge(&self, before: i64) -> Result<u64, RepoError> {
        let res = session::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(session::Column::ExpiresAt.lt(before))
                    .add(session::Column::RevokedAt.lt(before)),
            )
            .exec(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to purge sessions"))?;
        Ok(res.rows_affected)
    }
}
