//! Issue 7.8: the audit log is scoped by the roles the actor and the target had when an entry
//! was written, not by the live `users` rows (which vanish on a hard delete). Existing rows are
//! backfilled from the users that still exist; a row whose user is gone keeps `NULL`, which
//! the reader treats as "root only". Failed logins for names that matched no account lose the
//! typed text (often a password typed into the name field).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Audit {
    Table,
    TargetId,
    Action,
    After,
    ActorRole,
    TargetRole,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One alter option per statement (SQLite).
        for col in [Audit::ActorRole, Audit::TargetRole] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Audit::Table)
                        .add_column(ColumnDef::new(col).integer().null())
                        .to_owned(),
                )
                .await?;
        }
        for (col, id) in [
            (Audit::ActorRole, "actor_id"),
            (Audit::TargetRole, "target_id"),
        ] {
            let role = Expr::cust(format!(
                "(SELECT users.role FROM users WHERE users.id = audit.{id})"
            ));
            manager
                .exec_stmt(
                    Query::update()
                        .table(Audit::Table)
                        .value(col, role)
                        .and_where(Expr::cust(format!("audit.{id} IS NOT NULL")))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .exec_stmt(
                Query::update()
                    .table(Audit::Table)
                    .value(Audit::After, Option::<String>::None)
                    .and_where(Expr::col(Audit::Action).eq("login.failed"))
                    .and_where(Expr::col(Audit::TargetId).is_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [Audit::TargetRole, Audit::ActorRole] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Audit::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
