#!/bin/sh
# The image's build steps, in one place: the Dockerfile's build stages run them, and so
# does scripts/build-image-artifacts outside Docker (CI has no Docker engine), so both
# use the same commands with the same flags.
#
#   docker/build-steps.sh web OUT_DIR      npm ci + npm run build in web/, dist copied to OUT_DIR
#   docker/build-steps.sh server OUT_DIR   the release binary, copied to OUT_DIR/monostat;
#                                           it embeds web/dist (api/build.rs), so run the
#                                           web step first or have Node.js at hand
#
# Run from the repository root (the Dockerfile's WORKDIR is the same layout).
set -eu

usage() {
    echo "usage: $0 web|server OUT_DIR" >&2
    exit 64
}

[ $# -eq 2 ] || usage
step=$1
out=$2

case "$step" in
web)
    npm --prefix web ci --no-audit --no-fund
    npm --prefix web run build
    mkdir -p "$out"
    cp -R web/dist/. "$out/"
    ;;
server)
    cargo build --release --locked -p monostat
    mkdir -p "$out"
    cp "${CARGO_TARGET_DIR:-target}/release/monostat" "$out/monostat"
    chmod 0755 "$out/monostat"
    ;;
*)
    usage
    ;;
esac
