//! The WebAuthn relying party, built once when the service starts. Apart from the
//! ceremonies in [`super::webauthn`] because the service builds it and those ceremonies
//! import the service: in one file, the two would import each other.

use webauthn_rs::prelude::{Url, Webauthn, WebauthnBuilder};

/// The WebAuthn relying party of `MONOSTAT_SITE_URL`: its host is the RP id, the URL
/// itself the only accepted origin. An IP address cannot be an RP id.
pub(super) fn relying_party(site_url: &str) -> Result<Webauthn, String> {
    let origin = Url::parse(site_url).map_err(|error| format!("{site_url}: {error}"))?;
    let Some(host) = origin.domain().map(str::to_owned) else {
        return Err(format!(
            "MONOSTAT_SITE_URL ({site_url}) must use a host name, not an IP address"
        ));
    };
    WebauthnBuilder::new(&host, &origin)
        .and_then(|builder| builder.rp_name("monostat").build())
        .map_err(|error| format!("MONOSTAT_SITE_URL ({site_url}): {error}"))
}
