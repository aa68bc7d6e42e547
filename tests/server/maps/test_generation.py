"""The map generation counter: bumps publish the new value, and GenerationFollower keeps it in memory
without ever answering an older one than Redis holds for longer than it may."""
from __future__ import annotations

import asyncio
import os
import time

import pytest
import redis.asyncio as aredis

from server.maps import generation
from server.maps.generation import GenerationFollower
from server.platform import redis as platform_redis

from .conftest import until

pytestmark = pytest.mark.django_db
NAME = f"test-generation-follower-{os.getpid()}"  # the test client's connections, in CLIENT LIST


class CountingClient:
    """An asyncio Redis client that counts the GETs made through it."""

    def __init__(self, client: aredis.Redis) -> None:
        self.client, self.gets = client, 0

    async def get(self, key):
        self.gets += 1
        return await self.client.get(key)

    def __getattr__(self, name):
        return getattr(self.client, name)


def run_with_follower(test, **options):
    """Run ``test(follower, counting_client)`` on a fresh loop with a started follower, then stop it."""
    async def go():
        rds = platform_redis.async_client(name=NAME)
        counting = CountingClient(rds)
        follower = GenerationFollower(counting, **options)
        try:
            return await test(follower, counting)
        finally:
            await follower.stop()
            await rds.aclose()
    return asyncio.run(go())


def test_a_bump_publishes_the_value_it_sets():
    async def go():
        rds = platform_redis.async_client()
        pubsub = rds.pubsub()
        try:
            await pubsub.subscribe(generation.generation_channel())
            assert (await pubsub.get_message(timeout=2))["type"] == "subscribe"
            before = generation.current()
            await asyncio.to_thread(generation.bump)
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
            return before, int(message["data"])
        finally:
            await pubsub.aclose()
            await rds.aclose()

    before, heard = asyncio.run(go())
    assert heard == generation.current() == before + 1


def test_a_bump_after_a_flush_restarts_from_the_clock():
    generation.client().delete(generation.generation_key())
    generation.bump()
    assert generation.current() >= int(time.time() * 1000) - 60_000


def test_the_follower_reads_the_counter_until_it_is_subscribed():
    async def go(follower, counting):
        first = await follower.current()  # not started: a read
        assert (first, counting.gets) == (generation.current(), 1)
        await asyncio.to_thread(generation.bump)
        assert await follower.current() == first + 1 and counting.gets == 2
    run_with_follower(go)


def test_the_follower_hears_bumps_without_reading_the_counter():
    async def go(follower, counting):
        follower.start()
        await until(lambda: follower.live)
        reads = counting.gets
        before = await follower.current()
        for _ in range(3):
            await asyncio.to_thread(generation.bump)
        await until(lambda: follower.value == before + 3)
        assert await follower.current() == generation.current() == before + 3
        assert counting.gets == reads  # every answer came from what it heard
    run_with_follower(go, max_age=60)  # only what it hears may answer, however slow the machine


def test_the_follower_reads_again_when_it_has_heard_nothing_for_max_age():
    async def go(follower, counting):
        follower.start()
        await until(lambda: follower.live)
        # a bump it cannot hear (as if the message were lost): only the counter knows it
        generation.client().incr(generation.generation_key())
        assert await follower.current() == generation.current() - 1  # within max_age: what it heard
        reads = counting.gets
        await asyncio.sleep(1.05)
        assert await follower.current() == generation.current() and counting.gets == reads + 1
    run_with_follower(go, max_age=1.0)  # long enough that a loaded machine cannot overrun it by accident


def test_the_follower_resubscribes_after_its_connection_is_killed():
    async def go(follower, counting):
        follower.start()
        await until(lambda: follower.live)
        ours = [c for c in generation.client().client_list(_type="pubsub") if c.get("name") == NAME]
        assert len(ours) == 1
        generation.client().client_kill_filter(_id=ours[0]["id"])
        await asyncio.to_thread(generation.bump)  # published while the follower may be reconnecting
        await until(lambda: follower.live and follower.value == generation.current())
        assert await follower.current() == generation.current()
    run_with_follower(go, retry_seconds=0.05)


def test_the_follower_ignores_what_is_not_a_generation_on_its_channel():
    async def go(follower, counting):
        follower.start()
        await until(lambda: follower.live)
        heard, reads = follower.value, counting.gets
        for junk in (b"not a number", b"", b"1e999", b"\xff\xfe"):
            await counting.client.publish(generation.generation_channel(), junk)
        await asyncio.to_thread(generation.bump)  # a real bump after the junk is still heard, in order
        await until(lambda: follower.value == heard + 1)
        assert follower.live and await follower.current() == generation.current()
        assert counting.gets == reads  # it never lost its subscription (a resubscription reads the counter)
    run_with_follower(go, max_age=60)


def test_the_follower_never_goes_back():
    follower = GenerationFollower(None)
    assert follower._heard(10) == 10 and follower._heard(7) == 10 and follower._heard(12) == 12


def test_stopping_the_follower_while_it_connects_ends_it():
    async def go():
        for delay in (0, 0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.05) * 2:
            rds = platform_redis.async_client()  # a new connection to set up
            follower = GenerationFollower(rds)
            follower.start()
            await asyncio.sleep(delay)
            await asyncio.wait_for(follower.stop(), 2)  # a cancellation redis-py swallowed would hang here
            assert follower._task is None and not follower.live
            await rds.aclose()
    asyncio.run(go())
