//! A local stand-in for Slack's Web API: an HTTP server that records every call and
//! answers with the fixture replies of `fixtures/slack/api/`, or with what a test
//! scripted for a method (429 with Retry-After, error codes). Calls to one method can
//! also be held until the test lets them through.
//!
//! The questions monostat asks to decide who may act (`auth.test`, `bots.info`,
//! `conversations.members`) are kept apart from the calls that do something
//! ([`FakeSlack::lookups`]), so a test counts the messages a click causes whatever was
//! cached. The bot belongs to workspace `T0ABC1234` and app `A0APP12345`, as in the
//! fixtures; the channel's members come in two pages, as Slack pages them.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::fixture;

/// One Web API call as the stand-in received it.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    /// The JSON body, or the form fields as a JSON object.
    pub body: Value,
    pub json: bool,
    pub authorization: Option<String>,
}

struct Scripted {
    status: u16,
    retry_after: Option<u64>,
    body: Value,
}

/// The members of the channel by default, in Slack's pages: the bot, someone else, and
/// the fixtures' jane.doe on the second page.
const MEMBER_PAGES: &[&[&str]] = &[&["U0BOT12345", "U0OTHER001"], &["U0ABC5678"]];

/// The methods that ask who is who rather than do something.
const LOOKUPS: &[&str] = &["auth.test", "bots.info", "conversations.members"];

#[derive(Default)]
struct Inner {
    calls: Mutex<Vec<Call>>,
    lookups: Mutex<Vec<Call>>,
    /// `None`: [`MEMBER_PAGES`].
    members: Mutex<Option<Vec<Vec<String>>>>,
    script: Mutex<HashMap<String, VecDeque<Scripted>>>,
    gates: Mutex<HashMap<String, Arc<Semaphore>>>,
}

#[derive(Clone)]
pub struct FakeSlack {
    /// The value for `MONOSTAT_SLACK_API_URL`.
    pub url: String,
    inner: Arc<Inner>,
    _server: Arc<tokio::task::JoinHandle<()>>,
}

pub fn api_fixture(name: &str) -> Value {
    serde_json::from_slice(&fixture(&format!("slack/api/{name}"))).unwrap()
}

impl FakeSlack {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let router = Router::new()
            .route("/api/{method}", post(answer))
            .route("/actions/{*rest}", post(answer_response_url))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            url: format!("http://{address}/api/"),
            inner,
            _server: Arc::new(server),
        }
    }

    /// A `response_url` of this stand-in, as Slack puts one in each click; what is
    /// posted there is recorded as a call of the method `response_url`.
    pub fn response_url(&self) -> String {
        self.url.replace(
            "/api/",
            "/actions/T0ABC1234/1700000123456/AbCdEfGhIjKlMnOpQrStUvWx",
        )
    }

    /// The next call of `method` gets `body` with HTTP `status` (and Retry-After).
    pub fn script(&self, method: &str, status: u16, retry_after: Option<u64>, body: Value) {
        self.inner
            .script
            .lock()
            .unwrap()
            .entry(method.to_owned())
            .or_default()
            .push_back(Scripted {
                status,
                retry_after,
                body,
            });
    }

    /// The next call of `method` fails with the fixture `error.{code}.json`.
    pub fn fail_next(&self, method: &str, code: &str) {
        self.script(
            method,
            200,
            None,
            api_fixture(&format!("error.{code}.json")),
        );
    }

    /// Calls of `method` are recorded but not answered until [`FakeSlack::release`].
    pub fn hold(&self, method: &str) {
        self.inner
            .gates
            .lock()
            .unwrap()
            .insert(method.to_owned(), Arc::new(Semaphore::new(0)));
    }

    pub fn release(&self, method: &str) {
        if let Some(gate) = self.inner.gates.lock().unwrap().remove(method) {
            gate.add_permits(1000);
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.calls.lock().unwrap().clone()
    }

    /// The calls of `auth.test`, `bots.info` and `conversations.members`.
    pub fn lookups(&self) -> Vec<Call> {
        self.inner.lookups.lock().unwrap().clone()
    }

    /// The channel's members from now on, in pages of `conversations.members`.
    pub fn set_members(&self, pages: &[&[&str]]) {
        *self.inner.members.lock().unwrap() = Some(
            pages
                .iter()
                .map(|page| page.iter().map(|id| (*id).to_owned()).collect())
                .collect(),
        );
    }

    pub fn methods(&self) -> Vec<String> {
        self.calls().into_iter().map(|c| c.method).collect()
    }

    pub fn clear(&self) {
        self.inner.calls.lock().unwrap().clear();
        self.inner.lookups.lock().unwrap().clear();
    }

    /// Waits until at least `count` calls were made (generous limit: slow CI machines).
    pub async fn wait_for_calls(&self, count: usize) -> Vec<Call> {
        for _ in 0..400 {
            let calls = self.calls();
            if calls.len() >= count {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {count} Slack calls, got {:?}", self.methods());
    }

    /// Waits for `count` calls, then a little longer to see that no more follow.
    pub async fn exactly(&self, count: usize) -> Vec<Call> {
        self.wait_for_calls(count).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let calls = self.calls();
        assert_eq!(
            calls.len(),
            count,
            "unexpected Slack calls: {:?}",
            calls.iter().map(|c| &c.method).collect::<Vec<_>>()
        );
        calls
    }
}

async fn answer(
    State(inner): State<Arc<Inner>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let parsed = if json {
        serde_json::from_slice(&body).unwrap()
    } else {
        let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap();
        json!(form)
    };
    let call = Call {
        method: method.clone(),
        body: parsed.clone(),
        json,
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    if LOOKUPS.contains(&method.as_str()) {
        inner.lookups.lock().unwrap().push(call);
    } else {
        inner.calls.lock().unwrap().push(call);
    }
    let gate = inner.gates.lock().unwrap().get(&method).cloned();
    if let Some(gate) = gate {
        let _permit = gate.acquire().await.unwrap();
    }
    let scripted = inner
        .script
        .lock()
        .unwrap()
        .get_mut(&method)
        .and_then(VecDeque::pop_front);
    if let Some(scripted) = scripted {
        let mut response = (
            StatusCode::from_u16(scripted.status).unwrap(),
            axum::Json(scripted.body),
        )
            .into_response();
        if let Some(after) = scripted.retry_after {
            response
                .headers_mut()
                .insert("retry-after", after.to_string().parse().unwrap());
        }
        return response;
    }
    let reply = match method.as_str() {
        // As Slack documents it for a bot token: the bot, not its app.
        "auth.test" => json!({
            "ok": true, "url": "https://example-corp.slack.com/", "team": "Example Corp",
            "user": "status_page", "team_id": "T0ABC1234", "user_id": "U0BOT12345", "bot_id": "B0BOT12345"
        }),
        "bots.info" if parsed["bot"] == "B0BOT12345" => json!({
            "ok": true,
            "bot": {
                "id": "B0BOT12345", "deleted": false, "name": "Status Page", "updated": 1_700_000_000,
                "app_id": "A0APP12345", "user_id": "U0BOT12345",
                "icons": { "image_36": "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png" }
            }
        }),
        "bots.info" => json!({ "ok": false, "error": "bot_not_found" }),
        "conversations.members" => members_page(&inner, &parsed),
        "conversations.list" => {
            if parsed.get("cursor").is_some() {
                api_fixture("conversations.list.page2.ok.json")
            } else {
                api_fixture("conversations.list.page1.ok.json")
            }
        }
        "conversations.join" => api_fixture("conversations.join.ok.json"),
        "conversations.info" => api_fixture("conversations.info.ok.json"),
        "chat.postMessage" if parsed.get("thread_ts").is_some() => {
            api_fixture("chat.postMessage.thread_reply.ok.json")
        }
        "chat.postMessage" => api_fixture("chat.postMessage.ok.json"),
        "chat.update" => api_fixture("chat.update.ok.json"),
        "chat.postEphemeral" => api_fixture("chat.postEphemeral.ok.json"),
        "views.open" => api_fixture("views.open.ok.json"),
        "views.publish" => api_fixture("views.publish.ok.json"),
        "views.update" => api_fixture("views.update.ok.json"),
        _ => json!({ "ok": false, "error": "unknown_method" }),
    };
    axum::Json(reply).into_response()
}

/// One page of `conversations.members`: the cursor is the page's index, as opaque to
/// monostat as Slack's base64 cursors.
fn members_page(inner: &Inner, args: &Value) -> Value {
    if args["channel"] != "C0STATUS01" {
        return json!({ "ok": false, "error": "channel_not_found" });
    }
    let pages = inner.members.lock().unwrap().clone().unwrap_or_else(|| {
        MEMBER_PAGES
            .iter()
            .map(|page| page.iter().map(|id| (*id).to_owned()).collect())
            .collect()
    });
    let index: usize = args["cursor"]
        .as_str()
        .and_then(|c| c.strip_prefix("page:"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let next = if index + 1 < pages.len() {
        format!("page:{}", index + 1)
    } else {
        String::new()
    };
    json!({
        "ok": true,
        "members": pages.get(index).cloned().unwrap_or_default(),
        "response_metadata": { "next_cursor": next }
    })
}

/// Slack answers a post to a `response_url` with a bare `ok`.
async fn answer_response_url(State(inner): State<Arc<Inner>>, body: Bytes) -> &'static str {
    inner.calls.lock().unwrap().push(Call {
        method: "response_url".into(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        json: true,
        authorization: None,
    });
    "ok"
}
