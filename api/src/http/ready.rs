//! Anonymous reads answered without running the resolvers: the page's status query
//! from the snapshot's pre-rendered bytes, and any other query already answered in
//! this snapshot from the memo. On the incident day nearly every request is one of
//! these, so this path reads the request once and allocates little.

use std::sync::LazyLock;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use sha2::{Digest, Sha256};

use super::memo::{MemoKey, ResponseMemo};
use crate::public::{PublicSnapshot, STATUS_QUERY, STATUS_RESPONSE, normalise_query};

/// A GraphQL request as sent, before async-graphql reads it.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PlainRequest {
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    variables: Option<serde_json::Value>,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    extensions: Option<serde_json::Value>,
}

impl PlainRequest {
    /// A POST body; `None` for anything but a single JSON request.
    pub fn from_body(body: &[u8]) -> Option<Self> {
        serde_json::from_slice(body).ok()
    }

    /// A GET's query string.
    pub fn from_query_string(query: Option<&str>) -> Option<Self> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).ok()?;
        let mut request = Self::default();
        for (name, value) in pairs {
            match name.as_str() {
                "query" => request.query = Some(value),
                "variables" => request.variables = serde_json::from_str(&value).ok(),
                "operationName" => request.operation_name = Some(value),
                "extensions" => request.extensions = serde_json::from_str(&value).ok(),
                _ => {}
            }
        }
        Some(request)
    }

    /// What the memo keeps its answer under.
    pub fn memo_key(&self) -> Option<MemoKey> {
        MemoKey::new(
            self.query.as_deref()?,
            self.operation_name.as_deref(),
            self.variables.as_ref(),
        )
    }

    /// The page's status query, sent as text (any layout) or as its persisted-query
    /// hash, with no variables or operation name to change its meaning.
    fn is_status(&self) -> bool {
        let no_variables = self
            .variables
            .as_ref()
            .is_none_or(|v| v.is_null() || v.as_object().is_some_and(serde_json::Map::is_empty));
        let hash = self
            .extensions
            .as_ref()
            .and_then(|e| e.pointer("/persistedQuery/sha256Hash"))
            .and_then(|h| h.as_str());
        let asks = match (self.query.as_deref(), hash) {
            (Some(query), _) if !query.is_empty() => normalise_query(query) == STATUS_QUERY,
            (_, Some(hash)) => hash == status_query_hash(),
            _ => false,
        };
        no_variables && self.operation_name.is_none() && asks
    }
}

/// The sha256 (hex) of [`STATUS_QUERY`], its persisted-query hash.
fn status_query_hash() -> &'static str {
    static HASH: LazyLock<String> =
        LazyLock::new(|| hex::encode(Sha256::digest(STATUS_QUERY.as_bytes())));
    &HASH
}

/// The answer to an anonymous `request` without running it, if there is one ready:
/// `status_cache` is the Cache-Control of the status query's answer. The memo's
/// answers are as the resolvers gave them; the caller adds its own headers.
pub fn ready_answer(
    snapshot: &PublicSnapshot,
    memo: &ResponseMemo,
    generation: u64,
    headers: &HeaderMap,
    request: &PlainRequest,
    status_cache: &'static str,
) -> Option<Response> {
    // Console calls carry a token and may be anything; only anonymous reads qualify.
    if headers.contains_key(header::AUTHORIZATION) {
        return None;
    }
    if request.is_status() {
        // During an outage every visitor asks this, and the snapshot holds the bytes.
        let snapshot = snapshot.get()?;
        let rendered = snapshot.rendered.get(STATUS_RESPONSE)?;
        return Some(super::public::respond(
            rendered,
            headers,
            StatusCode::OK,
            status_cache,
        ));
    }
    let answer = memo.get(generation, &request.memo_key()?)?;
    metrics::counter!("monostat_graphql_memo_hits_total").increment(1);
    Some(graphql_json(answer))
}

/// A GraphQL answer as async-graphql's own responder sends it.
pub fn graphql_json(body: axum::body::Bytes) -> Response {
    use axum::response::IntoResponse;
    (
        [(
            header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/graphql-response+json"),
        )],
        body,
    )
        .into_response()
}
