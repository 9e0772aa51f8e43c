//! The HTML page every public URL serves: the frontend's `index.html` with the current
//! state inlined, so the headline paints without a second round trip. Rendered once per
//! snapshot, like the JSON, so `/` costs no more than `/api/v2/status.json`.
//!
//! The inlined state has exactly the shape of the GraphQL `status` query that the page
//! sends itself (`web/src/graphql/status.graphql`); a test compares the two.

use serde_json::{Value, json};

use super::Snapshot;
use super::web::{HEAD_PLACEHOLDER, STATE_PLACEHOLDER};
use crate::domain::incident_path;
use crate::markdown::markdown_html;
use crate::services::{Logo, PublicIncident, SiteInfo};

/// The page's own status query (`web/src/graphql/status.graphql`). Sent
/// exactly so — as text or as its persisted-query hash — it is answered from the
/// snapshot's pre-rendered bytes instead of by the resolvers; a test keeps the two
/// files in step.
pub const STATUS_QUERY: &str = "{ status { headline generatedAt stale \
site { systemName supportEmail supportPhone legalNoticeUrl privacyUrl logoUrl timeZone \
defaultLanguage subscriptionsOpen \
theme { primary link success warning danger info textPrimary textSecondary } } \
current { id status severity title summaryHtml start end path \
updates { id created messageHtml newStatus } } \
recent { id status severity title summaryHtml start end path \
updates { id created messageHtml newStatus } } \
planned { id status severity title summaryHtml start end path \
updates { id created messageHtml newStatus } } } }";

/// `query` with every run of whitespace made one space, so layout does not matter
/// when recognising [`STATUS_QUERY`].
pub fn normalise_query(query: &str) -> String {
    query.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The page with the snapshot's state.
pub fn render(template: &str, snapshot: &Snapshot) -> String {
    let site = &snapshot.view.site;
    let state = script_safe(&state_json(snapshot).to_string());
    fill(template, &head(site), &state)
}

/// The page with no state, for the moments before the first snapshot: the page then
/// asks for it itself.
pub fn render_bare(template: &str) -> String {
    fill(template, "<title>Status</title>", "null")
}

fn fill(template: &str, head: &str, state: &str) -> String {
    template
        .replacen(HEAD_PLACEHOLDER, head, 1)
        .replacen(STATE_PLACEHOLDER, state, 1)
}

fn head(site: &SiteInfo) -> String {
    let name = escape(&site.system_name);
    let icon = site
        .logo
        .as_ref()
        .map_or_else(|| "data:,".to_owned(), |logo| escape(&logo.url()));
    format!(
        "<title>{name} status</title>\
         <meta name=\"description\" content=\"Current status, incidents and planned maintenance of {name}\">\
         <link rel=\"icon\" href=\"{icon}\">\
         <link rel=\"alternate\" type=\"application/atom+xml\" title=\"{name} status\" href=\"/feed/atom\">\
         <link rel=\"alternate\" type=\"application/rss+xml\" title=\"{name} status\" href=\"/feed/rss\">"
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JSON inside `<script>` must not be able to close it or open a comment: `<` is
/// written as its escape, which JSON readers decode back.
fn script_safe(json: &str) -> String {
    json.replace('<', "\\u003c")
}

/// The snapshot as the GraphQL `status` query would answer it.
pub fn state_json(snapshot: &Snapshot) -> Value {
    let view = &snapshot.view;
    let site = &view.site;
    let incidents =
        |list: &[PublicIncident]| -> Vec<Value> { list.iter().map(incident_json).collect() };
    json!({
        "headline": graphql_enum(&serde_json::to_value(view.headline).unwrap_or_default()),
        "generatedAt": view.generated_at.to_rfc3339(),
        "stale": snapshot.stale,
        "site": {
            "systemName": site.system_name,
            "supportEmail": site.support_email,
            "supportPhone": site.support_phone,
            "legalNoticeUrl": site.legal_notice_url,
            "privacyUrl": site.privacy_url,
            "logoUrl": site.logo.as_ref().map(Logo::url),
            "timeZone": site.time_zone,
            "defaultLanguage": site.default_language,
            "subscriptionsOpen": site.subscriptions_open,
            "theme": {
                "primary": site.theme.primary,
                "link": site.theme.link,
                "success": site.theme.success,
                "warning": site.theme.warning,
                "danger": site.theme.danger,
                "info": site.theme.info,
                "textPrimary": site.theme.text_primary,
                "textSecondary": site.theme.text_secondary,
            },
        },
        "current": incidents(&view.current),
        "recent": incidents(&view.recent),
        "planned": incidents(&view.planned),
    })
}

fn incident_json(public: &PublicIncident) -> Value {
    let incident = &public.incident;
    json!({
        "id": incident.id.0,
        "status": incident.status.as_str().to_uppercase(),
        "severity": incident.severity.as_str().to_uppercase(),
        "title": incident.title,
        "summaryHtml": incident.summary.as_deref().map(markdown_html),
        "start": incident.start.to_rfc3339(),
        "end": incident.end.map(|end| end.to_rfc3339()),
        "path": incident_path(incident.start, incident.id),
        "updates": public.updates.iter().map(|update| json!({
            "id": update.id,
            "created": update.created.to_rfc3339(),
            "messageHtml": markdown_html(&update.message),
            "newStatus": update.new_status.map(|s| s.as_str().to_uppercase()),
        })).collect::<Vec<_>>(),
    })
}

/// `"partially_unavailable"` → `"PARTIALLY_UNAVAILABLE"`, as GraphQL names enum values.
fn graphql_enum(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inlined_json_cannot_end_the_script() {
        let json = json!({ "title": "</script><script>alert(1)</script><!--" }).to_string();
        let safe = script_safe(&json);
        assert!(!safe.contains('<'), "{safe}");
        let back: Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["title"], "</script><script>alert(1)</script><!--");
    }
}
