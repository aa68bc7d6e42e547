"""Process-local fan-out for groups that many sockets of one process share (the leaderboards).

As a member of a Channels group, each socket gets each message through its own channel: a
receive task, the layer's receive lock, a dispatch, repeated per socket (figures:
``server/game/README.md``, ``bench_game.py``). Here the process joins such a group once, with one channel, and one reader task
hands every message to the local sockets directly.
"""
from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Protocol

from channels.layers import get_channel_layer

log = logging.getLogger(__name__)
REFRESH_S = 3600  # re-add the hub's channel to its group this often (the layer expires old members)
STOP = "hub.stop"  # sent by the hub to a reader whose group has no local members left
STOP_WAIT_S = 5.0


class Member(Protocol):
    async def relay(self, message: dict) -> None: ...


class Hub:
    """The local members of shared groups, for one event loop (one per process under uvicorn)."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self.members: dict[str, set[Member]] = {}
        self.readers: dict[str, tuple[str, asyncio.Task]] = {}  # group -> (channel, reader task)
        self.added_at: dict[str, float] = {}
        self.lock = asyncio.Lock()  # joins and leaves; I/O only on a group's first join and last leave

    async def join(self, group: str, member: Member) -> None:
        async with self.lock:
            if group not in self.readers:
                channel = await self.layer.new_channel()  # the process's own prefix: one receive loop
                self.members[group] = members = set()
                self.readers[group] = (channel, asyncio.ensure_future(self._read(group, channel, members)))
            self.members[group].add(member)
            if time.monotonic() - self.added_at.get(group, -REFRESH_S) >= REFRESH_S:
                await self.layer.group_add(group, self.readers[group][0])
                self.added_at[group] = time.monotonic()

    async def leave(self, group: str, member: Member) -> None:
        async with self.lock:
            members = self.members.get(group)
            if not members or member not in members:
                return
            members.discard(member)
            if members:
                return
            del self.members[group]
            self.added_at.pop(group, None)
            channel, reader = self.readers.pop(group)
            try:  # the reader ends itself (cancelling a channels_redis receive can leave it hanging) ...
                await self.layer.group_discard(group, channel)
                await self.layer.send(channel, {"type": STOP})
            except Exception:  # Redis is down, or the process's queue is full
                reader.cancel()
            await asyncio.wait([reader], timeout=STOP_WAIT_S)  # ... before its loop may close

    async def _read(self, group: str, channel: str, members: set[Member]) -> None:
        """Relay what ``channel`` receives to ``members`` (this reader's own set) until told to stop."""
        while True:
            try:
                message = await self.layer.receive(channel)
            except Exception as exc:
                if asyncio.current_task().cancelling():  # the layer turned our cancellation into an error
                    raise asyncio.CancelledError from exc
                log.warning("realtime hub for %s: receive failed: %s", group, exc)  # Redis trouble: try again
                await asyncio.sleep(1.0)
                continue
            if message.get("type") == STOP:
                return
            for member in list(members):
                try:
                    await member.relay(message)
                except Exception as exc:  # a socket closing meanwhile; it leaves on disconnect
                    log.debug("realtime hub for %s: relay failed: %s", group, exc)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub() -> Hub:
    """The running event loop's hub."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = Hub(get_channel_layer())
    return found
