use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    PasswordHash,
    DisplayName,
    Role,
    Status,
    Email,
    UserGroup,
    Quota,
    UsedQuota,
    RequestCount,
    AffCode,
    AffCount,
    AffQuota,
    AffHistoryQuota,
    InviterId,
    Setting,
    AccessTokenHash,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
    DeletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(
                        ColumnDef::new(Users::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    // Unique across deleted rows too: a deleted user's name stays reserved.
                    .col(ColumnDef::new(Users::Username).string_len(64).not_null().unique_key())
                    // Empty for accounts without a password (OAuth-only).
                    .col(ColumnDef::new(Users::PasswordHash).string_len(255).not_null())
                    .col(ColumnDef::new(Users::DisplayName).string_len(64).not_null())
                    .col(ColumnDef::new(Users::Role).integer().not_null().default(1))
                    .col(ColumnDef::new(Users::Status).integer().not_null().default(1))
                    // NULL when unset, so a unique index can be added without clashing blanks.
                    .col(ColumnDef::new(Users::Email).string_len(255).null())
                    .col(
                        ColumnDef::new(Users::UserGroup)
                            .string_len(64)
                            .not_null()
                            .default("default"),
                    )
                    .col(ColumnDef::new(Users::Quota).big_integer().not_null().default(0))
                    .col(ColumnDef::new(Users::UsedQuota).big_integer().not_null().default(0))
                    .col(ColumnDef::new(Users::RequestCount).big_integer().not_null().default(0))
                    .col(ColumnDef::new(Users::AffCode).string_len(32).null().unique_key())
                    .col(ColumnDef::new(Users::AffCount).big_integer().not_null().default(0))
                    .col(ColumnDef::new(Users::AffQuota).big_integer().not_null().default(0))
                    .col(
                        ColumnDef::new(Users::AffHistoryQuota)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ColumnDef::new(Users::InviterId).big_integer().null())
                    .col(ColumnDef::new(Users::Setting).text().not_null())
                    // SHA-256 hex of the access token; the token itself is never stored.
                    .col(ColumnDef::new(Users::AccessTokenHash).string_len(64).null().unique_key())
                    .col(ColumnDef::new(Users::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Users::UpdatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Users::LastLoginAt).big_integer().null())
                    .col(ColumnDef::new(Users::DeletedAt).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_users_email")
                    .table(Users::Table)
                    .col(Users::Email)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_users_role")
                    .table(Users::Table)
                    .col(Users::Role)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_users_inviter_id")
                    .table(Users::Table)
                    .col(Users::InviterId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}
