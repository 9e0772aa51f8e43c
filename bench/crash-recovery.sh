#!/usr/bin/env bash
# Crash recovery: the release server is killed with SIGKILL in the middle of announcing
# an incident to N subscribers (default 300) after about K mails (default 65), then
# started again with default settings. Prints how long after the restart the last
# subscriber had the mail, and how many subscribers got it twice (at most the mails in
# flight at the kill can be: the SMTP concurrency, 16).
#
#   bench/crash-recovery.sh [subscribers] [kill-after]
#   BENCH_DB=postgres bench/crash-recovery.sh    # a fresh database on 127.0.0.1:5432
#
# The SMTP sink answers each mail after BENCH_SMTP_DELAY seconds (default 0.2), so the
# fan-out takes long enough to be interrupted at a chosen point.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

subscribers="${1:-300}"
kill_after="${2:-65}"
need_commands curl jq python3
python3 -c 'import aiosmtpd' 2>/dev/null || pip install --quiet aiosmtpd
build_release

work="$(mktemp -d)"
smtp_port="$(free_port)"
port="$(free_port)"
base="http://127.0.0.1:$port"
database=""
cleanup() {
    stop_server
    kill "${sink:-}" 2>/dev/null || true
    if [ -n "$database" ]; then
        psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT

python3 api/tests/support/smtp_sink.py --port "$smtp_port" --dir "$work/mails" \
    --delay "${BENCH_SMTP_DELAY:-0.2}" >/dev/null 2>&1 &
sink=$!
export MONOSTAT_MAIL_HOST=127.0.0.1 MONOSTAT_MAIL_PORT="$smtp_port" MONOSTAT_MAIL_FROM=status@example.com
if [ "${BENCH_DB:-sqlite}" = postgres ]; then
    database="monostat_crash_$$"
    psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $database" >/dev/null
    export MONOSTAT_DB_TYPE=postgresql MONOSTAT_DB_HOST=127.0.0.1 MONOSTAT_DB_USER=postgres \
        MONOSTAT_DB_NAME="$database"
fi

password="crash recovery benchmark"
echo "$password" | MONOSTAT_DATA_DIR="$work" "$release_dir/monostat" createsuperuser \
    --username admin --password-stdin >/dev/null 2>&1
start_server "$work" "$port"

# gql QUERY [VARIABLES]: a console request; prints the data, fails on errors.
gql() {
    local body answer
    body="$(jq -nc --arg q "$1" --argjson v "${2:-"{}"}" '{query: $q, variables: $v}')"
    answer="$(curl -fs -H 'content-type: application/json' ${token:+-H "authorization: Bearer $token"} \
        --data-binary "$body" "$base/graphql")"
    if [ "$(jq '.errors // [] | length' <<<"$answer")" != 0 ]; then
        echo "GraphQL error: $answer" >&2
        return 1
    fi
    jq -c .data <<<"$answer"
}
token=""
token="$(gql 'mutation($p: String!) { login(username: "admin", password: $p) { accessToken } }' \
    "$(jq -nc --arg p "$password" '{p: $p}')" | jq -r .login.accessToken)"
csv="$(seq -f 'subscriber%05g@example.com' 1 "$subscribers")"
gql 'mutation($csv: String!) { importSubscribers(csv: $csv, consented: true) { added } }' \
    "$(jq -nc --arg csv "$csv" '{csv: $csv}')" >/dev/null

mails() { find "$work/mails" -name '*.eml' 2>/dev/null | wc -l; }
recipients() {
    # The sink writes the envelope recipient as the first line of every file.
    find "$work/mails" -name '*.eml' -exec head -qn1 {} + 2>/dev/null | sort | uniq -c
}

echo "announcing an incident to $subscribers subscribers; SIGKILL after $kill_after mails"
gql 'mutation { createIncident(input: { title: "Checkout fails", status: CONFIRMED, severity: OUTAGE }) { id } }' >/dev/null
while [ "$(mails)" -lt "$kill_after" ]; do sleep 0.02; done
kill -9 "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=
killed_at="$(mails)"
echo "killed with $killed_at mails delivered; starting again with default settings"

started=$(date +%s.%N)
start_server "$work" "$port"
deadline=$(( $(date +%s) + 300 ))
while [ "$(recipients | wc -l)" -lt "$subscribers" ]; do
    if [ "$(date +%s)" -gt "$deadline" ]; then
        echo "after 300 s only $(recipients | wc -l) of $subscribers subscribers have the mail" >&2
        exit 1
    fi
    sleep 0.05
done
finished=$(date +%s.%N)
sleep 2 # copies still in flight would land now
duplicates="$(recipients | awk '$1 > 1 { extra += $1 - 1 } END { print extra + 0 }')"
printf 'SIGKILL at %s of %s -> all delivered %.1f s after the restart, %s duplicates (%s mails in all)\n' \
    "$killed_at" "$subscribers" "$(echo "$finished - $started" | bc)" "$duplicates" "$(mails)"
