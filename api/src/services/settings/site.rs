//! The site and notification settings: the product's name, contacts, colours, time
//! zone and language, and who gets mail and from whom. Each change is checked in full
//! before anything is stored.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

use super::service::{SettingsError, SettingsService, missing};
use crate::domain::{Actor, Field};
use crate::events::{DomainEvent, SettingsSection};
use crate::services::audit;
use crate::services::tx;
use crate::services::views::{Branding, NotificationSettings};
use crate::store::settings::{self, SINGLETON};
use crate::store::{notification_settings, site_settings};

fn invalid(field: Field, message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        field,
        message: message.into(),
    }
}

/// A change to the site settings; `None` keeps a value, `Some("")` clears an optional one.
#[derive(Clone, Debug, Default)]
pub struct SiteChange {
    pub system_name: Option<String>,
    pub support_email: Option<String>,
    pub support_phone: Option<String>,
    pub legal_notice_url: Option<String>,
    pub privacy_url: Option<String>,
    /// `(setting, #rrggbb)` pairs, e.g. `("primary", "#1f2937")`.
    pub colors: Vec<(String, String)>,
    pub time_zone: Option<String>,
    pub default_language: Option<String>,
}

/// A change to the notification settings; `None` keeps a value.
#[derive(Clone, Debug, Default)]
pub struct NotificationChange {
    pub allow_subscriptions: Option<bool>,
    /// `Some("")` removes the reply-to address.
    pub reply_to: Option<String>,
    pub notify_maintenance: Option<bool>,
}

/// Languages the public pages and mails are written in.
pub const LANGUAGES: &[&str] = &["en", "de"];

fn optional(value: &str) -> Option<String> {
    Some(value.trim().to_owned()).filter(|v| !v.is_empty())
}

fn check_url(field: Field, value: Option<&str>) -> Result<(), SettingsError> {
    match value {
        Some(url)
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 500 =>
        {
            Err(invalid(field, "use a full http:// or https:// address"))
        }
        _ => Ok(()),
    }
}

/// A contact address, checked loosely: relays and people decide what is deliverable.
fn check_email(field: Field, value: Option<&str>) -> Result<(), SettingsError> {
    match value {
        Some(email) if !email.contains('@') || email.len() > 254 => {
            Err(invalid(field, "use an address like support@example.com"))
        }
        _ => Ok(()),
    }
}

fn check_color(field: Field, value: &str) -> Result<String, SettingsError> {
    let hex = value.trim().strip_prefix('#').unwrap_or("");
    if hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(format!("#{}", hex.to_ascii_lowercase()))
    } else {
        Err(invalid(field, "use a colour like #1f2937"))
    }
}

impl SettingsService {
    /// The product's name and colours, as mails and the subscription pages show them.
    pub async fn branding(&self) -> Result<Branding, SettingsError> {
        settings::site(&self.deps.db)
            .await?
            .map(Branding::from)
            .ok_or_else(|| missing("site"))
    }

    pub async fn notifications(&self) -> Result<NotificationSettings, SettingsError> {
        settings::notifications(&self.deps.db)
            .await?
            .map(NotificationSettings::from)
            .ok_or_else(|| missing("notification"))
    }

    /// Changes site settings after checking every value; all or nothing.
    pub async fn update_site(
        &self,
        change: SiteChange,
        actor: &Actor,
    ) -> Result<(), SettingsError> {
        let mut row = site_settings::ActiveModel {
            id: Set(SINGLETON),
            updated_at: Set(Utc::now()),
            ..Default::default()
        };
        let mut what = Vec::new();
        if let Some(name) = change.system_name.as_deref().map(str::trim) {
            if name.is_empty() || name.chars().count() > 100 {
                return Err(invalid(
                    Field::SystemName,
                    "give the product's name, up to 100 characters",
                ));
            }
            row.system_name = Set(name.to_owned());
            what.push("system name");
        }
        if let Some(email) = &change.support_email {
            let email = optional(email);
            check_email(Field::SupportEmail, email.as_deref())?;
            row.support_email = Set(email);
            what.push("support e-mail");
        }
        if let Some(phone) = &change.support_phone {
            row.support_phone = Set(optional(phone));
            what.push("support phone");
        }
        if let Some(url) = &change.legal_notice_url {
            let url = optional(url);
            check_url(Field::LegalNoticeUrl, url.as_deref())?;
            row.legal_notice_url = Set(url);
            what.push("legal notice URL");
        }
        if let Some(url) = &change.privacy_url {
            let url = optional(url);
            check_url(Field::PrivacyUrl, url.as_deref())?;
            row.privacy_url = Set(url);
            what.push("privacy URL");
        }
        for (name, value) in &change.colors {
            let (field, column): (Field, &mut sea_orm::ActiveValue<String>) = match name.as_str() {
                "primary" => (Field::PrimaryColour, &mut row.color_primary),
                "link" => (Field::LinkColour, &mut row.color_link),
                "success" => (Field::SuccessColour, &mut row.color_success),
                "warning" => (Field::WarningColour, &mut row.color_warning),
                "danger" => (Field::DangerColour, &mut row.color_danger),
                "info" => (Field::InfoColour, &mut row.color_info),
                "text_primary" => (Field::PrimaryTextColour, &mut row.color_text_primary),
                "text_secondary" => (Field::SecondaryTextColour, &mut row.color_text_secondary),
                _ => {
                    return Err(invalid(
                        Field::Colour,
                        format!("{name} is not a theme colour"),
                    ));
                }
            };
            *column = Set(check_color(field, value)?);
            what.push("colours");
        }
        if let Some(zone) = change.time_zone.as_deref().map(str::trim) {
            if zone.parse::<chrono_tz::Tz>().is_err() {
                return Err(invalid(
                    Field::TimeZone,
                    "use an IANA name like Europe/Berlin",
                ));
            }
            row.time_zone = Set(zone.to_owned());
            what.push("time zone");
        }
        if let Some(language) = change.default_language.as_deref().map(str::trim) {
            if !LANGUAGES.contains(&language) {
                return Err(invalid(
                    Field::Language,
                    format!("choose one of: {}", LANGUAGES.join(", ")),
                ));
            }
            row.default_language = Set(language.to_owned());
            what.push("language");
        }
        what.dedup();
        tx::write_tx!(&self.deps.db, SettingsError, |txn| {
            row.clone().update(txn).await?;
            audit::record(
                txn,
                actor,
                None,
                format!("Changed the site settings: {}", what.join(", ")),
            )
            .await?;
            Ok(())
        })?;
        self.deps.events.publish(DomainEvent::SettingsChanged {
            section: SettingsSection::Site,
        });
        Ok(())
    }

    /// Changes notification settings.
    pub async fn update_notifications(
        &self,
        change: NotificationChange,
        actor: &Actor,
    ) -> Result<(), SettingsError> {
        let mut row = notification_settings::ActiveModel {
            id: Set(SINGLETON),
            updated_at: Set(Utc::now()),
            ..Default::default()
        };
        if let Some(allow) = change.allow_subscriptions {
            row.allow_subscriptions = Set(allow);
        }
        if let Some(reply_to) = &change.reply_to {
            let reply_to = optional(reply_to);
            check_email(Field::ReplyTo, reply_to.as_deref())?;
            row.reply_to = Set(reply_to);
        }
        if let Some(notify) = change.notify_maintenance {
            row.notify_maintenance = Set(notify);
        }
        tx::write_tx!(&self.deps.db, SettingsError, |txn| {
            row.clone().update(txn).await?;
            audit::record(txn, actor, None, "Changed the notification settings").await?;
            Ok(())
        })?;
        self.deps.events.publish(DomainEvent::SettingsChanged {
            section: SettingsSection::Notifications,
        });
        Ok(())
    }

    /// Turns new subscriptions on or off.
    pub async fn set_allow_subscriptions(
        &self,
        allow: bool,
        actor: &Actor,
    ) -> Result<(), SettingsError> {
        tx::write_tx!(&self.deps.db, SettingsError, |txn| {
            notification_settings::ActiveModel {
                id: Set(SINGLETON),
                allow_subscriptions: Set(allow),
                updated_at: Set(Utc::now()),
                ..Default::default()
            }
            .update(txn)
            .await?;
            let what = if allow { "Opened" } else { "Closed" };
            audit::record(txn, actor, None, format!("{what} new subscriptions")).await?;
            Ok::<_, SettingsError>(())
        })?;
        self.deps.events.publish(DomainEvent::SettingsChanged {
            section: SettingsSection::Notifications,
        });
        Ok(())
    }
}
