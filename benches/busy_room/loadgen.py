"""The user side of the busy-room benchmark: bursts of `!echo` in one room.

For each bot, the user makes a room and invites the bot; once it joined,
each burst sends `--in-flight` messages at once (`!echo <bot>.<run>.<burst>.<i>`),
then waits, through /sync, for every reply (an `m.text` of the bot whose body
is the echoed text). Latency of a reply: from the burst's start to the /sync
answer that carried it. Runs alternate between the bots (bot A, B, C, A, B,
C, ...) so that a slower moment of the machine hits all of them.

Every wait is bounded: a reply missing after `--reply-timeout` fails the run.
Results go to standard output as a table, and as JSON to `--out`.
"""

import argparse
import asyncio
import json
import statistics
import sys
import time
import urllib.parse

import aiohttp

FILTER = json.dumps(
    {
        "presence": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
        "room": {
            "timeline": {"limit": 200, "types": ["m.room.message", "m.room.member"]},
            "state": {"lazy_load_members": True, "types": ["m.room.member"]},
            "ephemeral": {"not_types": ["*"]},
            "account_data": {"not_types": ["*"]},
        },
    }
)


def quote(s: str) -> str:
    return urllib.parse.quote(s, safe="")


class User:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base.rstrip("/")
        self.token = ""
        self.txn = 0
        # (room, body) -> future resolved with the time the reply was seen.
        self.waiting: dict[tuple[str, str], asyncio.Future] = {}
        # room -> set of joined members seen.
        self.joined: dict[str, set[str]] = {}
        self.replied_by: dict[str, str] = {}
        self.since = None

    async def call(self, method: str, path: str, body=None, params=None, timeout=60):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.session.request(
            method,
            self.base + path,
            json=body,
            params=params,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            data = await resp.json(content_type=None)
            if resp.status != 200:
                raise RuntimeError(f"{method} {path}: {resp.status} {data}")
            return data

    async def login(self, user: str, password: str) -> None:
        data = await self.call(
            "POST",
            "/_matrix/client/v3/login",
            {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user},
                "password": password,
            },
        )
        self.token = data["access_token"]

    async def send_text(self, room: str, body: str) -> None:
        self.txn += 1
        txn = f"bench{time.time_ns()}.{self.txn}"
        await self.call(
            "PUT",
            f"/_matrix/client/v3/rooms/{quote(room)}/send/m.room.message/{txn}",
            {"msgtype": "m.text", "body": body},
        )

    async def sync_forever(self) -> None:
        while True:
            params = {"filter": FILTER, "timeout": "30000"}
            if self.since:
                params["since"] = self.since
            try:
                data = await self.call("GET", "/_matrix/client/v3/sync", params=params, timeout=90)
            except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                print(f"sync failed ({e!r}); again", file=sys.stderr)
                await asyncio.sleep(0.5)
                continue
            seen = time.perf_counter()
            self.since = data["next_batch"]
            for room, r in data.get("rooms", {}).get("join", {}).items():
                timeline = r.get("timeline", {})
                events = r.get("state", {}).get("events", []) + timeline.get("events", [])
                for ev in events:
                    self.observe(room, ev, seen)

    def observe(self, room: str, ev: dict, seen: float) -> None:
        content = ev.get("content", {})
        if ev.get("type") == "m.room.member":
            if content.get("membership") == "join":
                self.joined.setdefault(room, set()).add(ev.get("state_key"))
            return
        if content.get("msgtype") != "m.text":
            return
        if ev.get("sender") != self.replied_by.get(room):
            return
        fut = self.waiting.pop((room, content.get("body")), None)
        if fut is not None and not fut.done():
            fut.set_result(seen)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


async def burst(user: User, room: str, tag: str, n: int, reply_timeout: float):
    bodies = [f"{tag}.{i}" for i in range(n)]
    loop = asyncio.get_running_loop()
    futs = []
    for b in bodies:
        fut = loop.create_future()
        user.waiting[(room, b)] = fut
        futs.append(fut)
    start = time.perf_counter()
    await asyncio.gather(*(user.send_text(room, f"!echo {b}") for b in bodies))
    try:
        seen = await asyncio.wait_for(asyncio.gather(*futs), reply_timeout)
    except asyncio.TimeoutError:
        missing = [b for b, f in zip(bodies, futs) if not f.done()]
        raise RuntimeError(f"no reply to {missing} after {reply_timeout}s") from None
    return start, [s - start for s in seen]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--homeserver", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument(
        "--bot", action="append", required=True, help="NAME=@bot:localhost, repeated"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bursts", type=int, default=25)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--reply-timeout", type=float, default=30.0)
    parser.add_argument("--out")
    args = parser.parse_args()
    bots = [b.split("=", 1) for b in args.bot]

    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=64, force_close=False)
    ) as session:
        user = User(session, args.homeserver)
        await user.login(args.user, args.password)
        syncing = asyncio.create_task(user.sync_forever())
        rooms = {}
        for name, bot in bots:
            created = await user.call(
                "POST",
                "/_matrix/client/v3/createRoom",
                {"preset": "private_chat", "invite": [bot], "name": f"busy room: {name}"},
            )
            room = created["room_id"]
            user.replied_by[room] = bot
            rooms[name] = room
        deadline = time.monotonic() + 60
        for name, bot in bots:
            while bot not in user.joined.get(rooms[name], set()):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} ({bot}) did not join its room in 60 s")
                await asyncio.sleep(0.1)
        for name, _ in bots:
            for w in range(args.warmup):
                await burst(user, rooms[name], f"{name}.warm.{w}", args.in_flight, args.reply_timeout)

        results = []
        for run in range(args.runs):
            for name, _ in bots:
                lat, bursts = [], []
                t0 = time.perf_counter()
                for b in range(args.bursts):
                    _, l = await burst(
                        user, rooms[name], f"{name}.{run}.{b}", args.in_flight, args.reply_timeout
                    )
                    lat.extend(l)
                    bursts.append(max(l))
                elapsed = time.perf_counter() - t0
                r = {
                    "bot": name,
                    "run": run + 1,
                    "replies": len(lat),
                    "seconds": elapsed,
                    "replies_per_s": len(lat) / elapsed,
                    "reply_p50_ms": 1000 * pct(lat, 0.5),
                    "reply_p95_ms": 1000 * pct(lat, 0.95),
                    "burst_p50_ms": 1000 * pct(bursts, 0.5),
                    "burst_p95_ms": 1000 * pct(bursts, 0.95),
                }
                results.append(r)
                print(
                    f"{name:>16} run {run + 1}: {r['replies_per_s']:7.1f} replies/s, "
                    f"reply p50 {r['reply_p50_ms']:6.1f} ms p95 {r['reply_p95_ms']:6.1f} ms, "
                    f"burst p50 {r['burst_p50_ms']:6.1f} ms p95 {r['burst_p95_ms']:6.1f} ms",
                    flush=True,
                )
        syncing.cancel()

    print()
    print("| bot | run | replies/s | reply p50 | reply p95 | burst p50 | burst p95 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['bot']} | {r['run']} | {r['replies_per_s']:.1f} | {r['reply_p50_ms']:.1f} ms "
            f"| {r['reply_p95_ms']:.1f} ms | {r['burst_p50_ms']:.1f} ms | {r['burst_p95_ms']:.1f} ms |"
        )
    print()
    print("| bot | replies/s (median of runs) | reply p50 (median) | burst p50 (median) |")
    print("|---|---:|---:|---:|")
    for name, _ in bots:
        mine = [r for r in results if r["bot"] == name]
        print(
            f"| {name} | {statistics.median(r['replies_per_s'] for r in mine):.1f} "
            f"| {statistics.median(r['reply_p50_ms'] for r in mine):.1f} ms "
            f"| {statistics.median(r['burst_p50_ms'] for r in mine):.1f} ms |"
        )
    if args.out:
        with open(args.out, "w", encoding="utf8") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    asyncio.run(main())
