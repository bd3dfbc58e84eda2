use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Two-factor authentication: one record per user (the TOTP secret; `enabled_at` is NULL
/// between setup and the first accepted code; `last_step` is the last accepted TOTP time
/// step, so a code is never accepted twice), and the user's single-use backup codes, stored
/// as argon2id hashes. Both go with the user (hard delete) through cascading foreign keys,
/// and the codes go with the record.
#[derive(DeriveIden)]
enum TwoFactors {
    Table,
    UserId,
    Secret,
    EnabledAt,
    LastStep,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TwoFactorBackupCodes {
    Table,
    Id,
    UserId,
    CodeHash,
    CreatedAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::create_table(
            manager,
            Table::create()
                .table(TwoFactors::Table)
                .col(
                    ColumnDef::new(TwoFactors::UserId)
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                // Base32 of a 160-bit secret: 32 characters.
                .col(ColumnDef::new(TwoFactors::Secret).string_len(64).not_null())
                .col(ColumnDef::new(TwoFactors::EnabledAt).big_integer().null())
                .col(ColumnDef::new(TwoFactors::LastStep).big_integer().null())
                .col(
                    ColumnDef::new(TwoFactors::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TwoFactors::UpdatedAt)
                        .big_integer()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_two_factors_user_id")
                        .from(TwoFactors::Table, TwoFactors::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        crate::create_table(
            manager,
            Table::create()
                .table(TwoFactorBackupCodes::Table)
                .col(
                    ColumnDef::new(TwoFactorBackupCodes::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(TwoFactorBackupCodes::UserId)
                        .big_integer()
                        .not_null(),
                )
                // An argon2id PHC string (about 100 characters).
                .col(
                    ColumnDef::new(TwoFactorBackupCodes::CodeHash)
                        .string_len(255)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TwoFactorBackupCodes::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TwoFactorBackupCodes::UsedAt)
                        .big_integer()
                        .null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_two_factor_backup_codes_user_id")
                        .from(TwoFactorBackupCodes::Table, TwoFactorBackupCodes::UserId)
                        .to(TwoFactors::Table, TwoFactors::UserId)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_two_factor_backup_codes_user_id")
                    .table(TwoFactorBackupCodes::Table)
                    .col(TwoFactorBackupCodes::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TwoFactorBackupCodes::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(TwoFactors::Table).to_owned())
            .await
    }
}
