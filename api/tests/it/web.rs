//! The web frontend as the server serves it: every page URL answers the built
//! `index.html` with the current state inlined from the snapshot (the same JSON the
//! GraphQL `status` query gives), hashed assets are cached for ever, and unknown paths,
//! impossible dates and wrong incident dates are real 404s.
//!
//! A small stand-in build is used here; `web/tests/` drives the real one in Chromium.

use std::io::Read;
use std::time::Duration;

use monostat::domain::{Actor, IncidentStatus, Severity};
use monostat::services::NewIncident;
use serde_json::{Value, json};

use crate::common::{TestApp, TestDb, both_databases};

const INDEX: &str = "<!doctype html><html><head><!--monostat:head-->\
<script type=\"module\" src=\"/assets/main-Ab12Cd.js\"></script></head><body><div id=\"app\"></div>\
<script type=\"application/json\" id=\"monostat-state\">__MONOSTAT_STATE__</script></body></html>";

/// The selection of `StatusFields` in `web/src/graphql/page.graphql`.
const STATUS_QUERY: &str = "{ status { headline generatedAt stale
  site { systemName supportEmail supportPhone legalNoticeUrl privacyUrl logoUrl timeZone
    defaultLanguage subscriptionsOpen
    theme { primary link success warning danger info textPrimary textSecondary } }
  current { ...I } recent { ...I } planned { ...I } } }
  fragment I on Incident { id status severity title summaryHtml start end path
    updates { id created messageHtml newStatus } }";

fn web_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), INDEX).unwrap();
    std::fs::create_dir(dir.path().join("assets")).unwrap();
    std::fs::write(
        dir.path().join("assets/main-Ab12Cd.js"),
        "console.log('status page');".repeat(50),
    )
    .unwrap();
    dir
}

/// The JSON between the state script's tags.
fn inlined_state(html: &str) -> Value {
    let start =
        html.find("id=\"monostat-state\">").expect("state script") + "id=\"monostat-state\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

async fn page(app: &TestApp, path: &str) -> (u16, String) {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

both_databases! {
    async fn pages_carry_the_state_of_the_snapshot_and_unknown_paths_are_404(db: TestDb) {
        let web = web_dir();
        let app = TestApp::start(db.app_config(&[("MONOSTAT_WEB_DIR", web.path().to_str().unwrap())])).await;

        let response = app.client.get(app.url("/")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
        assert!(response.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
        let html = response.text().await.unwrap();
        assert!(html.contains("<title>Our product status</title>"), "{html}");
        assert_eq!(inlined_state(&html)["headline"], "OPERATIONAL");

        // An incident whose text tries to end the script and run its own.
        let incident = app
            .services
            .incidents
            .create(&Actor::System, NewIncident {
                title: "Login </script><script>alert(1)</script> fails".into(),
                status: IncidentStatus::Confirmed,
                severity: Severity::Partial,
                start: None,
                text: Some("We are **on it**. <img src=x onerror=alert(1)>".into()),
                summary: Some("[click](javascript:alert(1)) *here*".into()),
                silent: false,
                auto_start: false,
                do_not_notify: false,
            })
            .await
            .unwrap();
        let mut html = String::new();
        for _ in 0..100 {
            html = page(&app, "/").await.1;
            if inlined_state(&html)["headline"] == "PARTIALLY_UNAVAILABLE" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let state = inlined_state(&html);
        assert_eq!(state["headline"], "PARTIALLY_UNAVAILABLE");
        assert_eq!(html.matches("</script>").count(), 2, "the title cannot close the state script: {html}");
        let current = &state["current"][0];
        assert_eq!(current["title"], "Login </script><script>alert(1)</script> fails");
        assert_eq!(current["summaryHtml"], "<p><a rel=\"noopener noreferrer\">click</a> <em>here</em></p>\n");
        let message = current["updates"][0]["messageHtml"].as_str().unwrap();
        assert!(message.contains("<strong>on it</strong>") && !message.contains("<img"), "{message}");

        // Exactly what the page would get from GraphQL, so one type serves both.
        let graphql: Value = app.client.post(app.url("/graphql")).json(&json!({ "query": STATUS_QUERY })).send().await.unwrap().json().await.unwrap();
        assert_eq!(graphql["data"]["status"], state);
        // The page's own query, as text or persisted hash, is answered from the
        // snapshot's bytes (ETag, compression), and says the same as the resolvers.
        let fast = app.client.post(app.url("/graphql")).json(&json!({ "query": monostat::public::STATUS_QUERY })).send().await.unwrap();
        assert!(fast.headers().contains_key("etag"), "served from the snapshot");
        assert_eq!(fast.json::<Value>().await.unwrap(), graphql);
        let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(monostat::public::STATUS_QUERY));
        let persisted = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } }).to_string();
        let by_hash = app.client.get(app.url("/graphql")).query(&[("extensions", persisted.as_str())]).header("accept-encoding", "br").send().await.unwrap();
        assert_eq!(by_hash.headers()["content-encoding"], "br");
        assert!(by_hash.headers()["cache-control"].to_str().unwrap().starts_with("public"));
        let body = by_hash.bytes().await.unwrap();
        let mut text = String::new();
        Read::read_to_string(&mut brotli::Decompressor::new(&body[..], 4096), &mut text).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), graphql);
        let with_variables = app.client.post(app.url("/graphql")).json(&json!({ "query": monostat::public::STATUS_QUERY, "variables": { "x": 1 } })).send().await.unwrap();
        assert!(!with_variables.headers().contains_key("etag"), "anything else goes to the resolvers");

        let path = current["path"].as_str().unwrap().to_owned();
        let date = incident.start.format("%Y-%m-%d").to_string();
        assert_eq!(path, format!("/{date}/{}", incident.id));
        for ok in ["/", "/history", path.as_str(), &format!("/{date}"), "/2020-02-29"] {
            let (status, body) = page(&app, ok).await;
            assert_eq!(status, 200, "{ok}");
            assert!(body.contains("id=\"monostat-state\">{"), "{ok}: {body}");
        }
        let wrong_date = if date == "2020-01-01" { "2020-01-02" } else { "2020-01-01" };
        for missing in [
            format!("/{wrong_date}/{}", incident.id),
            format!("/{date}/999999"),
            format!("/{date}/abc"),
            "/2021-02-29".to_owned(),
            "/2026-1-5".to_owned(),
            "/favicon.ico".to_owned(),
            "/no/such/page".to_owned(),
            "/subscribe".to_owned(), // closed by default
            "/api/v2/nothing.json".to_owned(),
        ] {
            let (status, body) = page(&app, &missing).await;
            assert_eq!(status, 404, "{missing}");
            assert!(body.contains("monostat-state"), "{missing}: the page shows its not-found view");
        }
        app.services.settings.set_allow_subscriptions(true, &Actor::System).await.unwrap();
        for _ in 0..100 {
            if page(&app, "/subscribe").await.0 == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(page(&app, "/subscribe").await.0, 200);
        app.stop().await;
    }
}

#[tokio::test]
async fn hashed_assets_are_cached_for_ever_and_compressed() {
    let db = TestDb::sqlite().await;
    let web = web_dir();
    let app =
        TestApp::start(db.app_config(&[("MONOSTAT_WEB_DIR", web.path().to_str().unwrap())])).await;
    let response = app
        .client
        .get(app.url("/assets/main-Ab12Cd.js"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        response.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let gzipped = response.bytes().await.unwrap();
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&gzipped[..])
        .read_to_string(&mut plain)
        .unwrap();
    assert!(plain.starts_with("console.log('status page');"));

    assert_eq!(
        app.client
            .get(app.url("/assets/main-000000.js"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        app.client
            .get(app.url("/logo"))
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "no logo uploaded"
    );
    app.stop().await;
}

#[tokio::test]
async fn without_a_build_the_page_says_how_to_make_one() {
    let db = TestDb::sqlite().await;
    let empty = tempfile::tempdir().unwrap();
    let app =
        TestApp::start(db.app_config(&[("MONOSTAT_WEB_DIR", empty.path().to_str().unwrap())]))
            .await;
    let (status, body) = page(&app, "/").await;
    assert_eq!(status, 200);
    assert!(body.contains("npm --prefix web ci"), "{body}");
    // The API does not depend on the page.
    assert_eq!(
        app.client
            .get(app.url("/api/v2/status.json"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn an_uploaded_logo_is_served_from_the_snapshot_and_named_in_the_state() {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let db = TestDb::sqlite().await;
    let web = web_dir();
    let app =
        TestApp::start(db.app_config(&[("MONOSTAT_WEB_DIR", web.path().to_str().unwrap())])).await;
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
    monostat::store::site_settings::ActiveModel {
        id: Set(1),
        logo_content_type: Set(Some("image/svg+xml".into())),
        logo_data: Set(Some(svg.clone())),
        ..Default::default()
    }
    .update(&db.conn)
    .await
    .unwrap();
    app.events
        .publish(monostat::events::DomainEvent::SettingsChanged {
            section: monostat::events::SettingsSection::Site,
        });
    let mut response = None;
    for _ in 0..100 {
        let got = app.client.get(app.url("/logo")).send().await.unwrap();
        if got.status() == 200 {
            response = Some(got);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let response = response.expect("the logo appears after the settings change");
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    // Opened on its own, an SVG logo must not run its scripts.
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    assert_eq!(response.bytes().await.unwrap().to_vec(), svg);
    let (_, html) = page(&app, "/").await;
    let url = inlined_state(&html)["site"]["logoUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(url.starts_with("/logo?v="), "{url}");
    assert!(
        html.contains(&format!("<link rel=\"icon\" href=\"{url}\">")),
        "{html}"
    );
    app.stop().await;
}

/// The Rust copy of the page's status query must be the page's own.
#[test]
fn the_status_query_is_the_one_the_page_sends() {
    let file = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../web/src/graphql/status.graphql"
    ))
    .unwrap();
    let query: String = file
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        monostat::public::normalise_query(&query),
        monostat::public::STATUS_QUERY
    );
}

const CONSOLE_INDEX: &str = "<!doctype html><html><head><title>console</title>\
<script type=\"module\" src=\"/assets/admin-Ef34Gh.js\"></script></head><body><div id=\"app\"></div></body></html>";

#[tokio::test]
async fn the_console_page_answers_every_admin_url_uncached_and_without_state() {
    let db = TestDb::sqlite().await;
    let web = web_dir();
    std::fs::create_dir(web.path().join("admin")).unwrap();
    std::fs::write(web.path().join("admin/index.html"), CONSOLE_INDEX).unwrap();
    let app =
        TestApp::start(db.app_config(&[("MONOSTAT_WEB_DIR", web.path().to_str().unwrap())])).await;
    for path in [
        "/admin",
        "/admin/",
        "/admin/incidents/12",
        "/admin/settings/site",
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        assert!(
            response.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        assert_eq!(response.text().await.unwrap(), CONSOLE_INDEX, "{path}");
    }
    // The public page is untouched, and a near miss is still the public 404.
    let (status, body) = page(&app, "/").await;
    assert_eq!(status, 200);
    assert!(body.contains("monostat-state"));
    let (status, _) = page(&app, "/administrator").await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn without_a_console_build_admin_urls_say_how_to_make_one() {
    let db = TestDb::sqlite().await;
    let web = web_dir();
    let app =
        TestApp::start(db.app_config(&[("MONOSTAT_WEB_DIR", web.path().to_str().unwrap())])).await;
    let (status, body) = page(&app, "/admin/").await;
    assert_eq!(status, 404);
    assert!(body.contains("npm --prefix web ci"), "{body}");
    app.stop().await;
}

/// The release claim of the README: the binary copied alone into an empty directory
/// (no `web/dist`, no checkout, no `MONOSTAT_WEB_DIR`) serves the page, its assets, the
/// console and GraphQL, from the frontend embedded at build time.
#[tokio::test]
async fn the_binary_alone_in_an_empty_directory_serves_page_console_and_graphql() {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt, BufReader};

    let empty = tempfile::tempdir().unwrap();
    let binary = empty.path().join("monostat");
    std::fs::copy(env!("CARGO_BIN_EXE_monostat"), &binary).unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut server = tokio::process::Command::new(&binary)
        .arg("serve")
        .current_dir(empty.path())
        .env_clear()
        .env("MONOSTAT_DATA_DIR", data.path())
        .env("MONOSTAT_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
        .await
        .expect("the server starts")
        .unwrap()
        .expect("the server prints its address");
    let address = line
        .split("listening on ")
        .nth(1)
        .expect("an address")
        .trim_end_matches(')')
        .to_owned();
    let base = format!("http://{address}");
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let request = client.get(format!("{base}{path}"));
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };

    let (status, body) = get("/").await;
    assert_eq!(status, 200);
    assert!(!body.contains("not built"), "{body}");
    assert!(body.contains("id=\"monostat-state\""), "{body}");
    // The state is inlined and a built script is linked, and served.
    assert!(!body.contains("__MONOSTAT_STATE__"), "{body}");
    let script = body
        .split("src=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|src| src.starts_with("/assets/main-"))
        .unwrap_or_else(|| panic!("no script under /assets/ in {body}"))
        .to_owned();
    let (status, js) = get(&script).await;
    assert_eq!(status, 200, "{script}");
    assert!(!js.is_empty());

    let (status, console) = get("/admin/").await;
    assert_eq!(status, 200);
    assert!(console.contains("/assets/admin-"), "{console}");

    let response = client
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": "{ status { headline } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer["data"]["status"]["headline"], "OPERATIONAL",
        "{answer}"
    );

    server.start_kill().unwrap();
    server.wait().await.unwrap();
    // Nothing was written beside the binary: the data went to MONOSTAT_DATA_DIR.
    let beside: Vec<_> = std::fs::read_dir(empty.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(beside, vec![std::ffi::OsString::from("monostat")]);
}
