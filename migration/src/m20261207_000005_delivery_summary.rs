use sea_orm_migration::prelude::*;

/// What pruned notification deliveries counted, per (incident, status, episode, state), so the
/// console's per-incident figures stay right after old deliveries are forgotten.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum NotificationSummary {
    Table,
    IncidentId,
    Status,
    Episode,
    State,
    Deliveries,
}

#[derive(DeriveIden)]
enum Incident {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(NotificationSummary::Table)
                    .col(
                        ColumnDef::new(NotificationSummary::IncidentId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationSummary::Status)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationSummary::Episode)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationSummary::State)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationSummary::Deliveries)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .primary_key(
                        Index::create()
                            .col(NotificationSummary::IncidentId)
                            .col(NotificationSummary::Status)
                            .col(NotificationSummary::Episode)
                            .col(NotificationSummary::State),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(NotificationSummary::Table, NotificationSummary::IncidentId)
                            .to(Incident::Table, Incident::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(NotificationSummary::Table).to_owned())
            .await
    }
}
