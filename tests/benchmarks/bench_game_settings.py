"""Settings for bench_game's web server: the project settings with the channel layer that
``BENCH_CHANNEL_LAYER`` names (``core``: today's RedisChannelLayer; ``pubsub``: the proposed
RedisPubSubChannelLayer), both with the Redis options the benchmark needs (proposed for
server/settings.py): redis-py 8 reads with a 5 s socket timeout, the same as channels_redis'
5 s BZPOPMIN, so a busy event loop crashes idle consumers (``TimeoutError: Timeout reading``);
and its pool of 100 connections refuses bursts of simultaneous connects."""
import os

from server.settings import *  # noqa: F401,F403
from server.settings import REDIS_URL

LAYERS = {"core": "channels_redis.core.RedisChannelLayer", "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer"}
HOST = {"address": REDIS_URL, "socket_timeout": 30, "max_connections": 2000}
CHANNEL_LAYERS = {"default": {"BACKEND": LAYERS[os.environ.get("BENCH_CHANNEL_LAYER", "core")],
                              "CONFIG": {"hosts": [HOST], "prefix": "dawn:channels"}}}
