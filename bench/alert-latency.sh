#!/usr/bin/env bash
# Alert latency benchmark: time from an OpsGenie webhook POST to the change arriving on
# an open `statusChanged` GraphQL subscription (graphql-transport-ws), over N rounds of
# alert opened → page suspected → alert closed → page operational. Prints p50/p99.
#
#   bench/alert-latency.sh [rounds]     # default 50; SQLite in a temporary directory
#
# The database holds BENCH_HISTORY (default 10,000) past incidents, so every snapshot
# rebuild reads a realistic history, and nothing open.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

rounds="${1:-50}"
need_commands curl python3
build_release

work="$(mktemp -d)"
cleanup() { stop_server; rm -rf "$work"; }
trap cleanup EXIT

BENCH_DATA_DIR="$work" BENCH_HISTORY="${BENCH_HISTORY:-10000}" BENCH_CURRENT=0 \
    "$examples_dir/bench_seed"
port="$(free_port)"
start_server "$work" "$port"
BENCH_URL="http://127.0.0.1:$port" BENCH_OPSGENIE_SECRET="$opsgenie_secret" BENCH_ROUNDS="$rounds" \
    "$examples_dir/alert_latency"
