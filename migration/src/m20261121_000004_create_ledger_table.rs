use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Ledger {
    Table,
    Id,
    UserId,
    Account,
    Delta,
    BalanceAfter,
    Kind,
    Reference,
    ActorId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::create_table(
            manager,
            Table::create()
                .table(Ledger::Table)
                .col(
                    ColumnDef::new(Ledger::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                // No foreign key: the ledger outlives the accounts it records.
                .col(ColumnDef::new(Ledger::UserId).big_integer().not_null())
                .col(ColumnDef::new(Ledger::Account).string_len(16).not_null())
                .col(ColumnDef::new(Ledger::Delta).big_integer().not_null())
                .col(
                    ColumnDef::new(Ledger::BalanceAfter)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(Ledger::Kind).string_len(32).not_null())
                .col(ColumnDef::new(Ledger::Reference).string_len(128).not_null())
                .col(ColumnDef::new(Ledger::ActorId).big_integer().null())
                .col(ColumnDef::new(Ledger::CreatedAt).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        // The idempotency key: one business event applies at most once.
        manager
            .create_index(
                Index::create()
                    .name("uq_ledger_kind_reference")
                    .table(Ledger::Table)
                    .col(Ledger::Kind)
                    .col(Ledger::Reference)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_ledger_user_account")
                    .table(Ledger::Table)
                    .col(Ledger::UserId)
                    .col(Ledger::Account)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Ledger::Table).to_owned())
            .await
    }
}
