#!/usr/bin/env bash
# Busy-room benchmark: one user with N messages in flight in one room, against
# Ghostkit's echo example (per_room and unordered) and a mautrix-python echo
# bot, all on one Synapse of the benchmark's own. See BENCHMARKS.md.
#
#   benches/busy_room/run.sh
#
# Environment (all optional):
#   BUSY_ROOM_RUNS      runs per bot, alternating between the bots (default 3)
#   BUSY_ROOM_BURSTS    bursts per run (default 25)
#   BUSY_ROOM_IN_FLIGHT messages per burst, sent at once (default 8)
#   BUSY_ROOM_DIR       work folder: registrations, stores, logs (default /tmp/gk-busy-room)
#   SYNAPSE_PORT        the benchmark's Synapse (default 18208)
#   SYNAPSE_DIR         its data folder (default /tmp/gk-bench-synapse)
#   BUSY_ROOM_PORT      first of the three bots' ports (default 19381)
#   BUSY_ROOM_NO_BUILD=1  use the release echo binary as it is
#   CARGO_TARGET_DIR    where cargo builds (the echo binary is found there)
#
# It starts its own Synapse (never the default one on 18008), stops it and the
# bots at the end, also on failure or Ctrl-C. Loopback only.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
RUNS="${BUSY_ROOM_RUNS:-3}"
BURSTS="${BUSY_ROOM_BURSTS:-25}"
IN_FLIGHT="${BUSY_ROOM_IN_FLIGHT:-8}"
WORK="${BUSY_ROOM_DIR:-/tmp/gk-busy-room}"
export SYNAPSE_PORT="${SYNAPSE_PORT:-18208}"
export SYNAPSE_DIR="${SYNAPSE_DIR:-/tmp/gk-bench-synapse}"
export SYNAPSE_REGS="$WORK/registrations"
PORT0="${BUSY_ROOM_PORT:-19381}"
HS="http://127.0.0.1:$SYNAPSE_PORT"
PY="$ROOT/.dev/venv/bin/python"
ECHO_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/echo"
USER_NAME=bench
USER_PASSWORD=bench-password

log() { printf 'busy_room: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$SYNAPSE_PORT" != 18008 ] || die "SYNAPSE_PORT 18008 is the default Synapse's; pick another"
[ -x "$PY" ] || die "no venv at .dev/venv: run scripts/synapse.sh install first"

# Every run starts from nothing: a new Synapse database, new registrations
# and stores (a homeserver that saw a bot go away backs off before sending to
# it again). Only folders this script made (with its mark) are removed.
MARK=.busy-room
for dir in "$WORK" "$SYNAPSE_DIR"; do
    if [ -e "$dir" ]; then
        [ -e "$dir/$MARK" ] || die "$dir exists and was not made by this script; remove it or set BUSY_ROOM_DIR / SYNAPSE_DIR"
        rm -rf "$dir"
    fi
    mkdir -p "$dir"
    touch "$dir/$MARK"
done

PIDS=()
cleanup() {
    local pid
    # Synapse first: a bot stopped before it would be marked as down.
    "$ROOT/scripts/synapse.sh" stop || true
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/registrations" "$WORK/logs"

if ! "$PY" -c 'import mautrix' 2>/dev/null; then
    log "pip install mautrix into .dev/venv"
    "$ROOT/.dev/venv/bin/pip" install --disable-pip-version-check -q mautrix
fi

if [ "${BUSY_ROOM_NO_BUILD:-}" != 1 ]; then
    log "cargo build --release -p echo"
    (cd "$ROOT" && cargo build --release -q -p echo)
fi
[ -x "$ECHO_BIN" ] || die "no echo binary at $ECHO_BIN"

# One registration per bot: id, bot localpart, port, fresh tokens.
BOTS=(gk-per-room:gkordered:$PORT0 gk-unordered:gkunordered:$((PORT0 + 1)) mautrix:mxecho:$((PORT0 + 2)))
for spec in "${BOTS[@]}"; do
    IFS=: read -r id localpart port <<<"$spec"
    reg="$WORK/registrations/$id.yaml"
    "$PY" - "$reg" "$id" "$localpart" "$port" <<'EOF'
import secrets, sys
path, id_, localpart, port = sys.argv[1:]
with open(path, "w", encoding="utf8") as f:
    f.write(f"""# Made by benches/busy_room/run.sh for its own Synapse.
id: {id_}
url: http://127.0.0.1:{port}
as_token: {secrets.token_hex(24)}
hs_token: {secrets.token_hex(24)}
sender_localpart: {localpart}
rate_limited: false
namespaces:
  users:
    - regex: '@{localpart}:localhost'
      exclusive: true
  aliases: []
  rooms: []
""")
EOF
done

"$ROOT/scripts/synapse.sh" start
"$ROOT/scripts/synapse.sh" register-user "$USER_NAME" "$USER_PASSWORD"

# The bots, each logging to its own file.
start_echo() { # id order port
    local id="$1" order="$2" port="$3"
    GHOSTKIT_REGISTRATION="$WORK/registrations/$id.yaml" GHOSTKIT_HOMESERVER_URL="$HS" GHOSTKIT_HOMESERVER_DOMAIN=localhost \
        GHOSTKIT_STORE="$WORK/$id.store" GHOSTKIT_DISPATCH_ORDER="$order" RUST_LOG="${RUST_LOG:-warn}" \
        "$ECHO_BIN" >"$WORK/logs/$id.log" 2>&1 &
    PIDS+=($!)
}
start_echo gk-per-room per_room "$PORT0"
start_echo gk-unordered unordered "$((PORT0 + 1))"
"$PY" "$HERE/mautrix_echo.py" --registration "$WORK/registrations/mautrix.yaml" --homeserver "$HS" \
    >"$WORK/logs/mautrix.log" 2>&1 &
PIDS+=($!)

for port in "$PORT0" "$((PORT0 + 1))" "$((PORT0 + 2))"; do
    for _ in $(seq 100); do
        "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
        sleep 0.1
    done
done

log "load: $RUNS runs x $BURSTS bursts x $IN_FLIGHT in flight per bot"
"$PY" "$HERE/loadgen.py" --homeserver "$HS" --user "$USER_NAME" --password "$USER_PASSWORD" \
    --bot "gk-per-room=@gkordered:localhost" \
    --bot "gk-unordered=@gkunordered:localhost" \
    --bot "mautrix=@mxecho:localhost" \
    --runs "$RUNS" --bursts "$BURSTS" --in-flight "$IN_FLIGHT" --out "$WORK/results.json"
log "results in $WORK/results.json; Synapse's log: $SYNAPSE_DIR/homeserver.log"
