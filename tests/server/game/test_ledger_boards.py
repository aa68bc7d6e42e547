"""The ledger (idempotent, concurrent) and the Redis boards derived from it."""
from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from server.accounts.models import User
from server.game import leaderboards
from server.game.awards import settle
from server.game.ledger import AwardBatch, award, total_xp
from server.game.models import PointEvent
from server.game.tasks import rebuild_leaderboards

from ..conftest import client_for


def award_settled(player_id: int, rule: str, cause: str, amount: int | None = None, **kw):
    with transaction.atomic():
        batch = AwardBatch()
        event = award(player_id, rule, cause, amount, batch=batch, **kw)
        settle(batch)
    return event


@pytest.mark.django_db
def test_award_is_idempotent_per_cause(player):
    assert award_settled(player.pk, "recording_accepted", "obs:1") is not None
    assert award_settled(player.pk, "recording_accepted", "obs:1") is None
    assert award_settled(player.pk, "quiz_answer", "obs:1") is not None   # another rule, another event
    assert PointEvent.objects.filter(player=player).count() == 2
    assert total_xp(player.pk) == 10 + 5


@pytest.mark.django_db(transaction=True)
def test_concurrent_awards_give_exactly_n_events_and_consistent_boards():
    players = User.objects.bulk_create([User(username=f"p{i}", password="!") for i in range(4)])
    n_threads, per_thread = 8, 25
    barrier = threading.Barrier(n_threads)
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                p = players[(t + i) % len(players)]
                # every cause twice from two threads: exactly one insert wins
                award_settled(p.pk, "quest_step", f"c{(t // 2)}:{i}", 3, cell="872d16a2bffffff",
                              species_label="Bananaquit")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    distinct_causes = {(players[(t + i) % 4].pk, f"c{t // 2}:{i}") for t in range(n_threads) for i in range(per_thread)}
    assert PointEvent.objects.count() == len(distinct_causes)
    live = leaderboards.scores("alltime")
    assert live == {p: xp * 3 for p, xp in
                    ((p.pk, PointEvent.objects.filter(player=p).count()) for p in players) if xp}
    before = {b: leaderboards.scores(b) for b in leaderboards.expected_scores()}
    leaderboards.client().delete(leaderboards.key("alltime"))
    assert rebuild_leaderboards() == len(before)   # the beat task
    assert {b: leaderboards.scores(b) for b in before} == before == leaderboards.expected_scores()


@pytest.mark.django_db
def test_board_view_top_around_me_and_percentile(player):
    users = User.objects.bulk_create([User(username=f"u{i:03d}", password="!") for i in range(40)])
    for i, u in enumerate(users):
        award(u.pk, "quest_step", "x", (i + 1) * 10)
    award(player.pk, "quest_step", "x", 205)
    leaderboards.rebuild()
    body = client_for(player).get("/api/v1/game/leaderboards/alltime/?top=3").json()
    assert [e["score"] for e in body["top"]] == [400, 390, 380]
    assert body["size"] == 41
    me = body["me"]
    assert me["score"] == 205 and me["rank"] == 21   # 20 players above 205
    assert [e["rank"] for e in body["around"]] == list(range(16, 27))
    assert player.pk in [e["player"] for e in body["around"]]
    assert me["band"] == "top 75%" and 0 < me["percentile"] < 100
    assert body["top"][0]["name"] == "u039"


@pytest.mark.django_db
def test_board_errors(player, other_player):
    api = client_for(player)
    bad = api.get("/api/v1/game/leaderboards/everyone/")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_board"
    assert api.get("/api/v1/game/leaderboards/alltime/?top=1000").json()["error"]["code"] == "invalid_filter"
    assert api.get("/api/v1/game/leaderboards/team-12345/").status_code == 403
    assert client_for(None).get("/api/v1/game/leaderboards/alltime/").status_code == 401
