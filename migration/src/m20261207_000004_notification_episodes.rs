use sea_orm_migration::prelude::*;

/// Announcements per episode: a reopened incident is announced again ("the incident is
/// back"), and so are its later statuses. The incident remembers the episode of its last
/// announcement; deliveries and the fan-out's dedupe key carry it, so each status is
/// sent once per episode instead of once ever.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Incident {
    Table,
    NotifiedEpisode,
}

#[derive(DeriveIden)]
enum NotificationDelivery {
    Table,
    SubscriberId,
    IncidentId,
    Status,
    Episode,
}

const ONCE_EVER: &str = "notification_delivery_once";
const ONCE_PER_EPISODE: &str = "notification_delivery_once_per_episode";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Incident::Table)
                    .add_column(
                        ColumnDef::new(Incident::NotifiedEpisode)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // Everything announced so far belongs to the first episode.
        db.execute_unprepared(
            "UPDATE incident SET notified_episode = 1 WHERE last_notified_status IS NOT NULL",
        )
        .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(NotificationDelivery::Table)
                    .add_column(
                        ColumnDef::new(NotificationDelivery::Episode)
                            .integer()
                            .not_null()
                            .default(1),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(ONCE_EVER)
                    .table(NotificationDelivery::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(ONCE_PER_EPISODE)
                    .table(NotificationDelivery::Table)
                    .col(NotificationDelivery::SubscriberId)
                    .col(NotificationDelivery::IncidentId)
                    .col(NotificationDelivery::Status)
                    .col(NotificationDelivery::Episode)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Queued and finished fan-outs keep their place: `notify:{incident}:{status}`
        // becomes `notify:{incident}:{status}:1`.
        db.execute_unprepared(
            "UPDATE job SET dedupe_key = dedupe_key || ':1' \
             WHERE kind = 'notify.subscribers' AND dedupe_key LIKE 'notify:%'",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // Only the first episode fits the old "once ever" shape.
        db.execute_unprepared("DELETE FROM notification_delivery WHERE episode <> 1")
            .await?;
        db.execute_unprepared(
            "DELETE FROM job WHERE kind = 'notify.subscribers' AND dedupe_key LIKE 'notify:%' \
             AND dedupe_key NOT LIKE '%:1'",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE job SET dedupe_key = substr(dedupe_key, 1, length(dedupe_key) - 2) \
             WHERE kind = 'notify.subscribers' AND dedupe_key LIKE 'notify:%:1'",
        )
        .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(ONCE_PER_EPISODE)
                    .table(NotificationDelivery::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(ONCE_EVER)
                    .table(NotificationDelivery::Table)
                    .col(NotificationDelivery::SubscriberId)
                    .col(NotificationDelivery::IncidentId)
                    .col(NotificationDelivery::Status)
                    .unique()
                    .to_owned(),
            )
            .await?;
        for (table, column) in [
            (
                NotificationDelivery::Table.into_iden(),
                NotificationDelivery::Episode.into_iden(),
            ),
            (
                Incident::Table.into_iden(),
                Incident::NotifiedEpisode.into_iden(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
