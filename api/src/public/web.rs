//! The built web frontend (`web/dist`, made by `npm run build` in `web/`), read from
//! disk once at start and held in memory, pre-compressed like the rest of the public
//! read path.
//!
//! Where it comes from: `MONOSTAT_WEB_DIR` when set (the Docker image sets it);
//! otherwise `web/dist` under the working directory, then next to the binary's
//! `target/` directory, so `cargo run` in a checkout finds it. In a checkout,
//! `monostat serve` also builds it first when it is missing or older than its sources
//! ([`build_if_needed`]), so the README's one command is all a newcomer runs. A change
//! to the frontend needs a restart to be served.
//!
//! Without a build the page still answers, with a short note on how to build it; the
//! API, feeds and subscription pages work regardless.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::Rendered;

/// Where the snapshot puts the state (see `page.rs`); also in `web/index.html`.
pub const STATE_PLACEHOLDER: &str = "__MONOSTAT_STATE__";
pub const HEAD_PLACEHOLDER: &str = "<!--monostat:head-->";

/// Served when no build was found: tells the operator what to do, still with the
/// placeholders, so the rest of the code need not care.
const FALLBACK_INDEX: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><!--monostat:head--></head>\
<body style=\"font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5\">\
<main><h1>The status page is not built</h1><p>The server runs, but its web frontend was not found. \
Build it with <code>npm --prefix web ci &amp;&amp; npm --prefix web run build</code> and restart, \
or point <code>MONOSTAT_WEB_DIR</code> at a built <code>web/dist</code>.</p>\
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
    /// Where it was read from; `None` for the fallback page.
    pub dir: Option<PathBuf>,
}

impl Default for WebBuild {
    fn default() -> Self {
        Self {
            index: FALLBACK_INDEX.to_owned(),
            assets: HashMap::new(),
            admin: None,
            dir: None,
        }
    }
}

impl WebBuild {
    /// Reads the build from `configured`, or from where a checkout keeps it.
    pub fn load(configured: Option<&Path>) -> Self {
        let dir = match configured {
            Some(dir) => Some(dir.to_path_buf()),
            None => candidates()
                .into_iter()
                .find(|dir| dir.join("index.html").is_file()),
        };
        let Some(dir) = dir else {
            tracing::warn!(
                "the web frontend is not built; run `npm --prefix web ci && npm --prefix web run build` \
                 or set MONOSTAT_WEB_DIR"
            );
            return Self::default();
        };
        match Self::read(&dir) {
            Ok(build) => {
                tracing::info!(dir = %dir.display(), assets = build.assets.len(), "serving the web frontend");
                build
            }
            Err(error) => {
                tracing::warn!(dir = %dir.display(), %error, "cannot read the web frontend; serving a placeholder page");
                Self::default()
            }
        }
    }

    fn read(dir: &Path) -> std::io::Result<Self> {
        let index = std::fs::read_to_string(dir.join("index.html"))?;
        if !index.contains(STATE_PLACEHOLDER) {
            tracing::warn!(
                "web index.html has no {STATE_PLACEHOLDER} placeholder; the page will fetch its state itself"
            );
        }
        let mut assets = HashMap::new();
        let assets_dir = dir.join("assets");
        if assets_dir.is_dir() {
            for entry in std::fs::read_dir(&assets_dir)? {
                let entry = entry?;
                if !entry.file_type()?.is_file() {
                    continue;
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                let body = std::fs::read(entry.path())?;
                assets.insert(
                    format!("/assets/{name}"),
                    Rendered::new(content_type(&name), body),
                );
            }
        }
        // A build without the console still serves the public page.
        let admin = std::fs::read(dir.join("admin/index.html"))
            .ok()
            .map(|body| Rendered::new("text/html; charset=utf-8", body));
        Ok(Self {
            index,
            assets,
            admin,
            dir: Some(dir.to_path_buf()),
        })
    }
}

fn candidates() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("web/dist")];
    // target/{debug,release}/monostat → the checkout's web/dist.
    if let Some(root) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent()?.parent().map(Path::to_path_buf))
    {
        dirs.push(root.join("web/dist"));
    }
    dirs
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// In a checkout (a `web/package.json` under the working directory) and without
/// `MONOSTAT_WEB_DIR`: builds the frontend with npm when `web/dist` is missing or older
/// than its sources. A failed or impossible build is reported, not fatal: the API works
/// without the page.
pub async fn build_if_needed(configured: Option<&Path>) {
    let web = Path::new("web");
    if configured.is_some() || !web.join("package.json").is_file() {
        return;
    }
    let built = modified(&web.join("dist/index.html"));
    let sources = [
        "index.html",
        "admin",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "src",
    ]
    .iter()
    .filter_map(|name| newest(&web.join(name)))
    .max();
    if built.is_some() && built >= sources {
        return;
    }
    let installed = modified(&web.join("node_modules/.package-lock.json"));
    let lock = modified(&web.join("package-lock.json"));
    let mut steps: Vec<&[&str]> = Vec::new();
    if installed.is_none() || installed < lock {
        steps.push(&["ci", "--no-audit", "--no-fund"]);
    }
    steps.push(&["run", "build"]);
    eprintln!(
        "building the web frontend in web/ (npm {}) …",
        steps
            .iter()
            .map(|s| s.join(" "))
            .collect::<Vec<_>>()
            .join(", then npm ")
    );
    for args in steps {
        let status = tokio::process::Command::new("npm")
            .args(args)
            .current_dir(web)
            // npm talks on stdout; keep ours for the server's own lines.
            .stdout(std::io::stderr())
            .status()
            .await;
        match status {
            Ok(status) if status.success() => {}
            Ok(status) => {
                tracing::warn!(%status, "building the web frontend failed; see the npm output above");
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot run npm to build the web frontend; install Node.js 20+ or build it elsewhere");
                return;
            }
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of a file, or of any file below a directory.
fn newest(path: &Path) -> Option<SystemTime> {
    let metadata = std::fs::metadata(path).ok()?;
    if !metadata.is_dir() {
        return metadata.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| newest(&entry.path()))
        .max()
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
    fn the_fallback_page_has_the_placeholders() {
        let build = WebBuild::default();
        assert!(build.index.contains(STATE_PLACEHOLDER) && build.index.contains(HEAD_PLACEHOLDER));
    }
}
