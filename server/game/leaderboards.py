"""Leaderboards in Redis sorted sets, derived from the ledger and rebuildable from it."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import redis
from django.db.models import Sum
from django.utils import timezone

from server.platform import redis as platform_redis

from . import boards
from .models import PointEvent

PREFIX = "dawn:lb:"
NAMES = PREFIX + "_names"
WEEKLY_TTL_S = 6 * 7 * 86400


def client() -> redis.Redis:
    """The boards' Redis client (replies as text), from the platform's factory."""
    return platform_redis.client(decode_responses=True)


def key(board: str) -> str:
    return PREFIX + board


def apply_events(events: Iterable[PointEvent]) -> tuple[dict[str, dict[int, float]], list[int]]:
    """Add new ledger events to their boards in one MULTI round trip (one ZINCRBY per board and player).

    Returns ({board: {player: new score}}, players whose display name is not cached yet).
    """
    increments: dict[tuple[str, int], int] = defaultdict(int)
    for e in events:
        for board in boards.boards_for(created_at=e.created_at, cell=e.cell, species_label=e.species_label,
                                       team_id=e.team_id):
            increments[(board, e.player_id)] += e.amount
    if not increments:
        return {}, []
    players = sorted({p for _, p in increments})
    pipe = client().pipeline(transaction=True)
    pipe.hmget(NAMES, [str(p) for p in players])
    for (board, player), amount in increments.items():
        pipe.zincrby(key(board), amount, player)
    for board in {b for b, _ in increments if b.startswith("weekly-")}:
        pipe.expire(key(board), WEEKLY_TTL_S)
    names, *scores = pipe.execute()
    out: dict[str, dict[int, float]] = defaultdict(dict)
    for (board, player), score in zip(increments, scores):
        out[board][player] = score
    return dict(out), [p for p, name in zip(players, names) if name is None]


def cache_names(names: dict[int, str]) -> None:
    """Store display names for board views."""
    if names:
        client().hset(NAMES, mapping={str(k): v for k, v in names.items()})


# One round trip: top N, size, own rank and score, ±around, and the names of everyone returned.
_VIEW_LUA = """
local key, names, top, around, me = KEYS[1], KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local size = redis.call('ZCARD', key)
local top_rows = redis.call('ZREVRANGE', key, 0, top - 1, 'WITHSCORES')
local rank, score, around_rows, lo = false, false, {}, 0
if me ~= '' then
  rank = redis.call('ZREVRANK', key, me)
  if rank then
    score = redis.call('ZSCORE', key, me)
    lo = math.max(0, rank - around)
    around_rows = redis.call('ZREVRANGE', key, lo, rank + around, 'WITHSCORES')
  end
end
local members = {}
for i = 1, #top_rows, 2 do members[#members + 1] = top_rows[i] end
for i = 1, #around_rows, 2 do members[#members + 1] = around_rows[i] end
local found = {}
if #members > 0 then found = redis.call('HMGET', names, unpack(members)) end
return {size, top_rows, rank, score, lo, around_rows, found}
"""


def _rows(flat: list, first_rank: int, names: dict[str, str]) -> list[dict]:
    return [{"rank": first_rank + i + 1, "player": int(flat[2 * i]), "score": int(float(flat[2 * i + 1])),
             "name": names.get(flat[2 * i]) or f"player {flat[2 * i]}"} for i in range(len(flat) // 2)]


def view(board: str, player_id: int | None, top: int = 50, around: int = 5) -> dict:
    """Top entries, own rank and score, ±``around`` ranks, size and percentile band (one round trip)."""
    size, top_rows, rank, score, lo, around_rows, found = client().eval(
        _VIEW_LUA, 2, key(board), NAMES, top, around, "" if player_id is None else str(player_id))
    members = top_rows[0::2] + around_rows[0::2]
    names = {m: n for m, n in zip(members, found) if n}
    body = {"board": board, "size": size, "top": _rows(top_rows, 0, names), "me": None, "around": []}
    if rank is not None and score is not None:
        percentile, band = boards.band_for(int(rank), size)
        body["me"] = {"rank": int(rank) + 1, "score": int(float(score)), "percentile": percentile, "band": band}
        body["around"] = _rows(around_rows, int(lo), names)
    return body


def expected_scores() -> dict[str, dict[int, int]]:
    """Every board's scores recomputed from the ledger (one aggregate query)."""
    out: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    rows = (PointEvent.objects.values("player_id", "cell", "species_label", "team_id", "created_at__date")
            .annotate(s=Sum("amount")))
    for row in rows:
        day = row["created_at__date"]
        when = timezone.datetime(day.year, day.month, day.day, tzinfo=timezone.get_current_timezone())
        for board in boards.boards_for(created_at=when, cell=row["cell"], species_label=row["species_label"],
                                       team_id=row["team_id"]):
            out[board][row["player_id"]] += row["s"]
    return {b: dict(v) for b, v in out.items()}


def rebuild() -> int:
    """Replace every board by the ledger's truth; returns the number of boards written."""
    from django.contrib.auth import get_user_model

    expected = expected_scores()
    r = client()
    stale = [k for k in r.scan_iter(match=PREFIX + "*", count=1000) if k != NAMES]
    names = dict(get_user_model().objects.filter(point_events__isnull=False).distinct()
                 .values_list("id", "username"))
    pipe = r.pipeline(transaction=True)
    if stale:
        pipe.delete(*stale)
    for board, scores in expected.items():
        pipe.zadd(key(board), {str(p): s for p, s in scores.items()})
        if board.startswith("weekly-"):
            pipe.expire(key(board), WEEKLY_TTL_S)
    if names:
        pipe.hset(NAMES, mapping={str(k): v for k, v in names.items()})
    pipe.execute()
    return len(expected)


def scores(board: str) -> dict[int, int]:
    return {int(m): int(s) for m, s in client().zrange(key(board), 0, -1, withscores=True)}
