#!/usr/bin/env bash
# The main job: a local Synapse (and a local IRC server), the bots on it, and a
# real user who talks to each: the echo example, bots/modbot, bots/webhooks and
# bots/ircbridge. Shows the conversations, then keeps the bots running (Ctrl-C
# stops them; --once stops after the conversations).
#
#   scripts/demo.sh [--once]
#
# Log in as demo / demo-password at http://127.0.0.1:18008 with any Matrix
# client to talk to them yourself. Logs: .dev/<bot>.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

once=false
[ "${1:-}" = "--once" ] && once=true
HS="http://127.0.0.1:${SYNAPSE_PORT:-18008}"
IRC_PORT="${DEMO_IRC_PORT:-16667}"
PY=.dev/venv/bin/python

say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }

scripts/synapse.sh start
say "building the echo example and the bots"
cargo build -q -p echo -p ghostkit-modbot -p ghostkit-webhooks -p ghostkit-ircbridge

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
mkdir -p .dev

# start NAME PORT [VAR=value...]: runs target/debug/NAME with the test
# registration of that name, waits until it is ready on PORT.
start() {
    local name=$1 port=$2
    shift 2
    env GHOSTKIT_REGISTRATION="tests/registrations/$name.yaml" GHOSTKIT_HOMESERVER_URL="$HS" \
        GHOSTKIT_STORE=".dev/$name.store" RUST_LOG=info "$@" \
        "target/debug/$name" > ".dev/$name.log" 2>&1 &
    local pid=$!
    pids+=("$pid")
    for _ in $(seq 150); do
        curl -fs "http://127.0.0.1:$port/health/ready" > /dev/null && break
        kill -0 "$pid" 2>/dev/null || { cat ".dev/$name.log"; exit 1; }
        sleep 0.2
    done
    say "$name listens on 127.0.0.1:$port (log: .dev/$name.log)"
}

# The IRC server the bridge relays to.
NGIRCD=$(command -v ngircd || echo /usr/sbin/ngircd)
cat > .dev/ngircd.conf <<EOF
[Global]
Name = irc.demo
Info = Ghostkit demo
AdminInfo1 = demo
AdminInfo2 = demo
AdminEMail = demo@localhost
Listen = 127.0.0.1
Ports = $IRC_PORT
MotdPhrase = Ghostkit demo
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
[Options]
DNS = no
Ident = no
PAM = no
EOF
"$NGIRCD" -n -f .dev/ngircd.conf > .dev/ngircd.log 2>&1 &
pids+=("$!")
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$IRC_PORT") 2>/dev/null && break
    sleep 0.2
done
say "ngircd listens on 127.0.0.1:$IRC_PORT"

scripts/synapse.sh register-user demo demo-password
token=$(curl -fs -X POST "$HS/_matrix/client/v3/login" -H 'Content-Type: application/json' \
    -d '{"type":"m.login.password","identifier":{"type":"m.id.user","user":"demo"},"password":"demo-password"}' \
    | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
talk() { "$PY" scripts/demo_talk.py "$HS" "$token" "$@"; }

say "--- echo: replies to !echo <text> with <text>"
start echo 9009
talk echo

say "--- modbot: moderation from a management room"
mgmt=$(talk modbot-room)
start modbot 9014 GHOSTKIT_BOT_MANAGEMENT_ROOM="$mgmt"
talk modbot "$mgmt"

say "--- webhooks: a secret URL that posts into a room"
start webhooks 9015 GHOSTKIT_BOT_LISTEN=127.0.0.1:9016 GHOSTKIT_BOT_PUBLIC_URL=http://127.0.0.1:9016
talk webhooks

say "--- ircbridge: a Matrix room and an IRC channel as one"
cat > .dev/ircbridge.yaml <<EOF
bot:
  network: demo
  host: 127.0.0.1
  port: $IRC_PORT
  nick: matrixbridge
  channels: ["#demo"]
EOF
start ircbridge 9017 GHOSTKIT_CONFIG=.dev/ircbridge.yaml
talk irc "$IRC_PORT"

say "every bot answered"
if $once; then
    exit 0
fi
say "the bots keep running: log in as demo / demo-password at $HS with any Matrix client (Ctrl-C stops)"
wait
