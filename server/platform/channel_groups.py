"""Which Channels groups have live members, asked of channels_redis' storage directly (a bypass).

Channels' public layer API can send to a group but cannot tell whether anyone is in it. An award
publishes about ten messages, most to groups nobody listens to; :func:`live_groups` answers, in one
pipelined round trip per Redis host, which groups have members, so the publisher sends only those.

It reads ``RedisChannelLayer``'s private ``_group_key``, ``consistent_hash``, ``group_expiry`` and
``hosts`` (channels_redis 4.3.0; see ``server/platform/README.md``). With any other layer, or when those
change shape, it answers None and the caller sends to every group.
"""
from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable

from channels.layers import get_channel_layer

from . import redis as platform_redis

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
