use sea_orm_migration::prelude::*;

/// Second factors for console login.
///
/// `second_factor` gains what a login needs to decide in one row: whether a TOTP factor
/// was confirmed (a pending enrolment must never be asked for at login), the last TOTP
/// time step accepted (a code is good for one use only, even across replicas), and the
/// WebAuthn credential id, unique so one security key cannot be registered twice.
///
/// `second_factor_challenge` keeps the WebAuthn ceremony state between its two
/// requests in the database, so any replica can finish what another began; a row is
/// deleted when used, so each challenge is answered at most once.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AdminUser {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum SecondFactor {
    Table,
    Confirmed,
    LastStep,
    CredentialId,
}

#[derive(DeriveIden)]
enum SecondFactorChallenge {
    Table,
    Id,
    UserId,
    Purpose,
    State,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for column in [
            ColumnDef::new(SecondFactor::Confirmed)
                .boolean()
                .not_null()
                .default(true)
                .take(),
            ColumnDef::new(SecondFactor::LastStep)
                .big_integer()
                .null()
                .take(),
            ColumnDef::new(SecondFactor::CredentialId)
                .string()
                .null()
                .take(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(SecondFactor::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        // NULLs never collide in a unique index, on SQLite and PostgreSQL alike, so TOTP
        // rows need no credential id.
        manager
            .create_index(
                Index::create()
                    .name("second_factor_credential_id")
                    .table(SecondFactor::Table)
                    .col(SecondFactor::CredentialId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SecondFactorChallenge::Table)
                    .col(
                        ColumnDef::new(SecondFactorChallenge::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(SecondFactorChallenge::UserId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SecondFactorChallenge::Purpose)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SecondFactorChallenge::State)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SecondFactorChallenge::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SecondFactorChallenge::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SecondFactorChallenge::Table, SecondFactorChallenge::UserId)
                            .to(AdminUser::Table, AdminUser::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SecondFactorChallenge::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("second_factor_credential_id")
                    .table(SecondFactor::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            SecondFactor::CredentialId,
            SecondFactor::LastStep,
            SecondFactor::Confirmed,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(SecondFactor::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
