//! The HTML page every public URL serves: the frontend's `index.html` with the current
//! state inlined, so the headline paints without a second round trip. Rendered once per
//! snapshot, like the JSON, so `/` costs no more than `/api/v2/status.json`.
//!
//! The inlined state is the answer to the GraphQL `status` query that the page sends
//! itself (`web/src/graphql/status.graphql`), computed by the resolvers once per
//! snapshot (`graphql::status_response`).

use serde_json::Value;

use super::web::{HEAD_PLACEHOLDER, STATE_PLACEHOLDER};
use crate::services::SiteInfo;

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

/// The page's live subscription, exactly as the frontend sends it
/// (`StatusChangedSubscriptionDocument` in `web/src/graphql/generated.ts`). Its answer
/// is the status query's, under `statusChanged`: an open page is served from the
/// snapshot's bytes, not by the resolvers once per socket.
pub const STATUS_SUBSCRIPTION: &str = "subscription StatusChanged { statusChanged { ...StatusFields } } fragment \
StatusFields on Status { headline generatedAt stale site { systemName supportEmail \
supportPhone legalNoticeUrl privacyUrl logoUrl timeZone defaultLanguage \
subscriptionsOpen theme { primary link success warning danger info textPrimary \
textSecondary } } current { ...IncidentFields } recent { ...IncidentFields } planned \
{ ...IncidentFields } } fragment IncidentFields on Incident { id status severity \
title summaryHtml start end path updates { id created messageHtml newStatus } }";

/// `query` with every run of whitespace made one space, so layout does not matter
/// when recognising [`STATUS_QUERY`].
pub fn normalise_query(query: &str) -> String {
    query.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The page with `state`, the `status` of the status query's answer.
pub fn render(template: &str, site: &SiteInfo, state: &Value) -> String {
    let state = script_safe(&state.to_string());
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

#[cfg(test)]
mod tests {
    use serde_json::json;

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
