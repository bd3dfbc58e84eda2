use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Redemptions {
    Table,
    Id,
    CreatedBy,
    Code,
    Status,
    Name,
    Quota,
    CreatedAt,
    RedeemedAt,
    UsedBy,
    ExpiresAt,
    DeletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::create_table(
            manager,
            Table::create()
                .table(Redemptions::Table)
                .col(
                    ColumnDef::new(Redemptions::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Redemptions::CreatedBy)
                        .big_integer()
                        .not_null(),
                )
                // New API calls this column `key`, which MySQL reserves.
                .col(
                    ColumnDef::new(Redemptions::Code)
                        .string_len(64)
                        .not_null()
                        .unique_key(),
                )
                .col(
                    ColumnDef::new(Redemptions::Status)
                        .integer()
                        .not_null()
                        .default(1),
                )
                .col(ColumnDef::new(Redemptions::Name).string_len(64).not_null())
                .col(ColumnDef::new(Redemptions::Quota).big_integer().not_null())
                .col(
                    ColumnDef::new(Redemptions::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(Redemptions::RedeemedAt).big_integer().null())
                .col(ColumnDef::new(Redemptions::UsedBy).big_integer().null())
                // NULL never expires (New API stores 0).
                .col(ColumnDef::new(Redemptions::ExpiresAt).big_integer().null())
                .col(ColumnDef::new(Redemptions::DeletedAt).big_integer().null())
                .to_owned(),
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_redemptions_name")
                    .table(Redemptions::Table)
                    .col(Redemptions::Name)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Redemptions::Table).to_owned())
            .await
    }
}
