use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Incident {
    Table,
    Id,
    Status,
    Severity,
    Title,
    Summary,
    StartAt,
    EndAt,
    Silent,
    LastNotifiedStatus,
    Origin,
    AutoStart,
    SlackChannel,
    SlackTs,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum IncidentUpdate {
    Table,
    Id,
    IncidentId,
    CreatedAt,
    Message,
    NewStatus,
    Author,
}

#[derive(DeriveIden)]
enum Alert {
    Table,
    Id,
    IncidentId,
    Source,
    ExternalId,
    Message,
    Description,
    CreatedAt,
    UpdatedAt,
    ResolvedAt,
}

#[derive(DeriveIden)]
enum SiteSettings {
    Table,
    Id,
    SystemName,
    SupportEmail,
    SupportPhone,
    LegalNoticeUrl,
    PrivacyUrl,
    ColorPrimary,
    ColorLink,
    ColorSuccess,
    ColorWarning,
    ColorDanger,
    ColorInfo,
    ColorTextPrimary,
    ColorTextSecondary,
    LogoContentType,
    LogoData,
    TimeZone,
    DefaultLanguage,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum NotificationSettings {
    Table,
    Id,
    AllowSubscriptions,
    ReplyTo,
    NotifyMaintenance,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SlackSettings {
    Table,
    Id,
    BotToken,
    SigningSecret,
    ChannelName,
    ChannelId,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AlertSource {
    Table,
    Source,
    Secret,
    CreatedAt,
    RotatedAt,
}

#[derive(DeriveIden)]
enum Subscriber {
    Table,
    Id,
    Email,
    Active,
    Token,
    CreatedAt,
    ConfirmedAt,
    LastMailAt,
}

#[derive(DeriveIden)]
enum AdminUser {
    Table,
    Id,
    Username,
    PasswordHash,
    Active,
    CreatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum SecondFactor {
    Table,
    Id,
    UserId,
    Kind,
    Name,
    Secret,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum AuditEntry {
    Table,
    Id,
    At,
    ActorKind,
    ActorName,
    IncidentId,
    Message,
}

#[derive(DeriveIden)]
enum Job {
    Table,
    Id,
    Kind,
    Payload,
    Status,
    Attempts,
    MaxAttempts,
    RunAt,
    LockedUntil,
    LockedBy,
    LastError,
    SerialKey,
    DedupeKey,
    CreatedAt,
    UpdatedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum NotificationDelivery {
    Table,
    Id,
    SubscriberId,
    IncidentId,
    Status,
    State,
    Attempts,
    LastError,
    CreatedAt,
    SentAt,
}

fn id(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .take()
}

fn singleton_id(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .integer()
        .not_null()
        .primary_key()
        .take()
}

fn timestamp(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .take()
}

fn timestamp_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .take()
}

fn string(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).string().not_null().take()
}

fn string_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).string().null().take()
}

fn text(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).text().not_null().take()
}

fn text_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).text().null().take()
}

fn flag(name: impl IntoIden, default: bool) -> ColumnDef {
    ColumnDef::new(name)
        .boolean()
        .not_null()
        .default(default)
        .take()
}

fn counter(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).integer().not_null().default(0).take()
}

fn foreign_id(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Incident::Table)
                    .col(id(Incident::Id))
                    .col(string(Incident::Status))
                    .col(string(Incident::Severity))
                    .col(string(Incident::Title))
                    .col(text_null(Incident::Summary))
                    .col(timestamp(Incident::StartAt))
                    .col(timestamp_null(Incident::EndAt))
                    .col(flag(Incident::Silent, false))
                    .col(string_null(Incident::LastNotifiedStatus))
                    .col(string(Incident::Origin))
                    .col(flag(Incident::AutoStart, false))
                    .col(string_null(Incident::SlackChannel))
                    .col(string_null(Incident::SlackTs))
                    .col(timestamp(Incident::CreatedAt))
                    .col(timestamp(Incident::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("incident_status", Incident::Status),
            ("incident_start_at", Incident::StartAt),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Incident::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        // The guarantee behind "two alerts at the same moment never open two incidents":
        // only alert intake creates suspected incidents, and the database admits one at a
        // time. A racing intake hits this index, retries, and attaches to the winner.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX incident_single_suspected ON incident (status) \
                 WHERE status = 'suspected'",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IncidentUpdate::Table)
                    .col(id(IncidentUpdate::Id))
                    .col(foreign_id(IncidentUpdate::IncidentId))
                    .col(timestamp(IncidentUpdate::CreatedAt))
                    .col(text(IncidentUpdate::Message))
                    .col(string_null(IncidentUpdate::NewStatus))
                    .col(string(IncidentUpdate::Author))
                    .foreign_key(
                        ForeignKey::create()
                            .from(IncidentUpdate::Table, IncidentUpdate::IncidentId)
                            .to(Incident::Table, Incident::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("incident_update_incident")
                    .table(IncidentUpdate::Table)
                    .col(IncidentUpdate::IncidentId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Alert::Table)
                    .col(id(Alert::Id))
                    .col(foreign_id(Alert::IncidentId))
                    .col(string(Alert::Source))
                    .col(string(Alert::ExternalId))
                    .col(text(Alert::Message))
                    .col(text_null(Alert::Description))
                    .col(timestamp(Alert::CreatedAt))
                    .col(timestamp(Alert::UpdatedAt))
                    .col(timestamp_null(Alert::ResolvedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Alert::Table, Alert::IncidentId)
                            .to(Incident::Table, Incident::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("alert_source_external_id")
                    .table(Alert::Table)
                    .col(Alert::Source)
                    .col(Alert::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("alert_incident")
                    .table(Alert::Table)
                    .col(Alert::IncidentId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SiteSettings::Table)
                    .col(singleton_id(SiteSettings::Id))
                    .col(string(SiteSettings::SystemName))
                    .col(string_null(SiteSettings::SupportEmail))
                    .col(string_null(SiteSettings::SupportPhone))
                    .col(string_null(SiteSettings::LegalNoticeUrl))
                    .col(string_null(SiteSettings::PrivacyUrl))
                    .col(string(SiteSettings::ColorPrimary))
                    .col(string(SiteSettings::ColorLink))
                    .col(string(SiteSettings::ColorSuccess))
                    .col(string(SiteSettings::ColorWarning))
                    .col(string(SiteSettings::ColorDanger))
                    .col(string(SiteSettings::ColorInfo))
                    .col(string(SiteSettings::ColorTextPrimary))
                    .col(string(SiteSettings::ColorTextSecondary))
                    .col(string_null(SiteSettings::LogoContentType))
                    .col(ColumnDef::new(SiteSettings::LogoData).blob().null())
                    .col(string(SiteSettings::TimeZone))
                    .col(string(SiteSettings::DefaultLanguage))
                    .col(timestamp(SiteSettings::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(NotificationSettings::Table)
                    .col(singleton_id(NotificationSettings::Id))
                    .col(flag(NotificationSettings::AllowSubscriptions, false))
                    .col(string_null(NotificationSettings::ReplyTo))
                    .col(flag(NotificationSettings::NotifyMaintenance, false))
                    .col(timestamp(NotificationSettings::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SlackSettings::Table)
                    .col(singleton_id(SlackSettings::Id))
                    .col(text_null(SlackSettings::BotToken))
                    .col(text_null(SlackSettings::SigningSecret))
                    .col(string_null(SlackSettings::ChannelName))
                    .col(string_null(SlackSettings::ChannelId))
                    .col(timestamp(SlackSettings::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AlertSource::Table)
                    .col(string(AlertSource::Source).primary_key())
                    .col(string(AlertSource::Secret))
                    .col(timestamp(AlertSource::CreatedAt))
                    .col(timestamp(AlertSource::RotatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Subscriber::Table)
                    .col(id(Subscriber::Id))
                    .col(string(Subscriber::Email).unique_key())
                    .col(flag(Subscriber::Active, false))
                    .col(string(Subscriber::Token).unique_key())
                    .col(timestamp(Subscriber::CreatedAt))
                    .col(timestamp_null(Subscriber::ConfirmedAt))
                    .col(timestamp_null(Subscriber::LastMailAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AdminUser::Table)
                    .col(id(AdminUser::Id))
                    .col(string(AdminUser::Username).unique_key())
                    .col(string(AdminUser::PasswordHash))
                    .col(flag(AdminUser::Active, true))
                    .col(timestamp(AdminUser::CreatedAt))
                    .col(timestamp_null(AdminUser::LastLoginAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SecondFactor::Table)
                    .col(id(SecondFactor::Id))
                    .col(foreign_id(SecondFactor::UserId))
                    .col(string(SecondFactor::Kind))
                    .col(string(SecondFactor::Name))
                    .col(text(SecondFactor::Secret))
                    .col(timestamp(SecondFactor::CreatedAt))
                    .col(timestamp_null(SecondFactor::LastUsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SecondFactor::Table, SecondFactor::UserId)
                            .to(AdminUser::Table, AdminUser::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEntry::Table)
                    .col(id(AuditEntry::Id))
                    .col(timestamp(AuditEntry::At))
                    .col(string(AuditEntry::ActorKind))
                    .col(string(AuditEntry::ActorName))
                    .col(ColumnDef::new(AuditEntry::IncidentId).big_integer().null())
                    .col(text(AuditEntry::Message))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AuditEntry::Table, AuditEntry::IncidentId)
                            .to(Incident::Table, Incident::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("audit_entry_incident", AuditEntry::IncidentId),
            ("audit_entry_at", AuditEntry::At),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditEntry::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Job::Table)
                    .col(id(Job::Id))
                    .col(string(Job::Kind))
                    .col(text(Job::Payload))
                    .col(string(Job::Status))
                    .col(counter(Job::Attempts))
                    .col(ColumnDef::new(Job::MaxAttempts).integer().not_null())
                    .col(timestamp(Job::RunAt))
                    .col(timestamp_null(Job::LockedUntil))
                    .col(string_null(Job::LockedBy))
                    .col(text_null(Job::LastError))
                    .col(string_null(Job::SerialKey))
                    .col(string_null(Job::DedupeKey).unique_key())
                    .col(timestamp(Job::CreatedAt))
                    .col(timestamp(Job::UpdatedAt))
                    .col(timestamp_null(Job::FinishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("job_claim")
                    .table(Job::Table)
                    .col(Job::Status)
                    .col(Job::RunAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("job_serial_key")
                    .table(Job::Table)
                    .col(Job::SerialKey)
                    .col(Job::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(NotificationDelivery::Table)
                    .col(id(NotificationDelivery::Id))
                    .col(foreign_id(NotificationDelivery::SubscriberId))
                    .col(foreign_id(NotificationDelivery::IncidentId))
                    .col(string(NotificationDelivery::Status))
                    .col(string(NotificationDelivery::State))
                    .col(counter(NotificationDelivery::Attempts))
                    .col(text_null(NotificationDelivery::LastError))
                    .col(timestamp(NotificationDelivery::CreatedAt))
                    .col(timestamp_null(NotificationDelivery::SentAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                NotificationDelivery::Table,
                                NotificationDelivery::SubscriberId,
                            )
                            .to(Subscriber::Table, Subscriber::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                NotificationDelivery::Table,
                                NotificationDelivery::IncidentId,
                            )
                            .to(Incident::Table, Incident::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("notification_delivery_once")
                    .table(NotificationDelivery::Table)
                    .col(NotificationDelivery::SubscriberId)
                    .col(NotificationDelivery::IncidentId)
                    .col(NotificationDelivery::Status)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents, so foreign keys never block the drop.
        for table in [
            NotificationDelivery::Table.into_iden(),
            Job::Table.into_iden(),
            AuditEntry::Table.into_iden(),
            SecondFactor::Table.into_iden(),
            AdminUser::Table.into_iden(),
            Subscriber::Table.into_iden(),
            AlertSource::Table.into_iden(),
            SlackSettings::Table.into_iden(),
            NotificationSettings::Table.into_iden(),
            SiteSettings::Table.into_iden(),
            Alert::Table.into_iden(),
            IncidentUpdate::Table.into_iden(),
            Incident::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
