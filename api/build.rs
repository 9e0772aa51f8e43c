//! Builds the web frontend that `src/public/web.rs` embeds in the binary.
//!
//! `web/dist` is made with npm in `web/` (`npm ci` when `node_modules` is missing or
//! older than the lock file, then `npm run build`) when it is missing or older than its
//! sources; otherwise it is embedded as it is, so a machine (or a Docker stage) that
//! already has a current `web/dist` needs no Node.js. Cargo reruns this script only when
//! a source of the frontend changes, so Rust-only edits stay incremental.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::SystemTime;

/// What `npm run build` reads, relative to `web/`.
const SOURCES: &[&str] = &[
    "index.html",
    "admin",
    "graphiql",
    "src",
    "scripts",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
];

const NODE_NEEDED: &str = "monostat embeds its web frontend, which is built with npm: \
install Node.js 20.19 or newer (with npm) and build again, or put a current build of \
the frontend in web/dist (npm --prefix web ci && npm --prefix web run build)";

fn main() -> ExitCode {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let web = manifest
        .parent()
        .expect("api/ is in the workspace")
        .join("web");
    let dist = web.join("dist");

    println!("cargo:rerun-if-changed=build.rs");
    for source in SOURCES {
        println!("cargo:rerun-if-changed={}", web.join(source).display());
    }

    let sources = SOURCES
        .iter()
        .filter_map(|name| newest(&web.join(name)))
        .max();
    let built = modified(&dist.join("index.html")).filter(|_| is_built(&dist));
    if built.is_none() || built < sources {
        if let Err(message) = build(&web) {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
        if !is_built(&dist) {
            eprintln!(
                "error: `npm run build` in web/ left no index.html, admin/index.html and graphiql/index.html in web/dist"
            );
            return ExitCode::FAILURE;
        }
    }

    // `include_dir!` reads the folder named here; the stamp makes cargo recompile the
    // crate whenever the build changed (the macro itself tells cargo nothing).
    println!("cargo:rustc-env=MONOSTAT_WEB_DIST={}", dist.display());
    let stamp = modified(&dist.join("index.html"))
        .and_then(|time| time.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_nanos());
    println!("cargo:rustc-env=MONOSTAT_WEB_STAMP={stamp}");
    ExitCode::SUCCESS
}

fn is_built(dist: &Path) -> bool {
    ["index.html", "admin/index.html", "graphiql/index.html"]
        .iter()
        .all(|page| dist.join(page).is_file())
}

fn build(web: &Path) -> Result<(), String> {
    let installed = modified(&web.join("node_modules/.package-lock.json"));
    let lock = modified(&web.join("package-lock.json"));
    let mut steps: Vec<&[&str]> = Vec::new();
    if installed.is_none() || installed < lock {
        steps.push(&["ci", "--no-audit", "--no-fund"]);
    }
    steps.push(&["run", "build"]);
    // Not a cargo:warning: cargo replays those on later builds that ran no npm. With
    // `cargo build -vv` this shows; otherwise cargo's progress line names the script.
    eprintln!(
        "building the web frontend: npm {} in web/",
        steps
            .iter()
            .map(|step| step.join(" "))
            .collect::<Vec<_>>()
            .join(", then npm ")
    );
    for args in steps {
        let output = Command::new("npm")
            .args(args)
            .current_dir(web)
            // Cargo's variables for this script mean other things to Node tools.
            .env_remove("DEBUG")
            .env_remove("TARGET")
            .env_remove("HOST")
            .env_remove("PROFILE")
            .output()
            .map_err(|error| format!("cannot run npm ({error}). {NODE_NEEDED}"))?;
        if !output.status.success() {
            // Cargo shows a failed script's stderr: the npm output goes there.
            eprintln!("{}", String::from_utf8_lossy(&output.stdout));
            eprintln!("{}", String::from_utf8_lossy(&output.stderr));
            return Err(format!(
                "`npm {}` in web/ failed ({}); see its output above. {NODE_NEEDED}",
                args.join(" "),
                output.status
            ));
        }
    }
    Ok(())
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
