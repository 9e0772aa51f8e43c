#!/bin/sh
# The container's entrypoint, in the style of pretix/standalone:
#
#   all (default)   web server and job workers in one process
#   web             only the web server (scale these behind a load balancer)
#   worker          only the job workers and timers
#   anything else   a monostat subcommand: `docker run … createsuperuser`, `… migrate`
#
# Migrations run when the server starts unless AUTOMIGRATE=skip (the application does
# it, so `docker exec … monostat …` behaves the same). Extra arguments after the role
# go to `monostat serve`.
set -eu

data_dir=${MONOSTAT_DATA_DIR:-/data}

check_data_dir() {
    # A host directory mounted as /data is often owned by root: say what to do
    # instead of failing later on the first write.
    if ! mkdir -p "$data_dir" 2>/dev/null || [ ! -w "$data_dir" ]; then
        echo "error: the data directory $data_dir is not writable by uid $(id -u);" \
            "run: chown -R $(id -u) <the directory mounted at $data_dir>" >&2
        exit 1
    fi
}

role=${1:-all}
case "$role" in
all | web | worker)
    if [ $# -gt 0 ]; then shift; fi
    check_data_dir
    exec monostat serve --role "$role" "$@"
    ;;
monostat)
    shift
    exec monostat "$@"
    ;;
*)
    exec monostat "$@"
    ;;
esac
