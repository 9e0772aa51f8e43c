//! The public subscription pages: small server-rendered HTML that works without
//! JavaScript and with a screen reader.
//!
//! Confirming and unsubscribing take two steps: `GET` shows a page with a button and
//! changes nothing (mail scanners and prefetchers follow links), the button `POST`s and
//! acts. A `POST` to the unsubscribe URL is also RFC 8058's one-click request, which
//! mail clients send with the body `List-Unsubscribe=One-Click` as form-urlencoded or
//! multipart data and nothing else; it acts on the token alone and answers 200 with no
//! redirect, whatever the body. Unknown and used tokens get a friendly page with 200 too.
//!
//! `POST /subscribe` (form fields `email` and the `consent` checkbox) is the plain-HTML
//! subscription form. It answers with the service's refusals as pages: 400 without
//! consent, 403 with subscriptions closed, 429 past the limits (saying when to try again).

use axum::extract::{DefaultBodyLimit, FromRef, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::compose::escape;
use crate::client_ip::{ClientIp, TrustedProxies};
use crate::domain::SubscriberEmail;
use crate::http::ApiError;
use crate::services::{
    SettingsService, SubscriberError, SubscriberService, TokenOutcome, TokenState,
};

/// One-click bodies are a few dozen bytes; forms not much more.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// What the subscription pages use.
#[derive(Clone)]
pub struct SubscriptionPagesState {
    pub subscribers: SubscriberService,
    /// For the site's name in the page title.
    pub settings: SettingsService,
}

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    SubscriptionPagesState: FromRef<S>,
    TrustedProxies: FromRef<S>,
{
    Router::new()
        .route("/subscribe", post(subscribe))
        .route(
            "/subscribe/confirm/{token}",
            get(confirm_page).post(confirm),
        )
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

#[derive(Deserialize)]
struct SubscribeForm {
    #[serde(default)]
    email: String,
    /// A checked box sends `on`; an unchecked one sends nothing.
    #[serde(default)]
    consent: Option<String>,
}

async fn subscribe(
    State(state): State<SubscriptionPagesState>,
    ClientIp(client): ClientIp,
    Form(form): Form<SubscribeForm>,
) -> Response {
    let name = system_name(&state).await;
    let consent = form.consent.is_some_and(|value| !value.is_empty());
    let result = match SubscriberEmail::parse(&form.email) {
        Ok(email) => state.subscribers.subscribe(&email, consent, client).await,
        Err(error) => Err(error.into()),
    };
    match result {
        Ok(()) => page(
            StatusCode::OK,
            &name,
            "Check your inbox",
            "<p>We have sent a mail to the address you gave. Open the link in it to confirm \
             your subscription. If nothing arrives within a few minutes, look in your spam folder.</p>",
        ),
        Err(error) => error_page(&name, error),
    }
}

async fn confirm_page(
    State(state): State<SubscriptionPagesState>,
    Path(token): Path<String>,
) -> Response {
    let name = system_name(&state).await;
    match state.subscribers.token_state(&token).await {
        Ok(TokenState::Pending) => page(
            StatusCode::OK,
            &name,
            "Confirm your subscription",
            &format!(
                "<p>Press the button to receive e-mail when {} has an incident or planned maintenance.</p>\
                 <form method=\"post\"><button type=\"submit\">Confirm my subscription</button></form>",
                escape(&name)
            ),
        ),
        Ok(TokenState::Active) => page(
            StatusCode::OK,
            &name,
            "You are subscribed",
            "<p>This subscription is already confirmed. Nothing else to do.</p>",
        ),
        Ok(TokenState::Unknown) => unknown_link(&name),
        Err(error) => error_page(&name, error),
    }
}

async fn confirm(
    State(state): State<SubscriptionPagesState>,
    Path(token): Path<String>,
) -> Response {
    let name = system_name(&state).await;
    match state.subscribers.confirm(&token).await {
        Ok(TokenOutcome::Done | TokenOutcome::AlreadyDone) => page(
            StatusCode::OK,
            &name,
            "You are subscribed",
            "<p>Thank you. You will receive e-mail about incidents and maintenance. Every mail has a link to unsubscribe.</p>",
        ),
        Ok(TokenOutcome::Unknown) => unknown_link(&name),
        Err(error) => error_page(&name, error),
    }
}

async fn unsubscribe_page(
    State(state): State<SubscriptionPagesState>,
    Path(token): Path<String>,
) -> Response {
    let name = system_name(&state).await;
    match state.subscribers.token_state(&token).await {
        Ok(TokenState::Pending | TokenState::Active) => page(
            StatusCode::OK,
            &name,
            "Unsubscribe",
            &format!(
                "<p>Press the button to stop receiving status e-mail from {}.</p>\
                 <form method=\"post\"><button type=\"submit\">Unsubscribe</button></form>",
                escape(&name)
            ),
        ),
        Ok(TokenState::Unknown) => not_subscribed(&name),
        Err(error) => error_page(&name, error),
    }
}

/// The button of the page above, and RFC 8058 one-click: the body is not needed.
async fn unsubscribe(
    State(state): State<SubscriptionPagesState>,
    Path(token): Path<String>,
) -> Response {
    let name = system_name(&state).await;
    match state.subscribers.unsubscribe(&token).await {
        Ok(TokenOutcome::Done | TokenOutcome::AlreadyDone) => page(
            StatusCode::OK,
            &name,
            "You are unsubscribed",
            "<p>You will not receive status e-mail from us any more, and we have deleted your address.</p>",
        ),
        Ok(TokenOutcome::Unknown) => not_subscribed(&name),
        Err(error) => error_page(&name, error),
    }
}

fn unknown_link(name: &str) -> Response {
    page(
        StatusCode::OK,
        name,
        "This link is no longer valid",
        "<p>The subscription it belongs to was removed, or the link was copied incompletely. \
         You can subscribe again on the status page.</p>",
    )
}

fn not_subscribed(name: &str) -> Response {
    page(
        StatusCode::OK,
        name,
        "You are not subscribed",
        "<p>This address does not receive status e-mail from us (any more). Nothing else to do.</p>",
    )
}

fn error_page(name: &str, error: SubscriberError) -> Response {
    let api = ApiError::from(error);
    let message = if api.status.is_server_error() {
        "Something went wrong on our side. Please try again in a few minutes.".to_owned()
    } else {
        api.message.clone()
    };
    let title = if api.status == StatusCode::FORBIDDEN {
        "Subscriptions are closed"
    } else if api.status == StatusCode::TOO_MANY_REQUESTS {
        "Please try again later"
    } else if api.status.is_server_error() {
        "Please try again"
    } else {
        "That did not work"
    };
    page(
        api.status,
        name,
        title,
        &format!("<p>{}</p>", escape(&message)),
    )
}

async fn system_name(state: &SubscriptionPagesState) -> String {
    state
        .settings
        .branding()
        .await
        .map_or_else(|_| "System".to_owned(), |site| site.system_name)
}

fn page(status: StatusCode, system: &str, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} – {system} status</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#111827}}\
         button{{font-size:1rem;padding:.6rem 1.2rem;border:0;border-radius:.3rem;background:#1f2937;color:#fff;cursor:pointer}}\
         button:focus-visible,a:focus-visible{{outline:3px solid #1d4ed8;outline-offset:2px}}a{{color:#1d4ed8}}\
         </style></head><body><main><p>{system} status</p><h1>{title}</h1>{body}\
         <p><a href=\"/\">Back to the status page</a></p></main></body></html>\n",
        title = escape(title),
        system = escape(system),
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // The token is in the URL: keep it out of caches, Referer headers and search engines.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        ),
    );
    response
}
