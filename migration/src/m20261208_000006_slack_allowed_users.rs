use sea_orm_migration::prelude::*;

/// Who may change the status page from Slack: `NULL` (the default) means the members of
/// the configured channel; otherwise a comma-separated list of Slack user ids, and only
/// those people.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SlackSettings {
    Table,
    AllowedUserIds,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SlackSettings::Table)
                    .add_column(ColumnDef::new(SlackSettings::AllowedUserIds).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SlackSettings::Table)
                    .drop_column(SlackSettings::AllowedUserIds)
                    .to_owned(),
            )
            .await
    }
}
