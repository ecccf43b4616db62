"""The peer of Ghostkit's echo example, on mautrix-python's AppService.

Answers `!echo <text>` with an `m.text` whose body is `<text>` and joins
the rooms its bot user is invited to, as examples/echo does. mautrix runs
each event's handler as its own asyncio task once the transaction is read
(before it is answered), so its events are unordered, and not kept on disk.

    python mautrix_echo.py --registration reg.yaml --homeserver http://127.0.0.1:18208
"""

import argparse
import asyncio
import logging
import signal
import urllib.parse

import yaml
from mautrix.appservice import AppService
from mautrix.appservice.state_store import ASStateStore
from mautrix.client.state_store.memory import MemoryStateStore
from mautrix.types import EventType, Membership, MessageType


class MemoryASStateStore(ASStateStore, MemoryStateStore):
    """State in memory only: nothing to clean up between runs."""

    def __init__(self) -> None:
        ASStateStore.__init__(self)
        MemoryStateStore.__init__(self)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registration", required=True)
    parser.add_argument("--homeserver", required=True)
    parser.add_argument("--domain", default="localhost")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with open(args.registration, encoding="utf8") as f:
        reg = yaml.safe_load(f)
    url = urllib.parse.urlparse(reg["url"])
    appserv = AppService(
        server=args.homeserver,
        domain=args.domain,
        as_token=reg["as_token"],
        hs_token=reg["hs_token"],
        bot_localpart=reg["sender_localpart"],
        id=reg["id"],
        state_store=MemoryASStateStore(),
    )

    async def on_event(event) -> None:
        bot = appserv.bot_mxid
        if event.type == EventType.ROOM_MEMBER:
            if event.state_key == bot and event.content.membership == Membership.INVITE:
                await appserv.intent.join_room(event.room_id)
            return
        if event.type != EventType.ROOM_MESSAGE or event.sender == bot:
            return
        content = event.content
        if content.msgtype != MessageType.TEXT:
            return
        if content.body.startswith("!echo "):
            await appserv.intent.send_text(event.room_id, content.body[len("!echo "):])

    appserv.matrix_event_handler(on_event)
    await appserv.start(host=url.hostname or "127.0.0.1", port=url.port or 80)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"mautrix echo listening on {reg['url']}", flush=True)
    await stop.wait()
    await appserv.stop()


if __name__ == "__main__":
    asyncio.run(main())
