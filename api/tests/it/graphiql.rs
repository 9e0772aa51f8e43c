//! GraphiQL at `/graphql` for browsers (issue 16): the web build's own copy, bundled
//! from the lockfile's versions, served under the console's policy; no third-party
//! origin. `web/tests/graphiql.test.mjs` runs it in Chromium.

use serde_json::Value;

use crate::common::{TestApp, TestDb};

fn has_extension(path: &str, extension: &str) -> bool {
    std::path::Path::new(path)
        .extension()
        .is_some_and(|found| found.eq_ignore_ascii_case(extension))
}

/// The same-origin paths (`/assets/…`) a page or a chunk of it names: `src="…"` and
/// `href="…"` in HTML, `"./name.js"` imports between chunks, `url(/assets/…)` in CSS.
fn assets_named_in(text: &str, from_html: bool) -> Vec<String> {
    let mut found = Vec::new();
    if from_html {
        for attribute in ["src=\"", "href=\""] {
            for rest in text.split(attribute).skip(1) {
                let value = rest.split('"').next().unwrap();
                // The icon is `data:,` — nothing to fetch.
                if !value.starts_with("data:") {
                    found.push(value.to_owned());
                }
            }
        }
        return found;
    }
    for (prefix, base) in [
        ("\"./", "/assets/"),
        ("`./", "/assets/"),
        ("url(/assets/", "/assets/"),
    ] {
        for rest in text.split(prefix).skip(1) {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
                .collect();
            if ["js", "css", "woff", "woff2"]
                .iter()
                .any(|ext| has_extension(&name, ext))
            {
                found.push(format!("{base}{name}"));
            }
        }
    }
    found
}

/// Issue 16: GraphiQL comes from our own build, not a CDN. Everything it loads is a
/// same-origin asset that is there, and it runs under the console's policy.
#[tokio::test]
async fn a_browser_opening_graphql_gets_our_own_graphiql_under_the_console_policy() {
    let db = TestDb::sqlite().await;
    // No MONOSTAT_WEB_DIR: the build embedded in the binary, the one users get.
    let app = TestApp::start(db.app_config(&[])).await;
    let console = app.client.get(app.url("/admin/")).send().await.unwrap();
    let console_csp = console.headers()["content-security-policy"].clone();
    let csp = console_csp.to_str().unwrap();
    assert!(
        csp.contains("script-src 'self';") && !csp.contains("unsafe-eval"),
        "{csp}"
    );

    let response = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["content-security-policy"], console_csp);
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"graphiql\""), "{html}");
    // No URL of any origin, ours included: everything is named by path.
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("src=\"//"),
        "{html}"
    );

    let mut pending = assets_named_in(&html, true);
    assert!(pending.iter().any(|src| has_extension(src, "js")), "{html}");
    assert!(
        pending.iter().any(|href| has_extension(href, "css")),
        "{html}"
    );
    let mut fetched = std::collections::HashSet::new();
    while let Some(path) = pending.pop() {
        assert!(
            path.starts_with("/assets/"),
            "{path} is not one of our assets"
        );
        if !fetched.insert(path.clone()) {
            continue;
        }
        let response = app.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        if has_extension(&path, "js") || has_extension(&path, "css") {
            pending.extend(assets_named_in(&response.text().await.unwrap(), false));
        }
    }
    // The editor's chunks and the fonts moved out of the CSS were found and served.
    assert!(
        fetched.iter().any(|path| path.contains("/codemirror-")),
        "{fetched:?}"
    );
    assert!(
        fetched.iter().any(|path| has_extension(path, "woff2")),
        "{fetched:?}"
    );

    // A query in the URL is still a query, not the page.
    let answer = app
        .client
        .get(app.url("/graphql?query=%7Bstatus%7Bheadline%7D%7D"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.json::<Value>().await.unwrap()["data"]["status"]["headline"],
        "OPERATIONAL"
    );
    app.stop().await;
}

#[tokio::test]
async fn without_a_graphiql_build_a_browser_opening_graphql_is_told_how_to_make_one() {
    let db = TestDb::sqlite().await;
    // A build of the page and nothing else.
    let web = tempfile::tempdir().unwrap();
    std::fs::write(
        web.path().join("index.html"),
        "<!doctype html><!--monostat:head--><script type=\"application/json\" id=\"monostat-state\">__MONOSTAT_STATE__</script>",
    )
    .unwrap();
    let app =
        TestApp::start(db.app_config(&[("MONOSTAT_WEB_DIR", web.path().to_str().unwrap())])).await;
    let response = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("npm --prefix web ci")
    );
    app.stop().await;
}
