# Shared by the benchmark scripts (sourced, not run): builds what they need and starts
# monostat on SQLite in a temporary data directory.

# A TCP port nobody listens on right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Debian packages, installed only when the command is missing.
need_commands() {
    local missing=()
    for command in "$@"; do
        command -v "$command" >/dev/null || missing+=("$command")
    done
    [ ${#missing[@]} -eq 0 ] && return
    echo "installing ${missing[*]}" >&2
    apt-get install -y "${missing[@]}" >/dev/null
}

# The release server, the benchmark's helpers, and the frontend when it was never built.
# The helpers (seeding, the WebSocket client) stay in the dev profile the tests already
# built: they are not what is measured, and linking each one with release LTO would
# cost minutes.
build_release() {
    echo "building the release binary (slow the first time) and the benchmark helpers" >&2
    cargo build --quiet --release -p monostat --bin monostat
    cargo build --quiet -p monostat --example bench_seed --example alert_latency
    if [ ! -f web/dist/index.html ]; then
        echo "building the web frontend" >&2
        npm --prefix web ci --silent && npm --prefix web run build --silent >/dev/null
    fi
}

release_dir="${CARGO_TARGET_DIR:-target}/release"
examples_dir="${CARGO_TARGET_DIR:-target}/debug/examples"
opsgenie_secret="bench-opsgenie-secret"

# start_server DATA_DIR PORT: runs monostat in the background (pid in $server_pid,
# log in DATA_DIR/server.log) and waits until the public snapshot is served.
start_server() {
    local data_dir="$1" port="$2"
    MONOSTAT_DATA_DIR="$data_dir" \
        MONOSTAT_LISTEN="127.0.0.1:$port" \
        MONOSTAT_SITE_URL="http://127.0.0.1:$port" \
        MONOSTAT_WEB_DIR="$PWD/web/dist" \
        MONOSTAT_OPSGENIE_SECRET="$opsgenie_secret" \
        "$release_dir/monostat" serve >"$data_dir/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 300); do
        if curl -fso /dev/null "http://127.0.0.1:$port/api/v2/summary.json"; then
            return
        fi
        kill -0 "$server_pid" 2>/dev/null || { cat "$data_dir/server.log" >&2; return 1; }
        sleep 0.1
    done
    echo "monostat did not answer within 30 s" >&2
    return 1
}

stop_server() {
    [ -n "${server_pid:-}" ] || return 0
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

# The wrk and nginx helpers below expect $work (a temporary directory), $threads,
# $connections and $duration.

# run_wrk NAME URL [LUA]: one line of the table, kept in $work/rows.
run_wrk() {
    local name="$1" url="$2" script="${3:-}"
    wrk -t"$threads" -c"$connections" -d"${duration}s" --latency ${script:+-s "$script"} "$url" >"$work/wrk.out"
    python3 - "$name" "$work/wrk.out" >>"$work/rows" <<'EOF'
import re, sys
out = open(sys.argv[2]).read()
def ms(text):
    value, unit = re.match(r"([\d.]+)([a-z]+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
errors = re.search(r"Socket errors: (.*)", out)
note = ("%s non-2xx " % bad.group(1) if bad else "") + ("socket errors: " + errors.group(1) if errors else "")
print("\t".join([sys.argv[1], "%.0f" % rate, "%.2f" % p50, "%.2f" % p99, note]))
EOF
}

start_nginx() {
    local port="$1"
    mkdir -p "$work/nginx/www"
    cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    types { text/html html; }
    server {
        listen 127.0.0.1:$port;
        root $work/nginx/www;
        index index.html;
    }
}
EOF
    nginx -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
    nginx_pid=$!
    for _ in $(seq 1 100); do
        curl -fso /dev/null "http://127.0.0.1:$port/" && return
        sleep 0.1
    done
    cat "$work/nginx/error.log" >&2
    return 1
}

# print_table ROWS: the rows of run_wrk, the first one nginx's, with each rate as a
# multiple of nginx's.
print_table() {
    python3 - "$1" <<'EOF'
import sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
nginx = float(rows[0][1])
print("%-32s %10s %9s %9s %8s  %s" % ("surface", "req/s", "p50 ms", "p99 ms", "x nginx", "errors"))
for name, rate, p50, p99, note in rows:
    print("%-32s %10s %9s %9s %8.2f  %s" % (name, rate, p50, p99, float(rate) / nginx, note))
EOF
}
