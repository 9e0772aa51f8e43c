//! The web frontend (`web/dist`, made by `npm run build` in `web/`), held in memory and
//! pre-compressed like the rest of the public read path.
//!
//! Where it comes from: the build embedded in the binary by `build.rs`, so the binary
//! alone serves the page and the console; or, when `MONOSTAT_WEB_DIR` is set, a built
//! `web/dist` read from disk once at start (for working on the frontend without
//! rebuilding the server). A change there needs a restart to be served.
//!
//! When `MONOSTAT_WEB_DIR` names no build, the page still answers, with a short note on
//! how to build it; the API, feeds and subscription pages work regardless.

use std::collections::HashMap;
use std::path::Path;

use include_dir::{Dir, include_dir};

use super::rendered::Rendered;

/// Where the snapshot puts the state (see `page.rs`); also in `web/index.html`.
pub const STATE_PLACEHOLDER: &str = "__MONOSTAT_STATE__";
pub const HEAD_PLACEHOLDER: &str = "<!--monostat:head-->";

/// The frontend `build.rs` built (or found current) when the binary was compiled.
static EMBEDDED: Dir<'static> = include_dir!("$MONOSTAT_WEB_DIST");

/// Served when `MONOSTAT_WEB_DIR` has no build: tells the operator what to do, still with the
/// placeholders, so the rest of the code need not care.
const FALLBACK_INDEX: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><!--monostat:head--></head>\
<body style=\"font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5\">\
<main><h1>The status page is not built</h1><p>The server runs, but <code>MONOSTAT_WEB_DIR</code> \
names no build of its web frontend. Build it with \
<code>npm --prefix web ci &amp;&amp; npm --prefix web run build</code> and restart, \
or unset <code>MONOSTAT_WEB_DIR</code> to serve the build inside the binary.</p>\
<p>Meanwhile: <a href=\"/api/v2/summary.json\">status JSON</a>, <a href=\"/feed/atom\">Atom feed</a>, \
<a href=\"/graphql\">GraphQL</a>.</p></main>\
<script type=\"application/json\" id=\"monostat-state\">__MONOSTAT_STATE__</script></body></html>\n";

/// The frontend build in memory.
#[derive(Debug)]
pub struct WebBuild {
    /// `index.html` with its placeholders; every page URL serves it, filled in.
    pub index: String,
    /// Files under `assets/` by URL path (`/assets/main-1a2b3c.js`); their names carry
    /// a content hash, so they may be cached for ever.
    pub assets: HashMap<String, Rendered>,
    /// The admin console's page (`admin/index.html`), served as is under `/admin/`:
    /// it carries no state, the console fetches everything with its token.
    pub admin: Option<Rendered>,
    /// GraphiQL's page (`graphiql/index.html`), served as is to a browser opening
    /// `/graphql`: like the console, it carries no state.
    pub graphiql: Option<Rendered>,
}

impl Default for WebBuild {
    fn default() -> Self {
        Self {
            index: FALLBACK_INDEX.to_owned(),
            assets: HashMap::new(),
            admin: None,
            graphiql: None,
        }
    }
}

impl WebBuild {
    /// The build in `configured` (`MONOSTAT_WEB_DIR`), else the one in the binary.
    pub fn load(configured: Option<&Path>) -> Self {
        let Some(dir) = configured else {
            let build = Self::embedded();
            tracing::debug!(
                assets = build.assets.len(),
                "serving the embedded web frontend"
            );
            return build;
        };
        match Self::read(dir) {
            Ok(build) => {
                tracing::info!(dir = %dir.display(), assets = build.assets.len(), "serving the web frontend");
                build
            }
            Err(error) => {
                tracing::warn!(
                    dir = %dir.display(), %error,
                    "MONOSTAT_WEB_DIR names no readable build of the web frontend \
                     (npm --prefix web ci && npm --prefix web run build); serving a placeholder page"
                );
                Self::default()
            }
        }
    }

    /// The build embedded by `build.rs`, which checked that it is complete.
    fn embedded() -> Self {
        let text = |path: &str| {
            EMBEDDED
                .get_file(path)
                .and_then(|file| file.contents_utf8())
                .map(str::to_owned)
        };
        let assets = EMBEDDED
            .get_dir("assets")
            .into_iter()
            .flat_map(Dir::files)
            .filter_map(|file| {
                let name = file.path().file_name()?.to_str()?;
                Some((name.to_owned(), file.contents().to_vec()))
            });
        Self::assemble(
            text("index.html").unwrap_or_else(|| FALLBACK_INDEX.to_owned()),
            assets,
            text("admin/index.html").map(String::into_bytes),
            text("graphiql/index.html").map(String::into_bytes),
        )
    }

    fn read(dir: &Path) -> std::io::Result<Self> {
        let index = std::fs::read_to_string(dir.join("index.html"))?;
        let mut assets = Vec::new();
        let assets_dir = dir.join("assets");
        if assets_dir.is_dir() {
            for entry in std::fs::read_dir(&assets_dir)? {
                let entry = entry?;
                if !entry.file_type()?.is_file() {
                    continue;
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                assets.push((name, std::fs::read(entry.path())?));
            }
        }
        // A build without the console still serves the public page.
        let admin = std::fs::read(dir.join("admin/index.html")).ok();
        let graphiql = std::fs::read(dir.join("graphiql/index.html")).ok();
        Ok(Self::assemble(index, assets, admin, graphiql))
    }

    /// `assets` are (file name under `assets/`, body).
    fn assemble(
        index: String,
        assets: impl IntoIterator<Item = (String, Vec<u8>)>,
        admin: Option<Vec<u8>>,
        graphiql: Option<Vec<u8>>,
    ) -> Self {
        if !index.contains(STATE_PLACEHOLDER) {
            tracing::warn!(
                "web index.html has no {STATE_PLACEHOLDER} placeholder; the page will fetch its state itself"
            );
        }
        let assets = assets
            .into_iter()
            .map(|(name, body)| {
                let rendered = Rendered::new(content_type(&name), body);
                // Once, at start: the build does not change while the server runs.
                rendered.compress();
                (format!("/assets/{name}"), rendered)
            })
            .collect();
        let page = |body| {
            let rendered = Rendered::new("text/html; charset=utf-8", body);
            rendered.compress();
            rendered
        };
        Self {
            index,
            assets,
            admin: admin.map(page),
            graphiql: graphiql.map(page),
        }
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_assets_get_their_types() {
        assert_eq!(
            content_type("main-Ab12.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("main-Ab12.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("blob"), "application/octet-stream");
    }

    #[test]
    fn the_embedded_build_is_complete() {
        let build = WebBuild::load(None);
        assert!(build.index.contains(STATE_PLACEHOLDER) && build.index.contains(HEAD_PLACEHOLDER));
        assert!(build.index.contains("/assets/"), "{}", build.index);
        assert!(build.admin.is_some());
        assert!(build.graphiql.is_some());
        assert!(!build.assets.is_empty());
    }

    #[test]
    fn the_fallback_page_has_the_placeholders() {
        let build = WebBuild::default();
        assert!(build.index.contains(STATE_PLACEHOLDER) && build.index.contains(HEAD_PLACEHOLDER));
    }
}
