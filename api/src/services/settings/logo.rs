//! The site logo: an uploaded image stored in the site settings row, so every replica
//! has it without shared disk. The public side serves it from the snapshot.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

use super::service::{SettingsError, SettingsService};
use crate::domain::{Actor, Field};
use crate::events::{DomainEvent, SettingsSection};
use crate::services::audit;
use crate::services::tx;
use crate::store::site_settings;

/// Big enough for any sensible logo, small enough to sit in memory on every replica
/// and in every snapshot.
pub const LOGO_MAX_BYTES: usize = 512 * 1024;

/// The image formats every browser shows, recognised by their first bytes: what the
/// uploader's browser claims is not trusted.
pub fn sniff_image(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some("image/png");
    }
    if data.starts_with(&[0xff, 0xd8, 0xff]) {
        return Some("image/jpeg");
    }
    if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        return Some("image/gif");
    }
    if data.len() >= 12 && data.starts_with(b"RIFF") && &data[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    // SVG is text: an optional BOM, XML declaration, comments or doctype, then <svg.
    let text = std::str::from_utf8(data).ok()?;
    let text = text.trim_start_matches('\u{feff}').trim_start();
    let looks_like_xml = text.starts_with("<?xml")
        || text.starts_with("<!--")
        || text.starts_with("<!DOCTYPE svg")
        || text.starts_with("<svg");
    (looks_like_xml && text.contains("<svg")).then_some("image/svg+xml")
}

impl SettingsService {
    /// Replaces the logo. Returns the content type it was stored with.
    pub async fn set_logo(
        &self,
        data: Vec<u8>,
        actor: &Actor,
    ) -> Result<&'static str, SettingsError> {
        if data.is_empty() {
            return Err(logo_error("the file is empty"));
        }
        if data.len() > LOGO_MAX_BYTES {
            return Err(logo_error(format!(
                "the file has {} KiB; use an image of at most {} KiB",
                data.len() / 1024,
                LOGO_MAX_BYTES / 1024
            )));
        }
        let content_type = sniff_image(&data)
            .ok_or_else(|| logo_error("use a PNG, JPEG, GIF, WebP or SVG image"))?;
        self.store_logo(Some((content_type, data)), actor, "Uploaded a new logo")
            .await?;
        Ok(content_type)
    }

    pub async fn remove_logo(&self, actor: &Actor) -> Result<(), SettingsError> {
        self.store_logo(None, actor, "Removed the logo").await
    }

    async fn store_logo(
        &self,
        logo: Option<(&'static str, Vec<u8>)>,
        actor: &Actor,
        what: &'static str,
    ) -> Result<(), SettingsError> {
        let (content_type, data) =
            logo.map_or((None, None), |(t, d)| (Some(t.to_owned()), Some(d)));
        let row = site_settings::ActiveModel {
            id: Set(1),
            logo_content_type: Set(content_type),
            logo_data: Set(data),
            updated_at: Set(Utc::now()),
            ..Default::default()
        };
        tx::write_tx!(&self.deps.db, SettingsError, |txn| {
            row.clone().update(txn).await?;
            audit::record(txn, actor, None, what).await?;
            Ok(())
        })?;
        self.deps.events.publish(DomainEvent::SettingsChanged {
            section: SettingsSection::Site,
        });
        Ok(())
    }
}

fn logo_error(message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        field: Field::Logo,
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use crate::services::settings::logo::sniff_image;

    #[test]
    fn images_are_recognised_by_their_bytes_not_their_names() {
        assert_eq!(
            sniff_image(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some("image/png")
        );
        assert_eq!(
            sniff_image(&[0xff, 0xd8, 0xff, 0xe0, 0, 0x10]),
            Some("image/jpeg")
        );
        assert_eq!(sniff_image(b"GIF89a\x01\0\x01\0"), Some("image/gif"));
        assert_eq!(sniff_image(b"RIFF\x24\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(
            sniff_image(b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            Some("image/svg+xml")
        );
        assert_eq!(sniff_image(b"<html><svg></svg></html>"), None);
        assert_eq!(sniff_image(b"MZ\x90\0 an executable"), None);
        assert_eq!(sniff_image(b"plain text"), None);
    }
}
