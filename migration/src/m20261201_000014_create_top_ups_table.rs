use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Top-up orders (online payment). `trade_no` is unique: a provider's notification names one
/// order. Money is stored in minor units (`money_cents`), the quota the order credits is fixed
/// at creation (`credited_quota`), and `status` moves from `pending` once.
#[derive(DeriveIden)]
enum TopUps {
    Table,
    Id,
    UserId,
    Provider,
    PaymentMethod,
    TradeNo,
    Amount,
    MoneyCents,
    CreditedQuota,
    Status,
    CreatedAt,
    CompletedAt,
    FailureReason,
    ProviderRef,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::create_table(
            manager,
            Table::create()
                .table(TopUps::Table)
                .col(
                    ColumnDef::new(TopUps::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(TopUps::UserId).big_integer().not_null())
                .col(ColumnDef::new(TopUps::Provider).string_len(16).not_null())
                .col(
                    ColumnDef::new(TopUps::PaymentMethod)
                        .string_len(50)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TopUps::TradeNo)
                        .string_len(191)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(TopUps::Amount).big_integer().not_null())
                .col(ColumnDef::new(TopUps::MoneyCents).big_integer().not_null())
                .col(
                    ColumnDef::new(TopUps::CreditedQuota)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(TopUps::Status).string_len(16).not_null())
                .col(ColumnDef::new(TopUps::CreatedAt).big_integer().not_null())
                .col(ColumnDef::new(TopUps::CompletedAt).big_integer().null())
                .col(ColumnDef::new(TopUps::FailureReason).string_len(255).null())
                .col(ColumnDef::new(TopUps::ProviderRef).string_len(255).null())
                .to_owned(),
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_top_ups_user_id")
                    .table(TopUps::Table)
                    .col(TopUps::UserId)
                    .col(TopUps::Id)
                    .to_owned(),
            )
            .await?;
        // Reconciliation reads pending orders oldest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_top_ups_status_created_at")
                    .table(TopUps::Table)
                    .col(TopUps::Status)
                    .col(TopUps::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TopUps::Table).to_owned())
            .await
    }
}
