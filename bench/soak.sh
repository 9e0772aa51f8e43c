#!/usr/bin/env bash
# Soak benchmark (issue 23): steady mixed traffic against the release build for
# [minutes] (default 30), sampling every 10 s what must stay flat: resident memory,
# open file descriptors, database connections, rows of the growing tables, latency.
# At the end it prints the series and the drift between the first and the last five
# minutes after warm-up, and writes an SVG chart of memory and p99.
#
#   bench/soak.sh [minutes]                 # one server on SQLite
#   SOAK_REPLICAS=2 bench/soak.sh [minutes] # two servers on PostgreSQL and Redis
#
# Traffic (see api/examples/soak.rs): public reads at SOAK_READ_RATE/s (default 200:
# page, Statuspage JSON, feeds, a third-party GraphQL query), SOAK_WS_RATE WebSockets
# opened per second (default 50) each with a live statusChanged subscription held 1 s,
# an OpsGenie alert opened and closed every 4 s, a console session every 5 s (log in,
# change a setting, log out; once a minute also open and resolve an incident, deleting
# all but the newest SOAK_PAGE_INCIDENTS (default 5): every incident of the last 24 h is
# on the page, so keeping them would grow the live data), and subscribe → confirm
# (with the link from the real mail, through aiosmtpd) → unsubscribe, one after another.
# Knobs: SOAK_WARMUP_MIN (default 5, excluded from the drift), SOAK_CHART (SVG path,
# default bench/soak-<db>.svg), SOAK_RETENTION_MINS (default 5: the retention job runs
# during the soak), SOAK_JOB_RETENTION_DAYS (default 0), SOAK_WRAP (a command the
# servers run under, e.g. "heaptrack -o /tmp/soak" to see what holds memory). Not run
# in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

minutes="${1:-30}"
replicas="${SOAK_REPLICAS:-1}"
need_commands curl python3
python3 -c 'import aiosmtpd' 2>/dev/null || pip install --quiet aiosmtpd

echo "building the release server and the soak client" >&2
cargo build --quiet --release -p monostat --bin monostat
cargo build --quiet -p monostat --example soak
if [ ! -f web/dist/index.html ]; then
    npm --prefix web ci --silent && npm --prefix web run build --silent >/dev/null
fi

work="$(mktemp -d)"
pids=()
database=
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "$database" ]; then
        psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $database" postgres || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

smtp_port="$(free_port)"
python3 api/tests/support/smtp_sink.py --port "$smtp_port" --dir "$work/mails" >/dev/null &
pids+=($!)

export MONOSTAT_MAIL_HOST=127.0.0.1 MONOSTAT_MAIL_PORT="$smtp_port"
export MONOSTAT_MAIL_FROM=status@example.com
export MONOSTAT_OPSGENIE_SECRET="$opsgenie_secret"
export MONOSTAT_WEB_DIR="$PWD/web/dist"
export MONOSTAT_RETENTION_INTERVAL_MINS="${SOAK_RETENTION_MINS:-5}"
# Finished jobs are kept a week by default; 0 days shows their bound within minutes.
export MONOSTAT_JOB_RETENTION_DAYS="${SOAK_JOB_RETENTION_DAYS:-0}"
export MONOSTAT_DATA_DIR="$work/data1"
export RUST_LOG="${RUST_LOG:-warn}"
if [ "$replicas" -gt 1 ]; then
    database="soak_$$"
    psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $database" postgres
    export MONOSTAT_DB_TYPE=postgresql MONOSTAT_DB_HOST=127.0.0.1 MONOSTAT_DB_USER=postgres
    export MONOSTAT_DB_NAME="$database" MONOSTAT_REDIS_HOST=127.0.0.1
    label=postgres
else
    label=sqlite
fi

password="soak-$(date +%s)-password"
echo "$password" | "$release_dir/monostat" createsuperuser --username soak --password-stdin >/dev/null

urls=()
server_pids=()
for i in $(seq 1 "$replicas"); do
    port="$(free_port)"
    data="$work/data$i"
    mkdir -p "$data"
    # Replicas share the session signing key, as they would share a volume.
    [ "$i" -gt 1 ] && cp "$work/data1/secret.key" "$data/"
    # shellcheck disable=SC2086 # SOAK_WRAP is a command line, split on purpose
    MONOSTAT_DATA_DIR="$data" MONOSTAT_LISTEN="127.0.0.1:$port" \
        MONOSTAT_SITE_URL="http://127.0.0.1:$port" \
        ${SOAK_WRAP:-} "$release_dir/monostat" serve >"$data/server.log" 2>&1 &
    pids+=($!)
    urls+=("http://127.0.0.1:$port")
    for _ in $(seq 1 300); do
        curl -fso /dev/null "http://127.0.0.1:$port/healthz" && break
        sleep 0.1
    done
    # The process that listens is the server, also when SOAK_WRAP runs it as a child.
    server_pid="$(ss -Hltnp "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)"
    pids+=("$server_pid")
    server_pids+=("$server_pid")
done

echo "soak: $minutes min, $replicas replica(s) on $label, servers ${urls[*]}" >&2
SOAK_URLS="$(IFS=,; echo "${urls[*]}")" \
    SOAK_PIDS="$(IFS=,; echo "${server_pids[*]}")" \
    SOAK_OPSGENIE_SECRET="$opsgenie_secret" SOAK_USER=soak SOAK_PASSWORD="$password" \
    SOAK_SINK_DIR="$work/mails" SOAK_SECONDS="$((minutes * 60))" \
    "$examples_dir/soak" 2>"$work/client.log" | tee "$work/soak.tsv"

echo "client errors (first 5 distinct):" >&2
sort "$work/client.log" | uniq -c | sort -rn | head -5 >&2
for i in $(seq 1 "$replicas"); do
    # grep -c exits 1 when it counts nothing, which is the good case.
    echo "server $i log lines with error or panic: $(grep -ciE "error|panick" "$work/data$i/server.log" || true)" >&2
done
python3 bench/soak_report.py "$work/soak.tsv" "${SOAK_CHART:-bench/soak-$label.svg}" \
    "${SOAK_WARMUP_MIN:-5}" "soak, $replicas replica(s) on $label, $minutes min"
