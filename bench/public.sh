#!/usr/bin/env bash
# Public read-path benchmark: requests/s and p50/p99 latency of the public surfaces,
# against nginx serving the identical bytes of `/` as a static file, with wrk.
#
#   bench/public.sh            # from a clean checkout; prints two tables and the alert latency
#
# It runs twice: with the data set of a busy day only (1 suspected incident from an
# OpsGenie alert, 1 open confirmed outage with 4 updates, 1 planned maintenance,
# 3 incidents resolved in the last 24 h), and with 10,000 more incidents over the past
# year. Then bench/alert-latency.sh (BENCH_SKIP_ALERT=1 to leave it out).
#
# Knobs: BENCH_DURATION (wrk seconds per surface, default 10), BENCH_CONNECTIONS (64),
# BENCH_THREADS (2), BENCH_HISTORY (10000).
# wrk, the server and nginx share this machine's cores: the figures measure all three
# together, which is the honest limit of a one-machine benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

duration="${BENCH_DURATION:-10}"
connections="${BENCH_CONNECTIONS:-64}"
threads="${BENCH_THREADS:-2}"
history="${BENCH_HISTORY:-10000}"

need_commands wrk nginx curl python3
build_release

work="$(mktemp -d)"
chmod 755 "$work" # nginx's workers run as another user and read from here
nginx_pid=
cleanup() {
    stop_server
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# The query the page sends, taken from the frontend so the two cannot drift apart.
python3 - "$work" <<'EOF'
import hashlib, json, re, sys, urllib.parse
source = open("web/src/api.ts").read()
fields = {name: re.search(r"const %s = `([^`]*)`" % name, source).group(1)
          for name in ("INCIDENT_FIELDS", "STATUS_FIELDS")}
query = "{ status { %s } }" % fields["STATUS_FIELDS"].replace("${INCIDENT_FIELDS}", fields["INCIDENT_FIELDS"])
persisted = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}}
work = sys.argv[1]
open(f"{work}/register.json", "w").write(json.dumps({"query": query, "extensions": persisted}))
open(f"{work}/apq-path", "w").write("/graphql?extensions=" + urllib.parse.quote(json.dumps(persisted, separators=(",", ":"))))
body = json.dumps({"query": query})
open(f"{work}/post.lua", "w").write(
    'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = %s\n' % json.dumps(body))
EOF

# bench_with HISTORY: one full table on a fresh database.
bench_with() {
    local count="$1" data="$work/data-$1" port nginx_port base
    mkdir -p "$data"
    BENCH_DATA_DIR="$data" BENCH_HISTORY="$count" "$examples_dir/bench_seed"
    port="$(free_port)"
    start_server "$data" "$port"
    base="http://127.0.0.1:$port"
    curl -fs -H 'content-type: application/json' --data-binary @"$work/register.json" \
        "$base/graphql" >/dev/null
    curl -fso "$work/index-$count.html" "$base/"
    mkdir -p "$work/nginx/www"
    cp "$work/index-$count.html" "$work/nginx/www/index.html"
    chmod -R a+rX "$work/nginx"
    nginx_port="$(free_port)"
    start_nginx "$nginx_port"

    echo
    echo "== $((count + 6)) incidents in the database ($count over the past year + 6 of the last day)"
    printf 'response sizes (bytes, uncompressed): / %s, GraphQL status %s, summary.json %s, rss %s\n' \
        "$(wc -c <"$work/index-$count.html")" \
        "$(curl -fs -H 'content-type: application/json' --data-binary "@$work/post-body.json" "$base/graphql" | wc -c)" \
        "$(curl -fs "$base/api/v2/summary.json" | wc -c)" \
        "$(curl -fs "$base/feed/rss" | wc -c)"
    : >"$work/rows"
    run_wrk "nginx static (same bytes as /)" "http://127.0.0.1:$nginx_port/"
    run_wrk "/" "$base/"
    run_wrk "GraphQL status (POST)" "$base/graphql" "$work/post.lua"
    run_wrk "GraphQL status (persisted GET)" "$base$(cat "$work/apq-path")"
    run_wrk "/api/v2/summary.json" "$base/api/v2/summary.json"
    run_wrk "/feed/rss" "$base/feed/rss"
    kill "$nginx_pid" && wait "$nginx_pid" 2>/dev/null || true
    nginx_pid=
    stop_server

    print_table "$work/rows"
}

python3 -c 'import json,sys; print(json.dumps({"query": json.load(open(sys.argv[1]))["query"]}))' \
    "$work/register.json" >"$work/post-body.json"

echo "wrk: $threads threads, $connections connections, ${duration} s per surface; $(nproc) cores shared by wrk, the server and nginx"
bench_with 0
bench_with "$history"

if [ "${BENCH_SKIP_ALERT:-0}" != 1 ]; then
    echo
    bench/alert-latency.sh
fi
