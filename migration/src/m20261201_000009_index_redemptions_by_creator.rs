//! An index for the admins' mint cap (issue 7.2): each capped mint sums the quota of the codes
//! its creator made in the last 24 hours, inside the write transaction.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Redemptions {
    Table,
    CreatedBy,
    CreatedAt,
}

const INDEX: &str = "idx_redemptions_created_by_created_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Redemptions::Table)
                    .col(Redemptions::CreatedBy)
                    .col(Redemptions::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table(Redemptions::Table)
                    .to_owned(),
            )
            .await
    }
}
