"""Kombu's Redis transport, with one client object per channel instead of one per command.

``kombu.transport.redis.Channel`` builds a new ``redis.Redis`` for every publish and every ack
(``conn_or_acquire`` calls the private ``Channel._create_client``). A client is thread-safe (it borrows
a connection from the channel's pool for each command), so a channel can keep one: the synchronous
client is built once per channel and reused; asynchronous clients are built as kombu builds them.
Selected with ``CELERY_BROKER_TRANSPORT`` in settings. The private API, the versions it was measured
against and the figures: ``server/platform/README.md``.
"""
from __future__ import annotations

from functools import cached_property

from kombu.transport import redis


class Channel(redis.Channel):
    @cached_property
    def _sync_client(self):
        return super()._create_client(asynchronous=False)

    def _create_client(self, asynchronous: bool = False):
        return super()._create_client(asynchronous=True) if asynchronous else self._sync_client


class Transport(redis.Transport):
    Channel = Channel
