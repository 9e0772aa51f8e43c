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
