"""The one Redis client factory (server/platform/redis.py): shared sync clients, fresh asyncio ones, and no
other server module building its own."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

from django.conf import settings

from server.platform import redis as platform_redis

SERVER = Path(__file__).resolve().parents[3] / "server"
BUILDS_A_CLIENT = re.compile(r"\bRedis\.from_url\s*\(|\bredis\.(?:asyncio\.)?(?:Strict)?Redis\s*\(|\baredis\.Redis\s*\("
                             r"|\bredis\.(?:asyncio\.)?from_url\s*\(|\bStrictRedis\b")


def test_one_client_per_address_and_options():
    shared = platform_redis.client()
    assert platform_redis.client() is shared
    assert platform_redis.client(settings.REDIS_URL) is shared
    text = platform_redis.client(decode_responses=True)
    assert text is not shared
    shared.set("dawn:test:platform-redis", "é")
    assert shared.get("dawn:test:platform-redis") == "é".encode()
    assert text.get("dawn:test:platform-redis") == "é"
    shared.delete("dawn:test:platform-redis")


def test_a_named_client_shows_its_name():
    named = platform_redis.client(name="dawn-platform-test", timeout_s=2.0)
    assert named.client_getname() == "dawn-platform-test"


def test_async_clients_are_new_for_each_caller():
    async def go():
        first, second = platform_redis.async_client(name="dawn-platform-test"), platform_redis.async_client()
        try:
            assert first is not second
            assert await first.client_getname() == "dawn-platform-test"
            return await second.ping()
        finally:
            await first.aclose()
            await second.aclose()
    assert asyncio.run(go()) is True


def test_no_server_module_builds_its_own_redis_client():
    builders = sorted(str(path.relative_to(SERVER)) for path in SERVER.rglob("*.py")
                      if "platform" not in path.relative_to(SERVER).parts and "migrations" not in path.parts
                      and BUILDS_A_CLIENT.search(path.read_text(encoding="utf-8")))
    assert builders == []
