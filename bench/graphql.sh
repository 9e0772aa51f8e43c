#!/usr/bin/env bash
# Third-party GraphQL benchmark: the public queries an API client sends on the incident
# day — the incident list, one incident, one day, the history calendar — with wrk
# against the release server, each beside nginx serving that query's response bytes as
# a static file, in the same run.
#
#   bench/graphql.sh           # from a clean checkout
#
# The database holds BENCH_HISTORY (default 1,000) incidents over the past year plus
# the six of a busy day (bench_seed). Each query is sent as a POST with a JSON body,
# as a third party would; answers are kept per snapshot generation, so this measures
# what a crowd of clients polling the same queries costs.
#
# Knobs: BENCH_DURATION (wrk seconds per row, default 10), BENCH_CONNECTIONS (64),
# BENCH_THREADS (2), BENCH_HISTORY (1000).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

duration="${BENCH_DURATION:-10}"
connections="${BENCH_CONNECTIONS:-64}"
threads="${BENCH_THREADS:-2}"
history="${BENCH_HISTORY:-1000}"

need_commands wrk nginx curl python3
build_release

work="$(mktemp -d)"
chmod 755 "$work"
nginx_pid=
cleanup() {
    stop_server
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

data="$work/data"
mkdir -p "$data"
BENCH_DATA_DIR="$data" BENCH_HISTORY="$history" "$examples_dir/bench_seed"
port="$(free_port)"
start_server "$data" "$port"
base="http://127.0.0.1:$port"

# The queries, with an incident and a day taken from the data: the newest incident,
# and the day 100 days ago (about three incidents with 1,000 in the year).
python3 - "$work" "$base" <<'PY'
import json, sys, urllib.request, datetime
work, base = sys.argv[1], sys.argv[2]
fields = "id title status severity start end summary path updates { id created message newStatus }"
def ask(query):
    request = urllib.request.Request(base + "/graphql", json.dumps({"query": query}).encode(),
                                     {"content-type": "application/json"})
    return json.load(urllib.request.urlopen(request))
newest = ask("{ incidents(first: 1) { items { id } } }")["data"]["incidents"]["items"][0]["id"]
day = (datetime.date.today() - datetime.timedelta(days=100)).isoformat()
queries = {
    "incidents": "{ incidents(first: 20) { items { %s } nextCursor } }" % fields,
    "incident": "{ incident(id: %d) { %s } }" % (newest, fields),
    "day": '{ day(date: "%s") { %s } }' % (day, fields),
    "history": "{ history { date worstSeverity } }",
}
for name, query in queries.items():
    body = json.dumps({"query": query})
    open(f"{work}/{name}.lua", "w").write(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = %s\n' % json.dumps(body))
    answer = ask(query)
    assert "errors" not in answer, answer
    open(f"{work}/{name}.json", "w").write(json.dumps(answer, separators=(",", ":")))
print("day %s holds %d incidents" % (day, len(ask(queries["day"])["data"]["day"])))
PY

mkdir -p "$work/nginx/www"
echo ok >"$work/nginx/www/index.html" # start_nginx waits for /
for name in incidents incident day history; do
    cp "$work/$name.json" "$work/nginx/www/$name.html"
done
chmod -R a+rX "$work/nginx"
nginx_port="$(free_port)"
start_nginx "$nginx_port"

echo "wrk: $threads threads, $connections connections, ${duration} s per row; $(nproc) cores shared by wrk, the server and nginx"
echo "$history incidents over the past year + 6 of the last day"
for name in incidents incident day history; do
    echo
    echo "== $name ($(wc -c <"$work/$name.json") bytes)"
    : >"$work/rows"
    run_wrk "nginx static (same bytes)" "http://127.0.0.1:$nginx_port/$name.html"
    run_wrk "GraphQL $name (POST)" "$base/graphql" "$work/$name.lua"
    print_table "$work/rows"
done
