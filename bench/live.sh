#!/usr/bin/env bash
# Live-page benchmark: N status pages open at once (graphql-transport-ws sockets
# subscribed to `statusChanged`), then one OpsGenie alert. Prints the servers' memory
# before and with the sockets (per socket), and alert -> every socket p50/p99/max.
#
#   bench/live.sh [clients]                 # default 10,000; one replica on SQLite
#   bench/live.sh --replicas 2 [clients]    # two replicas on PostgreSQL and Redis,
#                                           # half the clients on each; the alert goes to
#                                           # the first and reaches the second through Redis
#
# The load client is a Rust example (api/examples/live_sockets.rs). All sockets come
# from 127.0.0.1, so the per-address cap is lifted for the run.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

replicas=1
if [ "${1:-}" = "--replicas" ]; then
    replicas="$2"
    shift 2
fi
clients="${1:-10000}"

need_commands curl python3
build_release
cargo build --quiet -p monostat --example live_sockets

# A socket per client in the client and in the server (separate processes), and a few
# more; the hard limit is as far as an unprivileged raise goes.
wanted=$((clients + 1024))
hard="$(ulimit -Hn)"
if [ "$hard" != unlimited ] && [ "$hard" -lt "$wanted" ]; then
    echo "open files are limited to $hard here; $clients clients need $wanted" >&2
    exit 1
fi
ulimit -n "$wanted"
export MONOSTAT_SOCKETS_PER_ADDRESS=$((clients + 1))
export MONOSTAT_MAX_SOCKETS=$((clients + 1))

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${database:-}" ] && psql -qh 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $database" postgres >/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

if [ "$replicas" -gt 1 ]; then
    database="bench_live_$$"
    psql -qh 127.0.0.1 -U postgres -c "CREATE DATABASE $database" postgres >/dev/null
    export MONOSTAT_DB_TYPE=postgresql MONOSTAT_DB_NAME="$database" MONOSTAT_DB_USER=postgres \
        MONOSTAT_DB_HOST=127.0.0.1 MONOSTAT_DB_PORT=5432 \
        MONOSTAT_REDIS_HOST=127.0.0.1 MONOSTAT_REDIS_PORT=6379
fi

urls=()
for n in $(seq 1 "$replicas"); do
    mkdir -p "$work/replica-$n"
    # The replicas share the first one's secret key, as a deployment's do.
    [ "$n" -gt 1 ] && cp "$work/replica-1/secret.key" "$work/replica-$n/"
    port="$(free_port)"
    start_server "$work/replica-$n" "$port"
    pids+=("$server_pid")
    urls+=("http://127.0.0.1:$port")
    server_pid=
done

BENCH_URLS="$(IFS=,; echo "${urls[*]}")" BENCH_PIDS="$(IFS=,; echo "${pids[*]}")" \
    BENCH_OPSGENIE_SECRET="$opsgenie_secret" BENCH_CLIENTS="$clients" \
    "$examples_dir/live_sockets"
