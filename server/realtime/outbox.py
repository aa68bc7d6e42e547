"""Realtime messages from synchronous code, published by a background event loop in bursts.

One committed award pushes about ten messages (the player's points, badges, level and quests,
and every board the points went to), and most of those groups have nobody listening. Handing each
message to the publisher thread costs several Redis round trips of Python work there, which
competes for the GIL with the thread that awards. So :func:`live_groups` first asks Redis, in one
pipelined round trip from the calling thread, which groups have members at all; only messages
for those go to the :class:`Outbox`, which wakes the loop once per burst and sends to groups
concurrently, one group's messages in order.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable

from channels.layers import get_channel_layer

from server.platform import redis as platform_redis

OnError = Callable[[str, dict, BaseException], None]  # (group, message, error)
Item = tuple[str, dict, OnError | None]
CHECK_TIMEOUT_S = 2.0


def live_groups(groups: Iterable[str]) -> set[str] | None:
    """Which of ``groups`` have live members (one pipelined round trip per Redis host), or None when
    the channel layer cannot tell (not channels_redis' RedisChannelLayer): then send to every group."""
    layer = get_channel_layer()
    try:
        group_key, host_of, expiry = layer._group_key, layer.consistent_hash, layer.group_expiry
        addresses = [host["address"] for host in layer.hosts]
    except (AttributeError, KeyError, TypeError):
        return None
    by_host: dict[int, list[str]] = defaultdict(list)
    for group in groups:
        by_host[host_of(group)].append(group)
    live, newer_than = set(), f"({int(time.time()) - expiry}"  # group_send drops members this old
    for host, names in by_host.items():
        pipe = platform_redis.client(addresses[host], timeout_s=CHECK_TIMEOUT_S).pipeline(transaction=False)
        for group in names:
            pipe.zcount(group_key(group), newer_than, "+inf")
        live |= {g for g, n in zip(names, pipe.execute()) if n}
    return live


class Outbox:
    """Messages waiting for the publisher loop (``loop`` returns it)."""

    def __init__(self, loop: Callable[[], asyncio.AbstractEventLoop]) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._pending: list[Item] = []

    def put(self, items: list[Item]) -> None:
        """Queue messages (from any thread); the first of a burst wakes the publisher loop."""
        if not items:
            return
        with self._lock:
            wake = not self._pending
            self._pending.extend(items)
        if wake:
            self._loop().call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        by_group: dict[str, list[Item]] = defaultdict(list)
        for item in batch:
            by_group[item[0]].append(item)
        for items in by_group.values():
            asyncio.ensure_future(self._send_in_order(items))

    @staticmethod
    async def _send_in_order(items: list[Item]) -> None:
        layer = get_channel_layer()
        for group, message, on_error in items:
            try:
                await layer.group_send(group, message)
            except Exception as exc:
                if on_error is not None:
                    on_error(group, message, exc)
