#!/usr/bin/env bash
# Run a throwaway PostgreSQL server locally for Ghostkit's tests.
#
#   scripts/postgres.sh start    install PostgreSQL if missing (Debian, as root), make the
#                                cluster once, (re)start it, wait until it answers
#   scripts/postgres.sh stop     stop it if it is running
#   scripts/postgres.sh status   print "running" / "not running"
#   scripts/postgres.sh url      print the connection string the tests take
#                                (GHOSTKIT_TEST_POSTGRES): no dbname, each test makes its own
#
# The cluster lives in .dev/postgres (gitignored): trust authentication, listening on
# 127.0.0.1 only, superuser "ghostkit". As root the server runs as the `postgres` user;
# when that user cannot reach .dev, the cluster goes to /tmp/ghostkit-postgres-PORT.
#
# Environment:
#   POSTGRES_PORT   port on 127.0.0.1 (default 15432)
#   POSTGRES_DIR    cluster folder (default .dev/postgres)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
PORT="${POSTGRES_PORT:-15432}"
PG_DIR="${POSTGRES_DIR:-$ROOT/.dev/postgres}"
START_TIMEOUT=30

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

case "$PORT" in
    '' | *[!0-9]*) die "POSTGRES_PORT must be a port number, got '$PORT'" ;;
esac

# The folder of initdb, pg_ctl and pg_isready: Debian keeps them out of PATH.
find_bin() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/pg_ctl" ] && { printf '%s\n' "$d"; return 0; }
    done
    command -v pg_ctl >/dev/null 2>&1 && { dirname "$(command -v pg_ctl)"; return 0; }
    return 1
}

install_server() {
    find_bin >/dev/null && return 0
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        die "PostgreSQL is missing: install it (Debian: sudo apt-get install postgresql)"
    fi
    log "apt-get install postgresql"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    find_bin >/dev/null || die "apt-get installed postgresql but no pg_ctl was found"
}

# Runs a server program as the user who may: `postgres` when this is root.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Where the cluster goes: POSTGRES_DIR, unless root's `postgres` user cannot reach it.
resolve_dir() {
    if [ "$(id -u)" -eq 0 ] && [ -z "${POSTGRES_DIR:-}" ]; then
        mkdir -p "$PG_DIR"
        if ! runuser -u postgres -- test -x "$PG_DIR"; then
            PG_DIR="/tmp/ghostkit-postgres-$PORT"
        fi
    fi
    DATA="$PG_DIR/data"
    LOG="$PG_DIR/server.log"
}

url() { printf 'host=127.0.0.1 port=%s user=ghostkit\n' "$PORT"; }

is_running() {
    [ -f "$DATA/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

do_start() {
    install_server
    BIN="$(find_bin)"
    resolve_dir
    mkdir -p "$PG_DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$PG_DIR"
    if [ ! -f "$DATA/PG_VERSION" ]; then
        log "making a cluster in $DATA"
        rm -rf "$DATA"
        as_owner "$BIN/initdb" -D "$DATA" -U ghostkit --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if is_running; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    fi
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t "$START_TIMEOUT" \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$DATA -c fsync=on -c max_connections=200" \
        start >/dev/null || { tail -20 "$LOG" >&2 || true; die "PostgreSQL did not start; its log is $LOG"; }
    as_owner "$BIN/pg_isready" -h 127.0.0.1 -p "$PORT" -t "$START_TIMEOUT" >/dev/null \
        || die "PostgreSQL does not answer on 127.0.0.1:$PORT; its log is $LOG"
    log "PostgreSQL listens on 127.0.0.1:$PORT (GHOSTKIT_TEST_POSTGRES='$(url)')"
}

do_stop() {
    BIN="$(find_bin)" || return 0
    resolve_dir
    if is_running; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
        log "stopped"
    fi
}

do_status() {
    if BIN="$(find_bin)" && resolve_dir && is_running; then
        echo running
    else
        echo "not running"
    fi
}

case "${1:-}" in
    start) do_start ;;
    stop) do_stop ;;
    status) do_status ;;
    url) url ;;
    *) die "usage: scripts/postgres.sh start|stop|status|url" ;;
esac
