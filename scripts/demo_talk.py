"""The demo's conversations: a real Matrix user (and an IRC user) talking to
the bots that scripts/demo.sh started. Standard library only; run by
scripts/demo.sh with the Synapse venv's python.

    demo_talk.py HOMESERVER TOKEN STEP [ARGS...]

Steps: echo, modbot-room, modbot MGMT_ROOM, webhooks, irc IRC_PORT.
Each prints what was said; exits 1 with the reason when a bot does not answer.
"""

import json
import socket
import sys
import time
import urllib.parse
import urllib.request

HS, TOKEN, STEP = sys.argv[1], sys.argv[2], sys.argv[3]
ARGS = sys.argv[4:]
WAIT = 30.0


def say(text):
    print(f"\033[1mdemo:\033[0m {text}", flush=True)


def fail(text):
    say(text)
    sys.exit(1)


def call(method, path, body=None, token=TOKEN):
    req = urllib.request.Request(
        HS + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"{}")


def enc(s):
    return urllib.parse.quote(s, safe="")


def until(what, probe):
    deadline = time.time() + WAIT
    while time.time() < deadline:
        got = probe()
        if got:
            return got
        time.sleep(0.2)
    fail(f"timed out waiting for {what}")


def room_with(bot, name):
    room = call("POST", "/_matrix/client/v3/createRoom",
                {"name": f"{name} {time.strftime('%T')}", "invite": [bot]})["room_id"]
    say(f"@demo:localhost created {room} and invited {bot}")
    until(f"{bot} to join", lambda: bot in call(
        "GET", f"/_matrix/client/v3/rooms/{enc(room)}/joined_members")["joined"])
    say(f"{bot} joined")
    return room


def send(room, body):
    txn = f"demo{time.time_ns()}"
    call("PUT", f"/_matrix/client/v3/rooms/{enc(room)}/send/m.room.message/{txn}",
         {"msgtype": "m.text", "body": body})
    say(f"@demo:localhost: {body}")


def message(room, sender=None, contains=""):
    """The newest message in `room` from `sender` (any but ours if None) containing `contains`."""
    def probe():
        chunk = call("GET", f"/_matrix/client/v3/rooms/{enc(room)}/messages?dir=b&limit=20")["chunk"]
        for ev in chunk:
            if ev.get("type") != "m.room.message":
                continue
            who = ev.get("sender")
            if (who == sender if sender else who != "@demo:localhost") and \
                    contains in ev["content"].get("body", ""):
                return ev
        return None
    return until(f"a message from {sender or 'a bot'} containing {contains!r}", probe)


def echo():
    bot = "@echo:localhost"
    room = room_with(bot, "Echo demo")
    text = "Hello from the Ghostkit demo!"
    send(room, f"!echo {text}")
    reply = message(room, bot)["content"]["body"]
    if reply != text:
        fail(f"{bot} answered {reply!r}, not {text!r}")
    say(f"{bot}: {reply}")


def modbot_room():
    room = call("POST", "/_matrix/client/v3/createRoom",
                {"name": "Moderators", "preset": "private_chat", "invite": ["@modbot:localhost"]})
    print(room["room_id"])


def modbot():
    bot, room = "@modbot:localhost", ARGS[0]
    until(f"{bot} in the management room", lambda: bot in call(
        "GET", f"/_matrix/client/v3/rooms/{enc(room)}/joined_members")["joined"])
    say(f"{bot} joined the management room {room}")
    send(room, "!mod status")
    say(f"{bot}: {message(room, bot, 'protected room(s)')['content']['body'].splitlines()[0]}")


def webhooks():
    bot = "@webhooks:localhost"
    room = room_with(bot, "Webhooks demo")
    send(room, "!webhook create demo")
    # The invite comes before this answer; Synapse answers the same /sync
    # again for a while, so look for the invite only after it.
    say(f"{bot}: {message(room, bot, 'Created webhook')['content']['body']}")

    polls = iter(range(1_000_000))

    def direct_room():
        # Synapse answers a repeated /sync from its cache for a while: a
        # filter that changes each time asks anew.
        filt = json.dumps({"room": {"timeline": {"limit": 10, "not_types": [f"demo.poll.{next(polls)}"]}}})
        rooms = call("GET", f"/_matrix/client/v3/sync?timeout=0&filter={enc(filt)}").get("rooms", {})
        for rid, r in rooms.get("invite", {}).items():
            if any(e.get("sender") == bot for e in r["invite_state"]["events"]):
                call("POST", f"/_matrix/client/v3/join/{enc(rid)}", {})
                return rid
        for rid, r in rooms.get("join", {}).items():
            for e in r.get("timeline", {}).get("events", []):
                if rid != room and e.get("sender") == bot and \
                        "secret URL" in e.get("content", {}).get("body", ""):
                    return rid
        return None
    dm = until(f"a direct message from {bot}", direct_room)
    text = message(dm, bot, "secret URL")["content"]["body"]
    url = next(w for w in text.split() if w.startswith("http"))
    say(f"{bot} (direct message): the secret URL of `demo` is {url}")
    req = urllib.request.Request(url, method="POST",
                                 data=json.dumps({"text": "Hello from a **webhook**"}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        say(f"POST {url} {{\"text\": \"Hello from a **webhook**\"}} -> {resp.status}")
    ev = message(room, bot, "Hello from a")
    say(f"{bot} in the room: {ev['content']['body']}")


def irc():
    port = int(ARGS[0])
    bot = "@ircbridge:localhost"
    alias = "#_irc_demo_demo:localhost"
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    buf = b""

    def line_with(pred, what):
        nonlocal buf
        deadline = time.time() + WAIT
        while time.time() < deadline:
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                text = raw.decode(errors="replace").strip()
                if text.startswith("PING"):
                    sock.sendall(("PONG" + text[4:] + "\r\n").encode())
                elif pred(text):
                    return text
            try:
                buf += sock.recv(4096)
            except TimeoutError:
                break
        fail(f"timed out waiting on IRC for {what}")

    sock.sendall(b"NICK alice\r\nUSER alice 0 * :Alice\r\n")
    line_with(lambda t: " 001 " in t, "the welcome")
    sock.sendall(b"JOIN #demo\r\n")
    line_with(lambda t: " 366 " in t, "the join")
    say("alice (IRC) joined #demo on the local ngircd")
    room = call("POST", f"/_matrix/client/v3/join/{enc(alias)}", {})["room_id"]
    say(f"@demo:localhost joined {alias} ({room}), the portal of #demo")
    send(room, "Hello IRC, this is Matrix")
    got = line_with(lambda t: "PRIVMSG #demo" in t and "Hello IRC" in t, "the relayed message")
    say(f"alice (IRC) got: {got.split(' :', 1)[-1]}")
    sock.sendall(b"PRIVMSG #demo :Hello Matrix, this is IRC\r\n")
    say("alice (IRC): Hello Matrix, this is IRC")
    ev = message(room, None, "Hello Matrix")
    say(f"{ev['sender']} in the portal: {ev['content']['body']}")
    sock.sendall(b"QUIT :bye\r\n")
    sock.close()


{"echo": echo, "modbot-room": modbot_room, "modbot": modbot,
 "webhooks": webhooks, "irc": irc}[STEP]()
