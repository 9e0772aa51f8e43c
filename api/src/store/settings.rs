//! The settings tables, each holding one row ([`SINGLETON`], made at start-up), and
//! the alert sources' webhook secrets.

use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use super::entities::{alert_source, notification_settings, site_settings, slack_settings};
use crate::domain::Origin;

/// The id of the one row of each settings table.
pub const SINGLETON: i32 = 1;

pub async fn site(conn: &impl ConnectionTrait) -> Result<Option<site_settings::Model>, DbErr> {
    site_settings::Entity::find_by_id(SINGLETON).one(conn).await
}

pub async fn notifications(
    conn: &impl ConnectionTrait,
) -> Result<Option<notification_settings::Model>, DbErr> {
    notification_settings::Entity::find_by_id(SINGLETON)
        .one(conn)
        .await
}

pub async fn slack(conn: &impl ConnectionTrait) -> Result<Option<slack_settings::Model>, DbErr> {
    slack_settings::Entity::find_by_id(SINGLETON)
        .one(conn)
        .await
}

/// The stored webhook secret of one alert source.
pub async fn alert_source(
    conn: &impl ConnectionTrait,
    source: Origin,
) -> Result<Option<alert_source::Model>, DbErr> {
    alert_source::Entity::find_by_id(source.as_str())
        .one(conn)
        .await
}
