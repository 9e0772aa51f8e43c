#!/usr/bin/env bash
# Fan-out benchmark: mails one confirmed incident to N subscribers (default 10,000)
# through the real notify.subscribers handler and a local aiosmtpd SMTP sink, then
# prints mails/s and the total time. Target: under 60 s for 10,000.
#
#   bench/fanout.sh [subscribers]            # SQLite in a temporary directory
#   MONOSTAT_DB_TYPE=postgresql MONOSTAT_DB_HOST=127.0.0.1 MONOSTAT_DB_USER=postgres \
#     MONOSTAT_DB_NAME=bench bench/fanout.sh # an existing, empty PostgreSQL database
#
# PROFILE=release builds optimised (slow to compile on small machines); the default
# is the dev profile the tests already built.
set -euo pipefail
cd "$(dirname "$0")/.."

count="${1:-10000}"
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
python3 -c 'import aiosmtpd' 2>/dev/null || pip install --quiet aiosmtpd

python3 api/tests/support/smtp_sink.py --port "$port" --dir "$work/mails" >/dev/null &
sink=$!
cleanup() { kill "$sink" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
    (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

profile_flag=()
[ "${PROFILE:-dev}" = release ] && profile_flag=(--release)
cargo build --quiet -p monostat --example fanout_bench "${profile_flag[@]}"
bin="${CARGO_TARGET_DIR:-target}/$([ "${PROFILE:-dev}" = release ] && echo release || echo debug)/examples/fanout_bench"

BENCH_SMTP_PORT="$port" BENCH_DATA_DIR="$work/data" BENCH_SUBSCRIBERS="$count" "$bin"
echo "messages stored by the SMTP sink: $(find "$work/mails" -name '*.eml' | wc -l)"
