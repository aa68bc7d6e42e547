"""The award path's budget (queries per accepted observation), badge definitions read fresh at every
award, and realtime pushes sent only to groups that have listeners."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.test.utils import CaptureQueriesContext

from server.game import push
from server.game.consequences import award_accepted
from server.game.models import BadgeDefinition, PlayerBadge
from server.realtime.consumers import encoded

from .helpers import accept
from .test_consequences import make_quest

pytestmark = pytest.mark.django_db


def award_queries(player, clip, **kw) -> list[str]:
    obs = accept(player, clip, signal=False, **kw)
    with CaptureQueriesContext(connection) as ctx:
        award_accepted(obs)
    return [q["sql"] for q in ctx.captured_queries]


def badges_of(player) -> set[str]:
    return set(PlayerBadge.objects.filter(player=player).values_list("badge__slug", flat=True))


def test_an_accepted_observation_costs_a_few_queries(game, player, bird_clips):
    clip = bird_clips[0]
    # read what came before (the observations app's query) and the game's context (its own), insert the
    # ledger rows, evaluate badges, grant the first two (each an insert in a savepoint: three statements)
    queries = award_queries(player, clip)
    assert len(queries) == 10 and sum(q.startswith("SAVEPOINT") for q in queries) == 2
    assert len(award_queries(player, clip, lat=18.3001)) == 4   # nothing new to grant
    make_quest()
    # + count the observation (progress row locked, contribution) and save the progress; the quest's
    # points join the observation's INSERT
    assert len(award_queries(player, clip, lat=18.3002)) == 6


def test_badge_definitions_apply_at_the_next_award(game, player, bird_clips):
    clip = bird_clips[0]
    accept(player, clip)
    BadgeDefinition.objects.create(slug="two-recordings", name="Two", description="Two recordings.",
                                   metric="recordings", threshold=2)
    BadgeDefinition.objects.filter(slug="ten-recordings").update(threshold=3)
    accept(player, clip, lat=18.3001)
    assert {"two-recordings"} <= badges_of(player) and "ten-recordings" not in badges_of(player)
    BadgeDefinition.objects.filter(slug="ten-recordings").update(active=False)
    accept(player, clip, lat=18.3002)
    assert "ten-recordings" not in badges_of(player)
    BadgeDefinition.objects.filter(slug="ten-recordings").update(active=True)
    accept(player, clip, lat=18.3003)
    assert "ten-recordings" in badges_of(player)


def test_quest_badge_counts_only_its_quest(game, player, bird_clips):
    BadgeDefinition.objects.create(slug="solo-done", name="Solo", description="The solo quest.", metric="quest",
                                   params={"quest": "q-solo"})
    BadgeDefinition.objects.create(slug="other-done", name="Other", description="Another quest.", metric="quest",
                                   params={"quest": "elsewhere"})
    make_quest(target=1)
    accept(player, bird_clips[0], when=datetime.now(timezone.utc) - timedelta(minutes=5))
    assert {"solo-done", "quester"} <= badges_of(player) and "other-done" not in badges_of(player)


def test_one_groups_pushes_arrive_in_order():
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("board.listened", channel)
    push.publish([("board.empty", {"type": "leaderboard.changed", "n": 0}),
                  ("board.listened", {"type": "leaderboard.changed", "n": 1}),
                  ("board.listened", {"type": "leaderboard.changed", "n": 2})])

    async def two() -> list[int]:  # one loop: channels_redis acknowledges a message after handing it over
        return [(await asyncio.wait_for(layer.receive(channel), 5))["n"] for _ in range(2)]

    assert async_to_sync(two)() == [1, 2]   # one group's messages, in order
    async_to_sync(layer.group_discard)("board.listened", channel)


def test_a_relayed_event_is_encoded_once_per_message():
    first, second = {"type": "leaderboard.changed", "x": 1}, {"type": "leaderboard.changed", "x": 1}
    assert encoded(first) is encoded(first) == '{"type": "leaderboard.changed", "x": 1}'
    assert encoded(second) == encoded(first)
