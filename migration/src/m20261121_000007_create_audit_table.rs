use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Who did what to whom. No foreign keys: the log outlives the accounts it mentions.
#[derive(DeriveIden)]
enum Audit {
    Table,
    Id,
    ActorId,
    TargetId,
    Action,
    Before,
    After,
    Ip,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::create_table(
            manager,
            Table::create()
                .table(Audit::Table)
                .col(
                    ColumnDef::new(Audit::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(Audit::ActorId).big_integer().null())
                .col(ColumnDef::new(Audit::TargetId).big_integer().null())
                .col(ColumnDef::new(Audit::Action).string_len(32).not_null())
                .col(ColumnDef::new(Audit::Before).text().null())
                .col(ColumnDef::new(Audit::After).text().null())
                .col(ColumnDef::new(Audit::Ip).string_len(64).null())
                .col(ColumnDef::new(Audit::CreatedAt).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("idx_audit_actor_id", Audit::ActorId),
            ("idx_audit_target_id", Audit::TargetId),
            ("idx_audit_created_at", Audit::CreatedAt),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Audit::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Audit::Table).to_owned())
            .await
    }
}
