#!/usr/bin/env bash
# Run a real Synapse homeserver locally for Ghostkit's tests and demos.
#
#   scripts/synapse.sh install                      create .dev/venv with matrix-synapse
#   scripts/synapse.sh start                        (re)start Synapse, wait until it answers
#   scripts/synapse.sh stop                         stop it if it is running
#   scripts/synapse.sh status                       print "running" / "not running"
#   scripts/synapse.sh register-user NAME PASSWORD  create a non-admin user (ok if it exists)
#
# Everything lives under .dev/ (gitignored):
#   .dev/venv/                          Python venv with matrix-synapse
#   .dev/synapse/homeserver.generated.yaml  pristine output of --generate-config (made once;
#                                       keeps the signing key path, macaroon/form secrets)
#   .dev/synapse/homeserver.yaml        the config actually used: the pristine file merged
#                                       with this script's overrides, rewritten on every start
#   .dev/synapse/homeserver.log         Synapse's log
#   .dev/registrations/*.yaml           extra (local, untracked) appservice registrations
# tests/registrations/*.yaml are the tracked test appservice registrations.
#
# Environment:
#   SYNAPSE_PORT      client port on 127.0.0.1 (default 18008)
#   SYNAPSE_PIP_SPEC  what `install` pip-installs (default "matrix-synapse")
#   SYNAPSE_DIR       data folder of this instance (default .dev/synapse); another
#                     folder and port run a second, independent Synapse
#   SYNAPSE_REGS      folder of the registrations it loads (default tests/registrations)
#
# Server name is "localhost" (user IDs look like @alice:localhost); the registration
# shared secret is the fixed dev value below.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
DEV="$ROOT/.dev"
VENV="$DEV/venv"
PY="$VENV/bin/python"
SYN_DIR="${SYNAPSE_DIR:-$DEV/synapse}"
GENERATED="$SYN_DIR/homeserver.generated.yaml"
CONFIG="$SYN_DIR/homeserver.yaml"
LOG_CONFIG="$SYN_DIR/log.config"
LOG="$SYN_DIR/homeserver.log"
START_OUT="$SYN_DIR/start.out"
PIDFILE="$SYN_DIR/homeserver.pid"
LOCKFILE="$SYN_DIR.lock"
TRACKED_REGS="${SYNAPSE_REGS:-$ROOT/tests/registrations}"
# Local untracked registrations belong to the default instance only.
LOCAL_REGS="$DEV/registrations"
[ -n "${SYNAPSE_REGS:-}" ] && LOCAL_REGS="$SYN_DIR/no-local-registrations"

PORT="${SYNAPSE_PORT:-18008}"
PIP_SPEC="${SYNAPSE_PIP_SPEC:-matrix-synapse}"
SHARED_SECRET="ghostkit-dev-registration-shared-secret"
SERVER_NAME="localhost"
START_TIMEOUT=60
STOP_TIMEOUT=30

log() { printf 'synapse.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

case "$PORT" in
    '' | *[!0-9]*) die "SYNAPSE_PORT must be a port number, got '$PORT'" ;;
esac
BASE_URL="http://127.0.0.1:$PORT"
VERSIONS_URL="$BASE_URL/_matrix/client/versions"

# Serialise start/stop/install between concurrent invocations. The lock fd (9) is
# closed for every child that outlives us (Synapse itself), see `9>&-` below.
take_lock() {
    mkdir -p "$DEV" "$(dirname "$SYN_DIR")"
    exec 9>"$LOCKFILE"
    if command -v flock >/dev/null 2>&1; then
        flock -w 900 9 || die "timed out waiting for $LOCKFILE"
    fi
}

synapse_importable() {
    [ -x "$PY" ] && "$PY" -c 'import synapse' >/dev/null 2>&1
}

# python3 with venv, curl and flock, from Debian's packages when missing (as root).
install_system_packages() {
    local need=()
    command -v python3 >/dev/null 2>&1 || need+=(python3)
    command -v curl >/dev/null 2>&1 || need+=(curl)
    command -v flock >/dev/null 2>&1 || need+=(util-linux)
    # The IRC bridge's tests run a real IRC server, with TLS (a test certificate).
    command -v ngircd >/dev/null 2>&1 || [ -x /usr/sbin/ngircd ] || need+=(ngircd)
    command -v openssl >/dev/null 2>&1 || need+=(openssl)
    if command -v python3 >/dev/null 2>&1; then
        local probe
        probe="$(mktemp -d)"
        python3 -m venv "$probe/venv" >/dev/null 2>&1 || need+=(python3-venv)
        rm -rf "$probe"
    else
        need+=(python3-venv)
    fi
    [ "${#need[@]}" -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        die "missing ${need[*]}: install them (Debian: sudo apt-get install ${need[*]})"
    fi
    log "apt-get install ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

do_install() {
    if synapse_importable; then
        # Synapse is there; the IRC server of the ircbridge tests may not be.
        { command -v ngircd >/dev/null 2>&1 || [ -x /usr/sbin/ngircd ]; } \
            && command -v openssl >/dev/null 2>&1 || install_system_packages
        return 0
    fi
    install_system_packages
    if [ ! -x "$PY" ] || ! "$PY" -m pip --version >/dev/null 2>&1; then
        log "creating venv in .dev/venv"
        rm -rf "$VENV"
        python3 -m venv "$VENV" \
            || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
    fi
    log "pip install $PIP_SPEC (this takes a few minutes the first time)"
    local pip_log="$DEV/pip-install.log"
    if ! "$PY" -m pip install --disable-pip-version-check -q "$PIP_SPEC" >"$pip_log" 2>&1; then
        tail -n 40 "$pip_log" >&2 || true
        die "pip install $PIP_SPEC failed (full log: $pip_log)"
    fi
    synapse_importable || die "matrix-synapse installed but 'import synapse' still fails"
    log "installed $("$PY" -c 'import synapse; print("matrix-synapse", synapse.__version__)')"
}

# Prints the pid of our running Synapse, or fails.
running_pid() {
    [ -f "$PIDFILE" ] || return 1
    local pid
    pid="$(tr -dc '0-9' <"$PIDFILE" 2>/dev/null || true)"
    [ -n "$pid" ] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # Guard against a recycled pid: it must be a Synapse process.
    if [ -r "/proc/$pid/cmdline" ]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'synapse' || return 1
    fi
    printf '%s\n' "$pid"
}

http_ok() {
    local url="$1"
    if command -v curl >/dev/null 2>&1; then
        curl -fsS -o /dev/null --max-time 3 "$url" 2>/dev/null
    else
        "$PY" - "$url" <<'EOF' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=3).read()
EOF
    fi
}

port_free() {
    python3 - "$PORT" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# As Synapse binds: connections of a stopped instance in TIME_WAIT do not
# count, a listener does.
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF
}

do_stop() {
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "$PIDFILE"
        return 0
    fi
    log "stopping Synapse (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$waited" -ge $((STOP_TIMEOUT * 10)) ]; then
            log "Synapse did not exit after ${STOP_TIMEOUT}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    rm -f "$PIDFILE"
}

generate_config_once() {
    mkdir -p "$SYN_DIR"
    if [ -s "$GENERATED" ]; then
        return 0
    fi
    log "generating Synapse config (server name $SERVER_NAME)"
    if ! (cd "$SYN_DIR" && "$PY" -m synapse.app.homeserver \
            --server-name "$SERVER_NAME" \
            --config-path "$GENERATED" \
            --data-directory "$SYN_DIR" \
            --generate-config --report-stats=no) >"$SYN_DIR/generate.out" 2>&1; then
        cat "$SYN_DIR/generate.out" >&2 || true
        rm -f "$GENERATED"
        die "synapse --generate-config failed"
    fi
}

write_config() {
    mkdir -p "$LOCAL_REGS"
    # Registration files: tracked test ones, then local untracked ones.
    local regs=() f
    shopt -s nullglob
    for f in "$TRACKED_REGS"/*.yaml; do
        regs+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")")
    done
    # A local registration of the same file name as a tracked one is an old
    # copy of it: Synapse refuses two registrations with one id.
    for f in "$LOCAL_REGS"/*.yaml; do
        [ -e "$TRACKED_REGS/$(basename "$f")" ] && continue
        regs+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")")
    done
    shopt -u nullglob

    cat >"$LOG_CONFIG" <<EOF
# Written by scripts/synapse.sh on every start.
version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: $LOG
    encoding: utf8
loggers:
  synapse.storage.SQL:
    level: INFO
root:
  level: INFO
  handlers: [file]
disable_existing_loggers: false
EOF

    # The pristine generated file is parsed and merged with the overrides (top-level
    # keys replaced), so homeserver.yaml never has duplicate keys and re-running start
    # rewrites it instead of appending. Parsing the YAML also sidesteps the generated
    # file's missing trailing newline.
    GK_GENERATED="$GENERATED" GK_CONFIG="$CONFIG" GK_SYN_DIR="$SYN_DIR" GK_PORT="$PORT" \
    GK_LOG_CONFIG="$LOG_CONFIG" GK_PIDFILE="$PIDFILE" GK_SECRET="$SHARED_SECRET" \
    "$PY" - "${regs[@]}" <<'EOF'
import os, sys, yaml

env = os.environ
with open(env["GK_GENERATED"], encoding="utf8") as f:
    config = yaml.safe_load(f.read() + "\n") or {}

syn_dir = env["GK_SYN_DIR"]
port = int(env["GK_PORT"])
fast = {"per_second": 10000, "burst_count": 100000}

overrides = {
    "pid_file": env["GK_PIDFILE"],
    "listeners": [{
        "port": port,
        "bind_addresses": ["127.0.0.1"],
        "type": "http",
        "tls": False,
        "x_forwarded": False,
        "resources": [{"names": ["client", "federation"], "compress": False}],
    }],
    "public_baseurl": f"http://127.0.0.1:{port}/",
    "database": {
        "name": "sqlite3",
        "args": {"database": os.path.join(syn_dir, "homeserver.db")},
    },
    "log_config": env["GK_LOG_CONFIG"],
    "media_store_path": os.path.join(syn_dir, "media_store"),
    "signing_key_path": os.path.join(syn_dir, "localhost.signing.key"),
    "report_stats": False,
    "enable_registration": False,
    "registration_shared_secret": env["GK_SECRET"],
    "app_service_config_files": sys.argv[1:],
    "trusted_key_servers": [],
    "suppress_key_server_warning": True,
    # Tests hammer the server: make every client-facing rate limit generous.
    "rc_message": fast,
    "rc_registration": fast,
    "rc_registration_token_validity": fast,
    "rc_login": {"address": fast, "account": fast, "failed_attempts": fast},
    "rc_joins": {"local": fast, "remote": fast},
    "rc_joins_per_room": fast,
    "rc_invites": {"per_room": fast, "per_user": fast, "per_issuer": fast},
    "rc_third_party_invite": fast,
    "rc_room_creation": fast,
    "rc_3pid_validation": fast,
    "rc_admin_redaction": fast,
    "rc_delayed_event_mgmt": fast,
    "rc_media_create": fast,
    "rc_presence": {"per_user": fast},
    "rc_reports": fast,
    "rc_user_directory": fast,
    "rc_profile": fast,
}
config.update(overrides)

class Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data):  # write plain values, no &id001 anchors
        return True

tmp = env["GK_CONFIG"] + ".tmp"
with open(tmp, "w", encoding="utf8") as f:
    f.write("# Written by scripts/synapse.sh on every start: the pristine\n"
            "# homeserver.generated.yaml merged with the script's overrides.\n"
            "# Edit scripts/synapse.sh, not this file.\n")
    yaml.dump(config, f, Dumper=Dumper, sort_keys=False, default_flow_style=False)
os.replace(tmp, env["GK_CONFIG"])
EOF
    if [ "${#regs[@]}" -gt 0 ]; then
        log "appservice registrations: ${regs[*]}"
    fi
}

# The last lines Synapse logged since this start began.
log_tail() {
    [ -f "$LOG" ] || return 0
    tail -c +"$((${LOG_OFFSET:-0} + 1))" "$LOG" | tail -n 40 >&2 || true
}

# A digest of the config and every registration file it names.
config_fingerprint() {
    local files
    files="$(grep -A1000 '^app_service_config_files:' "$CONFIG" | sed -n 's/^- //p')"
    { cat "$CONFIG"; for f in $files; do cat "$f" 2>/dev/null; done; } | sha256sum | cut -d' ' -f1
}

do_start() {
    do_install
    generate_config_once
    write_config
    local fp
    fp="$(config_fingerprint)"
    if running_pid >/dev/null && http_ok "$VERSIONS_URL" \
        && [ "$(cat "$SYN_DIR/fingerprint" 2>/dev/null)" = "$fp" ]; then
        log "Synapse is already running on $BASE_URL with the same config and registrations"
        return 0
    fi
    do_stop   # a running instance is restarted: config or registrations changed

    if ! port_free; then
        die "127.0.0.1:$PORT is already in use by another process (set SYNAPSE_PORT?)"
    fi

    log "starting Synapse on $BASE_URL"
    local t0=$SECONDS
    LOG_OFFSET=0
    [ -f "$LOG" ] && LOG_OFFSET="$(wc -c <"$LOG")"
    : >"$START_OUT"
    # --daemonize: Synapse forks after loading the config and preparing the database,
    # writes $PIDFILE and detaches from our stdio. Close the lock fd for it.
    if ! "$PY" -m synapse.app.homeserver -c "$CONFIG" --daemonize \
            </dev/null >>"$START_OUT" 2>&1 9>&-; then
        # Failed before daemonizing (bad config, bad registration, DB error): the
        # reason is at the end of what it printed.
        tail -n 30 "$START_OUT" >&2 || true
        die "Synapse failed to start (log: $LOG)"
    fi

    # The daemon writes its pid into $PIDFILE just after forking; allow a short
    # grace period before treating a missing/dead pid as a crash.
    local dead_polls=0
    while ! http_ok "$VERSIONS_URL"; do
        if running_pid >/dev/null; then
            dead_polls=0
        else
            dead_polls=$((dead_polls + 1))
        fi
        if [ $((SECONDS - t0)) -ge "$START_TIMEOUT" ] || [ "$dead_polls" -ge 15 ]; then
            log "Synapse did not answer $VERSIONS_URL (waited $((SECONDS - t0))s); last log lines:"
            cat "$START_OUT" >&2 || true
            log_tail
            do_stop
            die "Synapse failed to start (log: $LOG)"
        fi
        sleep 0.2
    done
    echo "$fp" > "$SYN_DIR/fingerprint"
    log "Synapse is up at $BASE_URL (pid $(running_pid), $((SECONDS - t0))s)"
}

do_status() {
    local pid
    if pid="$(running_pid)"; then
        if http_ok "$VERSIONS_URL"; then
            echo "running (pid $pid, $BASE_URL)"
        else
            echo "running (pid $pid), but $VERSIONS_URL does not answer"
        fi
    else
        echo "not running"
    fi
}

do_register_user() {
    [ "$#" -eq 2 ] || die "usage: $0 register-user NAME PASSWORD"
    local name="$1" password="$2" out
    if ! running_pid >/dev/null || ! http_ok "$VERSIONS_URL"; then
        die "Synapse is not running on $BASE_URL (run: scripts/synapse.sh start)"
    fi
    if out="$("$VENV/bin/register_new_matrix_user" -k "$SHARED_SECRET" \
            -u "$name" -p "$password" --no-admin "$BASE_URL" </dev/null 2>&1)"; then
        log "registered @$name:$SERVER_NAME"
    elif printf '%s' "$out" | grep -q 'User ID already taken'; then
        log "@$name:$SERVER_NAME already exists"
    else
        printf '%s\n' "$out" >&2
        die "registering @$name:$SERVER_NAME failed"
    fi
}

usage() {
    sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

cmd="${1:-}"
[ "$#" -gt 0 ] && shift
case "$cmd" in
    install) take_lock; do_install ;;
    start) take_lock; do_start ;;
    stop) take_lock; do_stop ;;
    status) do_status ;;
    register-user) do_register_user "$@" ;;
    *) usage ;;
esac
