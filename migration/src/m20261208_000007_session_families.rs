use sea_orm_migration::prelude::*;

/// Refresh tokens in families: every token a sign-in hands out, rotated or not, shares
/// the sign-in's `family`, so a rotated token used again ends the whole sign-in, and a
/// user's "other sessions" are the other families. `used_at` marks a rotated token
/// (kept until it expires, to recognise reuse); `authenticated_at` is when the user
/// last gave a password or second factor in this sign-in, for step-up checks.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RefreshToken {
    Table,
    Family,
    UsedAt,
    AuthenticatedAt,
}

const FAMILY_INDEX: &str = "idx_refresh_token_family";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for column in [
            ColumnDef::new(RefreshToken::Family)
                .string()
                .not_null()
                .default("")
                .to_owned(),
            ColumnDef::new(RefreshToken::UsedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(RefreshToken::AuthenticatedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(RefreshToken::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        // Sessions from before: each its own sign-in.
        manager
            .exec_stmt(
                Query::update()
                    .table(RefreshToken::Table)
                    .value(
                        RefreshToken::Family,
                        Expr::cust("'legacy-' || CAST(id AS TEXT)"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(FAMILY_INDEX)
                    .table(RefreshToken::Table)
                    .col(RefreshToken::Family)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(FAMILY_INDEX)
                    .table(RefreshToken::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            RefreshToken::AuthenticatedAt,
            RefreshToken::UsedAt,
            RefreshToken::Family,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(RefreshToken::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
