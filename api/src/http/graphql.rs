//! `/graphql`: POST and GET queries, GraphiQL for browsers (the web build's own copy,
//! served by `web.rs`), and WebSocket subscriptions (`graphql-transport-ws` and the
//! legacy `graphql-ws`) on the same path.

use std::net::IpAddr;
use std::sync::Arc;

use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower_http::cors::{Any, CorsLayer};

use super::memo::{MemoKey, ResponseMemo};
use super::ready::{PlainRequest, graphql_json, ready_answer};
use super::socket::Sockets;
use crate::client_ip::{ClientIp, TrustedProxies};
use crate::graphql::{Caller, ClientAddress, Code, RefreshCookie, ensure_codes, refresh_cookie};
use crate::public::PublicSnapshot;
use crate::services::AuthService;

/// Real queries are a few KiB; this leaves room for large variables.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// A multipart request carries the logo and the query around it.
const MAX_UPLOAD_BYTES: usize = crate::services::LOGO_MAX_BYTES + MAX_BODY_BYTES;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    GraphqlState: FromRef<S>,
    TrustedProxies: FromRef<S>,
{
    // Open to every origin for public queries. Console calls carry an Authorization
    // header, which the preflight does not allow, so browsers on other sites cannot
    // make them; the refresh cookie is SameSite=Strict.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE]);
    Router::new()
        .route("/graphql", get(get_graphql).post(post_graphql))
        .layer(cors)
}

/// What `/graphql` needs: the schema, and what it takes to tell who is calling.
#[derive(Clone)]
pub struct GraphqlState {
    pub schema: crate::graphql::MonostatSchema,
    pub auth: AuthService,
    /// Answers the page's own status query without running it.
    pub snapshot: PublicSnapshot,
    /// Who may open a live socket.
    pub sockets: Sockets,
    /// Anonymous answers of the current snapshot.
    pub memo: Arc<ResponseMemo>,
}

/// Who is calling, from the `Authorization: Bearer …` header.
async fn caller(auth: &AuthService, headers: &HeaderMap) -> Caller {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Caller::Anonymous;
    };
    let token = value.to_str().ok().and_then(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
    });
    match token {
        Some(token) => authenticate(auth, token.trim()).await,
        None => Caller::InvalidToken,
    }
}

async fn authenticate(auth: &AuthService, token: &str) -> Caller {
    match auth.authenticate(token).await {
        Ok(user) => Caller::Console(user),
        Err(_) => Caller::InvalidToken,
    }
}

/// Runs `request`; an anonymous query's answer is kept under `memo` (its key and the
/// snapshot generation read before anything else of the request), which the caller
/// passes only for a request that [`only_queries`].
async fn execute(
    state: &GraphqlState,
    headers: &HeaderMap,
    client: IpAddr,
    request: async_graphql::Request,
    memo: Option<(MemoKey, u64)>,
) -> Response {
    let memo = memo.filter(|_| !headers.contains_key(header::AUTHORIZATION));
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(refresh_cookie);
    let request = request
        .data(caller(&state.auth, headers).await)
        .data(ClientAddress(client))
        .data(RefreshCookie(cookie));
    let mut response = state.schema.execute(request).await;
    ensure_codes(&mut response);
    match memo {
        // Errors (the database away for an old incident, a console field asked
        // anonymously) are answered but not kept.
        Some((key, generation)) if response.is_ok() && response.http_headers.is_empty() => {
            let answer = axum::body::Bytes::from(serde_json::to_vec(&response).unwrap_or_default());
            state.memo.keep(generation, key, answer.clone());
            graphql_json(answer)
        }
        _ => GraphQLResponse::from(response).into_response(),
    }
}

/// A request the GraphQL layer could not even read, answered in GraphQL's error shape.
fn unreadable(status: StatusCode, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": Code::BadUserInput.as_str() } }] });
    (status, Json(body)).into_response()
}

async fn post_graphql(
    State(state): State<GraphqlState>,
    ClientIp(client): ClientIp,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let multipart = media_type == "multipart/form-data";
    // A page on another site can POST text/plain or a urlencoded form here without a
    // CORS preflight; JSON it cannot. So only JSON runs (and console uploads, below).
    if !multipart && media_type != "application/json" {
        return unreadable(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send GraphQL requests as JSON (Content-Type: application/json), or use GET for queries",
        );
    }
    // Browsers send multipart forms across sites without asking; only console calls,
    // whose Authorization header no other site can send, may upload.
    if multipart && !headers.contains_key(header::AUTHORIZATION) {
        return unreadable(
            StatusCode::BAD_REQUEST,
            "file uploads need a console session (Authorization: Bearer …)",
        );
    }
    let limit = if multipart {
        MAX_UPLOAD_BYTES
    } else {
        MAX_BODY_BYTES
    };
    // The GraphQL extractor streams the body itself, past axum's limit; cap it here.
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, limit).await else {
        return unreadable(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the request is larger than {limit} bytes"),
        );
    };
    // Read before anything else, so a kept answer is never older than its generation.
    let generation = state.snapshot.generation();
    let plain = (!multipart)
        .then(|| PlainRequest::from_body(&body))
        .flatten();
    if let Some(plain) = &plain
        && let Some(answer) = ready_answer(
            &state.snapshot,
            &state.memo,
            generation,
            &headers,
            plain,
            "no-cache",
        )
    {
        return answer;
    }
    let memo = plain
        .and_then(|plain| plain.memo_key())
        .map(|key| (key, generation));
    let request = Request::from_parts(parts, axum::body::Body::from(body));
    match GraphQLRequest::<async_graphql_axum::rejection::GraphQLRejection>::from_request(
        request,
        &(),
    )
    .await
    {
        Ok(graphql) => {
            let graphql = graphql.into_inner();
            let memo = memo.filter(|_| only_queries(&graphql.query));
            execute(&state, &headers, client, graphql, memo).await
        }
        Err(rejection) => unreadable(
            StatusCode::BAD_REQUEST,
            &format!("unreadable GraphQL request: {}", rejection.0),
        ),
    }
}

async fn get_graphql(
    State(state): State<GraphqlState>,
    ClientIp(client): ClientIp,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let upgrade = headers
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if upgrade {
        return websocket(state, client, request).await;
    }
    let generation = state.snapshot.generation();
    let plain = PlainRequest::from_query_string(request.uri().query());
    if let Some(plain) = &plain
        && let Some(answer) = ready_answer(
            &state.snapshot,
            &state.memo,
            generation,
            &headers,
            plain,
            super::public::SNAPSHOT_CACHE,
        )
    {
        return get_cache_headers(answer, &headers);
    }
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html && request.uri().query().is_none_or(|q| !q.contains("query=")) {
        return super::web::graphiql_page(&state.snapshot, &headers);
    }
    match GraphQLRequest::<async_graphql_axum::rejection::GraphQLRejection>::from_request(
        request,
        &(),
    )
    .await
    {
        Ok(graphql) => {
            let graphql = graphql.into_inner();
            // GET must not change anything: links and prefetchers follow GETs.
            if !only_queries(&graphql.query) {
                return unreadable(StatusCode::METHOD_NOT_ALLOWED, "mutations need POST");
            }
            let graphql = graphql.data(crate::graphql::ReadOnly);
            let memo = plain
                .and_then(|plain| plain.memo_key())
                .map(|key| (key, generation));
            let response = execute(&state, &headers, client, graphql, memo).await;
            get_cache_headers(response, &headers)
        }
        Err(rejection) => unreadable(
            StatusCode::BAD_REQUEST,
            &format!("unreadable GraphQL request: {}", rejection.0),
        ),
    }
}

/// Public GET queries are the same for everyone: a CDN may hold them briefly, but
/// never hands a stored anonymous answer to a console call, nor stores one.
fn get_cache_headers(mut response: Response, headers: &HeaderMap) -> Response {
    let cache = if headers.contains_key(header::AUTHORIZATION) {
        "private, no-store"
    } else if response.status().is_success() {
        super::public::SNAPSHOT_CACHE
    } else {
        "no-store"
    };
    let response_headers = response.headers_mut();
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response_headers.append(header::VARY, HeaderValue::from_static("authorization"));
    response
}

fn only_queries(query: &str) -> bool {
    use async_graphql::parser::types::OperationType;
    // An unparsable query fails later with a proper error; it cannot mutate either.
    async_graphql::parser::parse_query(query).map_or(true, |document| {
        document
            .operations
            .iter()
            .all(|(_, operation)| operation.node.ty == OperationType::Query)
    })
}

async fn websocket(state: GraphqlState, client: IpAddr, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let admission = match state.sockets.admit(client).await {
        Ok(admission) => admission,
        Err(refusal) => {
            let mut response = unreadable(refusal.status(), &refusal.to_string());
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(refusal.retry_after_secs()),
            );
            return response;
        }
    };
    match super::socket::accept(upgrade, admission, state.schema.clone()) {
        Ok(response) => response,
        Err(error) => unreadable(StatusCode::BAD_REQUEST, &error.to_string()),
    }
}
