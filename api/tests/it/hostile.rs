//! A corpus of hostile requests sent to every route: wrong content types, invalid
//! UTF-8, deeply nested JSON, huge numbers, a 10 MB body, an empty body, unknown
//! methods. Every answer is below 500, every refusal says something, nothing is logged
//! as an internal error, and the server still answers afterwards.

use reqwest::Method;

use crate::common::{TestApp, both_databases};

const SECRET: &str = "hostile-corpus-secret-0123456789abcdef0123456789";

fn get_paths() -> Vec<String> {
    let mut paths: Vec<String> = [
        "/",
        "/history",
        "/2026-12-07",
        "/2026-12-07/1",
        "/2026-13-45/not-a-number",
        "/%FF%FE",
        "/admin/",
        "/admin/anything/at/all",
        "/assets/missing.js",
        "/assets/../../etc/passwd",
        "/logo",
        "/widget.js",
        "/healthz",
        "/readyz",
        "/metrics",
        "/subscribe",
        "/subscribe/confirm/unknown-token",
        "/unsubscribe/unknown-token",
        "/api/v2/summary.json",
        "/api/v2/status.json",
        "/api/v2/components.json",
        "/api/v2/incidents.json",
        "/api/v2/incidents/unresolved.json",
        "/api/v2/scheduled-maintenances.json",
        "/api/v2/scheduled-maintenances/upcoming.json",
        "/api/v2/scheduled-maintenances/active.json",
        "/badge.svg",
        "/feed/rss",
        "/feed/atom",
        "/graphql?query=%7B%7B%7B",
        "/graphql?query=%7Bstatus%7Bheadline%7D%7D&variables=%5B%5B",
    ]
    .map(str::to_owned)
    .to_vec();
    paths.push(format!("/graphql?query={}", "%7B".repeat(5_000)));
    paths
}

fn post_paths() -> Vec<String> {
    let mut paths: Vec<String> = [
        "/graphql",
        "/subscribe",
        "/subscribe/confirm/unknown-token",
        "/unsubscribe/unknown-token",
        "/integrations/slack/commands",
        "/integrations/slack/events",
    ]
    .map(str::to_owned)
    .to_vec();
    for source in [
        "opsgenie",
        "alertmanager",
        "grafana",
        "generic",
        "pagerduty",
    ] {
        paths.push(format!("/integrations/{source}/hook/{SECRET}"));
        paths.push(format!("/integrations/{source}/hook/wrong-secret"));
    }
    paths
}

/// `(content type, body)` pairs.
fn bodies() -> Vec<(&'static str, Vec<u8>)> {
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let nested_objects = format!("{}1{}", "{\"a\":".repeat(50_000), "}".repeat(50_000));
    vec![
        ("application/json", Vec::new()),
        ("application/json", vec![0xff, 0xfe, 0x7b, 0xc3, 0x28, 0x7d]),
        ("application/json", nested.into_bytes()),
        ("application/json", nested_objects.into_bytes()),
        (
            "application/json",
            br#"{"action":"Create","alert":{"alertId":1e999999,"message":123456789012345678901234567890123},"query":1e999,"status":-1e400,"alerts":[{"status":1e309}]}"#.to_vec(),
        ),
        ("application/json", b"null".to_vec()),
        ("application/json", b"\"just a string\"".to_vec()),
        ("text/xml", b"<?xml version=\"1.0\"?><x>&lol;</x>".to_vec()),
        ("application/x-www-form-urlencoded", b"%%%&&==&payload=%7B%7B&email=%FF".to_vec()),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\n--".to_vec()),
        ("application/json", vec![b'a'; 10 * 1024 * 1024]),
    ]
}

async fn assert_answer(what: &str, response: reqwest::Result<reqwest::Response>, large: bool) {
    let response = match response {
        Ok(response) => response,
        // A server may refuse a 10 MB body by closing the connection before reading it.
        Err(error) if large => {
            eprintln!("{what}: connection closed ({error})");
            return;
        }
        Err(error) => panic!("{what}: no answer: {error}"),
    };
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    assert!(
        status.as_u16() < 500,
        "{what}: {status} {}",
        String::from_utf8_lossy(&body)
    );
    if status.is_client_error() && status.as_u16() != 405 {
        assert!(!body.is_empty(), "{what}: {status} without a word");
    }
}

both_databases! {
    async fn every_route_answers_hostile_input_with_a_refusal_never_a_server_error(db: TestDb) {
        let env = [
            ("MONOSTAT_OPSGENIE_SECRET", SECRET),
            ("MONOSTAT_ALERTMANAGER_SECRET", SECRET),
            ("MONOSTAT_GRAFANA_SECRET", SECRET),
            ("MONOSTAT_GENERIC_SECRET", SECRET),
            ("MONOSTAT_PAGERDUTY_SECRET", SECRET),
            ("MONOSTAT_SLACK_SIGNING_SECRET", "8f742231b10e8888abcd99yyyzzz85a5"),
        ];
        let app = TestApp::start(db.app_config(&env)).await;
        app.services.settings.set_allow_subscriptions(true, &monostat::domain::Actor::System).await.unwrap();
        // A connection per request: a server that refuses a large body early closes
        // the connection, and a pooled client could race it with the next request.
        let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();

        for path in get_paths() {
            let url = app.url(&path);
            assert_answer(&format!("GET {path}"), client.get(&url).send().await, false).await;
            for method in ["BREW", "DELETE", "PUT", "PATCH"] {
                let method = Method::from_bytes(method.as_bytes()).unwrap();
                assert_answer(&format!("{method} {path}"), client.request(method, &url).body("x").send().await, false).await;
            }
        }
        for path in post_paths() {
            let url = app.url(&path);
            for (content_type, body) in bodies() {
                let large = body.len() > 1024 * 1024;
                let what = format!("POST {path} ({content_type}, {} bytes)", body.len());
                let sent = client.post(&url).header("content-type", content_type).body(body).send().await;
                assert_answer(&what, sent, large).await;
            }
            let bare = client.post(&url).send().await;
            assert_answer(&format!("POST {path} without a content type"), bare, false).await;
        }

        let alive = client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(alive.status(), 200, "the server still answers");
        app.stop().await;
    }
}

/// Well-known filter-evasion vectors: event handlers, `javascript:` and `data:` URLs,
/// SVG, encoded entities, broken tags, and a way out of an inline script.
const XSS: &[&str] = &[
    "<script>alert(1)</script>",
    "</script><script>alert(2)</script>",
    "<img src=x onerror=alert(3)>",
    "<svg/onload=alert(4)>",
    "<a href=\"javascript:alert(5)\">x</a>",
    "[link](javascript:alert(6))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCg3KTwvc2NyaXB0Pg==)",
    "<iframe src=\"javascript:alert(8)\"></iframe>",
    "&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(9)",
    "<scr<script>ipt>alert(10)</scr</script>ipt>",
    "<body onload=alert(11)>",
    "\"><script>alert(12)</script>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(13)>",
    "]]><script>alert(14)</script>",
];

/// Markup that would run: a script element, an event-handler attribute, or a link to a
/// `javascript:`/`data:` URL.
fn executable(markup: &str) -> Option<&'static str> {
    // The page's own empty favicon, which can carry nothing.
    let lower = markup.to_lowercase().replace("href=\"data:,\"", "");
    // Only real tags count: escaped text (`&lt;script&gt;`) is shown, not run.
    for tag in lower
        .split('<')
        .skip(1)
        .map(|rest| rest.split('>').next().unwrap_or(rest))
    {
        let name: String = tag
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        if matches!(
            name.as_str(),
            "script" | "svg" | "iframe" | "img" | "object" | "embed"
        ) {
            return Some("a script, svg, iframe, img, object or embed element");
        }
        if [
            "href=\"javascript:",
            "href='javascript:",
            "src=\"javascript:",
            "href=\"data:",
            "src=\"data:",
        ]
        .iter()
        .any(|bad| tag.contains(bad))
        {
            return Some("a javascript: or data: URL");
        }
        if crate::properties::has_event_handler(&format!("<{tag}>")) {
            return Some("an event handler");
        }
    }
    None
}

/// The HTML a feed reader renders: RSS descriptions (CDATA) and Atom `type="html"`
/// summaries (escaped once).
fn feed_html(feed: &str) -> String {
    let mut html = String::new();
    for part in feed.split("<![CDATA[").skip(1) {
        html.push_str(part.split("]]>").next().unwrap_or(part));
    }
    for part in feed.split("type=\"html\">").skip(1) {
        let escaped = part.split("</").next().unwrap_or(part);
        html.push_str(
            &escaped
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&"),
        );
    }
    html
}

both_databases! {
    async fn filter_evasion_vectors_come_out_inert_in_pages_feeds_and_mails(db: TestDb) {
        use monostat::domain::{Actor, IncidentStatus, Severity, SubscriberEmail};
        use monostat::services::NewIncident;

        let Some(sink) = crate::common::smtp::SmtpSink::start().await else { return };
        let env = sink.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let app = TestApp::start(db.app_config(&env)).await;
        let email = SubscriberEmail::parse("reader@example.com").unwrap();
        app.services.subscribers.add(&Actor::System, &email, true).await.unwrap();
        let everything = XSS.join("\n\n");
        let incident = app
            .services
            .incidents
            .create(&Actor::System, NewIncident {
                title: XSS[1].to_owned(),
                status: IncidentStatus::Confirmed,
                severity: Severity::Outage,
                start: None,
                text: Some(everything.clone()),
                summary: Some(everything),
                silent: false,
                auto_start: false,
                do_not_notify: false,
            })
            .await
            .unwrap();
        let date = incident.start.format("%Y-%m-%d");

        let client = reqwest::Client::new();
        let pages = ["/".to_owned(), "/history".to_owned(), format!("/{date}/{}", incident.id.0), "/feed/rss".to_owned(), "/feed/atom".to_owned()];
        for path in &pages {
            let body = crate::common::eventually(&format!("{path} to show the incident"), std::time::Duration::from_secs(10), || {
                let request = client.get(app.url(path));
                async move {
                    let body = request.send().await.ok()?.text().await.ok()?;
                    body.contains("alert(12)").then_some(body)
                }
            })
            .await;
            let rendered = if path.starts_with("/feed") {
                feed_html(&body)
            } else {
                // The page's own scripts (its module, its state as JSON) are allowed;
                // what the incident brought is not.
                body.replace("<script type=\"module\"", "<own-module")
                    .replace("<script type=\"application/json\"", "<own-json")
            };
            if let Some(what) = executable(&rendered) {
                panic!("{path} carries {what}: {rendered}");
            }
            assert!(!body.contains("</script><script>alert(2)"), "{path} lets the title close a script: {body}");
        }

        let mails = sink.wait_for(1).await;
        let html = mails[0].html();
        if let Some(what) = executable(&html) {
            panic!("the mail carries {what}: {html}");
        }
        assert!(mails[0].text().contains("alert(12)"), "the text is shown, as text");
        app.stop().await;
    }
}
