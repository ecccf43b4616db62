#!/usr/bin/env bash
# The main job: a local Synapse, the echo bot on it, and a real user who talks
# to the bot. Shows the conversation, then keeps the bot running (Ctrl-C stops
# it; --once stops after the conversation).
#
#   scripts/demo.sh [--once]
#
# Log in as demo / demo-password at http://127.0.0.1:18008 with any Matrix
# client to talk to @echo:localhost yourself.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

once=false
[ "${1:-}" = "--once" ] && once=true
HS="http://127.0.0.1:${SYNAPSE_PORT:-18008}"
BOT="@echo:localhost"

say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }
json() { .dev/venv/bin/python -c "import json,sys; print(json.load(sys.stdin)$1)"; }

scripts/synapse.sh start
say "building the echo example"
cargo build -q -p echo

mkdir -p .dev
REGISTRATION=tests/registrations/echo.yaml HOMESERVER_URL="$HS" GHOSTKIT_STORE=.dev/echo.store \
    RUST_LOG=info target/debug/echo > .dev/echo.log 2>&1 &
bot_pid=$!
trap 'kill $bot_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -fs http://127.0.0.1:9009/health/ready > /dev/null && break
    kill -0 $bot_pid 2>/dev/null || { cat .dev/echo.log; exit 1; }
    sleep 0.2
done
say "echo listens on 127.0.0.1:9009 (log: .dev/echo.log)"

scripts/synapse.sh register-user demo demo-password
token=$(curl -fs -X POST "$HS/_matrix/client/v3/login" -H 'Content-Type: application/json' \
    -d '{"type":"m.login.password","identifier":{"type":"m.id.user","user":"demo"},"password":"demo-password"}' \
    | json '["access_token"]')
auth=(-H "Authorization: Bearer $token" -H 'Content-Type: application/json')

room=$(curl -fs -X POST "$HS/_matrix/client/v3/createRoom" "${auth[@]}" \
    -d "{\"name\":\"Echo demo $(date +%T)\",\"invite\":[\"$BOT\"]}" | json '["room_id"]')
say "@demo:localhost created $room and invited $BOT"
enc_room=$(printf %s "$room" | .dev/venv/bin/python -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))')
for _ in $(seq 100); do
    curl -fs "$HS/_matrix/client/v3/rooms/$enc_room/joined_members" "${auth[@]}" | grep -q "\"$BOT\"" && break
    sleep 0.2
done
say "$BOT joined"

text="Hello from the Ghostkit demo!"
curl -fs -X PUT "$HS/_matrix/client/v3/rooms/$enc_room/send/m.room.message/demo$(date +%s%N)" "${auth[@]}" \
    -d "{\"msgtype\":\"m.text\",\"body\":\"!echo $text\"}" > /dev/null
say "@demo:localhost: !echo $text"
reply=""
for _ in $(seq 100); do
    reply=$(curl -fs "$HS/_matrix/client/v3/rooms/$enc_room/messages?dir=b&limit=10" "${auth[@]}" \
        | json "['chunk']" | .dev/venv/bin/python -c "
import ast,sys
for m in ast.literal_eval(sys.stdin.read()):
    if m.get('sender') == '$BOT' and m.get('type') == 'm.room.message':
        print(m['content']['body']); break")
    [ -n "$reply" ] && break
    sleep 0.2
done
if [ "$reply" != "$text" ]; then
    say "no reply from $BOT (got '$reply'); see .dev/echo.log"
    exit 1
fi
say "$BOT: $reply"

if $once; then
    exit 0
fi
say "the bot keeps running: log in as demo / demo-password at $HS with any Matrix client and send '!echo …' (Ctrl-C stops)"
wait $bot_pid
