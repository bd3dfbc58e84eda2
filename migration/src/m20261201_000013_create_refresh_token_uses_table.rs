use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The hashes of refresh tokens that were already rotated, per session (the token family):
/// presenting one again is a replay and revokes the session (RFC 9700 §4.14.2). Rows go with
/// their session (purge, user deletion) through the cascading foreign key.
#[derive(DeriveIden)]
enum RefreshTokenUses {
    Table,
    TokenHash,
    SessionId,
    UsedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::create_table(
            manager,
            Table::create()
                .table(RefreshTokenUses::Table)
                // SHA-256 hex of the rotated refresh token.
                .col(
                    ColumnDef::new(RefreshTokenUses::TokenHash)
                        .string_len(64)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(RefreshTokenUses::SessionId)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(RefreshTokenUses::UsedAt)
                        .big_integer()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_refresh_token_uses_session_id")
                        .from(RefreshTokenUses::Table, RefreshTokenUses::SessionId)
                        .to(Sessions::Table, Sessions::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_token_uses_session_id")
                    .table(RefreshTokenUses::Table)
                    .col(RefreshTokenUses::SessionId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RefreshTokenUses::Table).to_owned())
            .await
    }
}
