"""Realtime messages from synchronous code, published by a background event loop in bursts.

:class:`Outbox` takes messages from any thread, wakes the publisher loop once per burst and sends to
groups concurrently (the channel layer's public ``group_send``), one group's messages in order.
"""
from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from collections.abc import Callable

from channels.layers import get_channel_layer

OnError = Callable[[str, dict, BaseException], None]  # (group, message, error)
Item = tuple[str, dict, OnError | None]


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
