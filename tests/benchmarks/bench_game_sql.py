"""Benchmark: the award path's raw SQL, each module apart, against its ORM form, per accepted observation.

Each step is timed as SQL and through the ORM; the ``module`` column says which of the two the code uses.

* ``ledger: award_many``: an award's ledger rows (four here: recording, species, cell, quest step); SQL: one
  multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING``; ORM: ``bulk_create(ignore_conflicts=True)`` and a
  read of the rows stamped with this batch's instant by these players;
* ``ledger: award``: one row (an identification's award); SQL: the same statement; ORM: ``insert_once``
  (an insert in a savepoint that the unique constraint may refuse);
* ``badges: evaluate``: the player's XP, metrics and candidate badges; SQL: one query; ORM: an aggregate over
  the ledger and a read of the active badges the player does not hold (grants through the module in both);
* ``badges: grant_many (2)``: two badges, as a first award earns; SQL: one multi-row insert; ORM: ``insert_once``
  per badge;
* ``quests: count once``: counting an observation once towards a quest; SQL: one upsert CTE; ORM:
  ``select_for_update().get_or_create`` of the progress row and ``get_or_create`` of the contribution;
* ``context: game's query``: the game's own part of the award's context (``context.load`` less the
  observations app's read); SQL: one query; ORM: four querysets (team, yesterday's recording, running hunt,
  matching quests);
* ``player_reads.before``: the observer's previous observation and the species' count; SQL: one query; ORM:
  two querysets.

The database is prepared as ``bench_game.py`` prepares it (``--players`` players with one ledger row each,
``--history`` accepted observations awarded through the game). Each step runs alternately as SQL and through
the ORM, each inside a transaction that is rolled back; both answers are compared. Own database
``bench_game_sql``, Redis DB 11 (flushed). Prints a table and one JSON line.
Run: ``.venv/bin/python tests/benchmarks/bench_game_sql.py [--players 20000] [--history 120] [--repeats 400]``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.benchmarks.bench_game import bench_awards, seed_players, setup_django  # noqa: E402
from tests.benchmarks.benchenv import bench_env, fresh_database, p50_p95  # noqa: E402

DB_NAME = "bench_game_sql"
REDIS_DB = 11


# --- the ORM peers ----------------------------------------------------------------------------------------

def orm_award_many(awards: list, at: datetime | None = None) -> list:
    """The ledger's ``award_many`` through the ORM: the rows this call inserted, as PointEvents."""
    from django.utils import timezone as tz

    from server.game.ledger import POINTS
    from server.game.models import PointEvent

    at = at or tz.now()
    rows = [PointEvent(player_id=a.player_id, rule=a.rule, cause=a.cause[:120],
                       amount=POINTS[a.rule] if a.amount is None else int(a.amount), observation_id=a.observation_id,
                       species_label=a.species_label[:120], cell=a.cell, team_id=a.team_id, tags=list(a.tags),
                       created_at=at) for a in awards]
    PointEvent.objects.bulk_create(rows, ignore_conflicts=True)
    new = {(p, r, c): i for i, p, r, c in PointEvent.objects.filter(created_at=at,
                                                                    player_id__in={r.player_id for r in rows})
           .values_list("id", "player_id", "rule", "cause")}
    out = []
    for r in rows:
        pk = new.pop((r.player_id, r.rule, r.cause), None)
        if pk is not None:
            r.id = pk
            out.append(r)
    return out


def sql_award_one(a) -> list:
    """``ledger.award`` as SQL: one ``INSERT … ON CONFLICT DO NOTHING RETURNING id``."""
    from django.db import connection
    from django.utils import timezone as tz

    from server.game.ledger import POINTS
    from server.game.models import PointEvent

    amount, at = POINTS[a.rule] if a.amount is None else int(a.amount), tz.now()
    with connection.cursor() as cur:
        cur.execute(f"INSERT INTO {PointEvent._meta.db_table} (player_id, rule, cause, amount, observation_id, "
                    "species_label, cell, team_id, tags, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, "
                    "%s::jsonb, %s) ON CONFLICT (player_id, rule, cause) DO NOTHING RETURNING id",
                    [a.player_id, a.rule, a.cause[:120], amount, a.observation_id, a.species_label[:120], a.cell,
                     a.team_id, json.dumps(list(a.tags)), at])
        row = cur.fetchone()
    return [] if row is None else [PointEvent(id=row[0], player_id=a.player_id, rule=a.rule, cause=a.cause[:120],
                                              amount=amount, tags=list(a.tags), created_at=at)]


def sql_grant_many(player_id: int, badges: list) -> list:
    """``badges.grant_many`` as SQL: one multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING badge_id``."""
    from django.db import connection
    from django.utils import timezone as tz

    from server.game.models import PlayerBadge

    if not badges:
        return []
    now = tz.now()
    with connection.cursor() as cur:
        cur.execute(f"INSERT INTO {PlayerBadge._meta.db_table} (player_id, badge_id, earned_at) VALUES "
                    + ", ".join(["(%s, %s, %s)"] * len(badges))
                    + " ON CONFLICT (player_id, badge_id) DO NOTHING RETURNING badge_id",
                    [v for b in badges for v in (player_id, b.pk, now)])
        new = {r[0] for r in cur.fetchall()}
    return [b for b in badges if b.pk in new]


def orm_evaluate(player_id: int, rules: set[str]):
    """``badges.evaluate`` through the ORM."""
    from django.db.models import Count, Max, Q, Sum
    from django.db.models.functions import Coalesce

    from server.game.badges import LEDGER_METRICS, Evaluation, grant_many, metrics_moved_by
    from server.game.levels import level_for
    from server.game.models import Adoption, BadgeDefinition, PointEvent

    moved = metrics_moved_by(rules)
    aggregates = {"xp": Coalesce(Sum("amount"), 0)}
    for m in sorted(moved & set(LEDGER_METRICS)):
        rule, tag = LEDGER_METRICS[m]
        aggregates[m] = Count("id", filter=Q(rule=rule, tags__contains=[tag]) if tag else Q(rule=rule))
    values = PointEvent.objects.filter(player_id=player_id).aggregate(**aggregates)
    xp = values.pop("xp")
    values["level"] = level_for(xp)
    values["adopt_streak"] = (Adoption.objects.filter(player_id=player_id)
                              .aggregate(m=Coalesce(Max("best_streak"), 0))["m"] if "adopt_streak" in moved else 0)
    candidates = list(BadgeDefinition.objects.filter(active=True, metric__in=moved)
                      .exclude(holders__player_id=player_id))
    quest_tags = None
    earned = []
    for badge in candidates:
        if badge.metric == "quest":
            if quest_tags is None:
                quest_tags = list(PointEvent.objects.filter(player_id=player_id, rule="quest_complete")
                                  .values_list("tags", flat=True))
            quest = (badge.params or {}).get("quest") or ""
            value = sum(1 for tags in quest_tags if not quest or f"quest:{quest}" in tags)
        else:
            value = values.get(badge.metric, 0)
        if value >= badge.threshold:
            earned.append(badge)
    return Evaluation(int(xp), grant_many(player_id, earned))


def orm_count_once(quest, obs, batch):
    """``quests._count_once`` through the ORM."""
    from server.game.models import QuestContribution, QuestMode, QuestProgress

    player_id = obs.observer_id
    owner = {"player_id": player_id, "team": None}
    if quest.mode == QuestMode.TEAM:
        owner = {"team_id": batch.team(player_id)}
    progress, _ = QuestProgress.objects.select_for_update().get_or_create(quest=quest, **owner)
    if progress.completed_at is not None:
        return progress, False
    _, counted = QuestContribution.objects.get_or_create(quest=quest, observation_id=obs.pk,
                                                         defaults={"player_id": player_id, "progress": progress})
    return progress, counted


def sql_game_context(obs) -> tuple:
    """The game's own query of ``context.load`` (the module's SQL), answers as the module reads them."""
    from django.db import connection

    from server.game.context import _SQL, _quest, day_tag

    yesterday = (obs.observed_at - timedelta(days=1)).date()
    params = {"player": obs.observer_id, "species": obs.species_id, "at": obs.observed_at,
              "yesterday": json.dumps([day_tag(yesterday)]), "lng": obs.location.x, "lat": obs.location.y}
    with connection.cursor() as cur:
        cur.execute(_SQL, params)
        team_id, streak, hunt_id, quests = cur.fetchone()
    if isinstance(quests, str):
        quests = json.loads(quests)
    return team_id, bool(streak), hunt_id, [_quest(row) for row in quests]


def orm_game_context(obs) -> tuple:
    """The same through the ORM: four querysets."""
    from django.db.models import Exists, OuterRef, Q

    from server.game.context import QUEST_FIELDS, day_tag
    from server.game.models import Hunt, PointEvent, Quest, TeamMembership

    player, at = obs.observer_id, obs.observed_at
    yesterday = (at - timedelta(days=1)).date()
    team_id = (TeamMembership.objects.filter(player_id=player).order_by("id")
               .values_list("team_id", flat=True).first())
    streak = PointEvent.objects.filter(player_id=player, rule="recording_accepted",
                                       tags__contains=[day_tag(yesterday)]).exists()
    hunt_id = (Hunt.objects.filter(player_id=player, species_id=obs.species_id, started_at__lte=at, ends_at__gte=at)
               .order_by("id").values_list("id", flat=True).first())
    targets = Quest.species.through.objects.filter(quest_id=OuterRef("pk"))
    quests = list(Quest.objects.filter(active=True, starts_at__lte=at, ends_at__gte=at)
                  .filter(Q(area__isnull=True) | Q(area__contains=obs.location))
                  .filter(~Exists(targets) | Exists(targets.filter(species_id=obs.species_id)))
                  .only(*QUEST_FIELDS).order_by("ends_at", "slug"))
    return team_id, streak, hunt_id, quests


def orm_before(obs, count_up_to: int):
    """``player_reads.before`` through the ORM: two querysets."""
    from server.observations.models import Observation
    from server.observations.player_reads import PreviousObservation, PriorObservations

    previous = None
    if obs.recording_id is not None and obs.observer_id is not None:
        row = (Observation.objects.filter(observer_id=obs.observer_id, recording__isnull=False,
                                          observed_at__lte=obs.observed_at).exclude(pk=obs.pk)
               .order_by("-observed_at", "-id")
               .values_list("id", "location", "observed_at", "coordinate_uncertainty_m").first())
        if row is not None:
            previous = PreviousObservation(row[0], row[1].y, row[1].x, row[2], row[3])
    earlier = Observation.objects.filter(species_id=obs.species_id).exclude(pk=obs.pk)[:count_up_to].count()
    return PriorObservations(previous, earlier)


# --- the comparison ---------------------------------------------------------------------------------------

def event_keys(events) -> list:
    return sorted((e.player_id, e.rule, e.cause, e.amount, tuple(e.tags)) for e in events)


def quest_keys(quests) -> list:
    from server.game.context import QUEST_FIELDS

    return [tuple(getattr(q, f) for f in QUEST_FIELDS) for q in quests]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--players", type=int, default=20_000)
    ap.add_argument("--history", type=int, default=120, help="accepted observations awarded before timing")
    ap.add_argument("--repeats", type=int, default=400)
    args = ap.parse_args()
    env = bench_env(DB_NAME, REDIS_DB, "gamesql")
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    fresh_database(env)
    setup_django(env)
    rng = random.Random(26)
    print(f"seeding {args.players:,} players and {args.history} awarded observations ...", flush=True)
    ids = seed_players(args.players, rng)
    bench_awards(ids, args.history, rng)

    from django.db import transaction
    from django.utils import timezone as tz

    from server.game import badges, context, ledger, quests
    from server.game.consequences import observation_tags
    from server.game.geo import cell_of
    from server.game.ledger import Award, AwardBatch
    from server.game.models import BadgeDefinition, PlayerBadge, Quest, QuestProgress
    from server.observations import player_reads
    from server.observations.models import Observation

    observations = list(Observation.objects.filter(recording__isnull=False, observer__isnull=False)
                        .select_related("species").order_by("id"))
    now = datetime.now(timezone.utc)
    quest = Quest.objects.create(slug="bench-solo", title="Bench", starts_at=now - timedelta(days=365),
                                 ends_at=now + timedelta(days=365), target_count=10 ** 6, step_points=5,
                                 reward_points=50)
    QuestProgress.objects.bulk_create([QuestProgress(quest=quest, player_id=p, count=3)
                                       for p in {o.observer_id for o in observations}])
    fresh_badges = [BadgeDefinition.objects.create(slug=f"bench-badge-{n}", name="Bench", description="Bench.",
                                                   metric="recordings", threshold=10 ** 6) for n in range(2)]

    def agreed(obs, i: int) -> Award:
        return Award(obs.observer_id, "identification_agreed", f"bench:{obs.pk}:{i}")

    def awards_of(obs, i: int) -> list:
        cell = cell_of(obs.location.y, obs.location.x)
        make = lambda rule, cause, tags=(), amount=None: Award(  # noqa: E731
            obs.observer_id, rule, cause, amount, observation_id=obs.pk, species_label=obs.species.label, cell=cell,
            tags=tags)
        return [make("recording_accepted", f"obs:{obs.pk}:bench{i}", tuple(observation_tags(obs))),
                make("new_species", f"species:{obs.species.label}"), make("new_cell", f"cell:{cell}"),
                make("quest_step", f"quest:{quest.pk}:obs:{obs.pk}:bench{i}", (f"quest:{quest.slug}",),
                     quest.step_points)]

    rules = {"recording_accepted", "new_species", "new_cell"}
    # step -> (the SQL, the ORM, which of the two the module uses)
    steps = {
        "ledger: award_many": (
            lambda obs, i: event_keys(ledger.award_many(awards_of(obs, i), at=tz.now())),
            lambda obs, i: event_keys(orm_award_many(awards_of(obs, i), at=tz.now())), "SQL"),
        "ledger: award": (
            lambda obs, i: event_keys(sql_award_one(agreed(obs, i))),
            lambda obs, i: event_keys([e for e in [ledger.award(obs.observer_id, "identification_agreed",
                                                                f"bench:{obs.pk}:{i}", team_id=None)] if e]), "ORM"),
        "badges: evaluate": (
            lambda obs, i: (lambda e: (e.xp, [b.slug for b in e.earned]))(badges.evaluate(obs.observer_id, rules)),
            lambda obs, i: (lambda e: (e.xp, [b.slug for b in e.earned]))(orm_evaluate(obs.observer_id, rules)),
            "SQL"),
        "badges: grant_many (2)": (
            lambda obs, i: [b.slug for b in sql_grant_many(obs.observer_id, fresh_badges)],
            lambda obs, i: [b.slug for b in badges.grant_many(obs.observer_id, fresh_badges)], "ORM"),
        "quests: count once": (
            lambda obs, i: (lambda r: (r[0].pk, r[0].count, r[1]))(quests._count_once(quest, obs, AwardBatch())),
            lambda obs, i: (lambda r: (r[0].pk, r[0].count, r[1]))(orm_count_once(quest, obs, AwardBatch())), "SQL"),
        "context: game's query": (
            lambda obs, i: (lambda r: (*r[:3], quest_keys(r[3])))(sql_game_context(obs)),
            lambda obs, i: (lambda r: (*r[:3], quest_keys(r[3])))(orm_game_context(obs)), "SQL"),
        "player_reads.before": (
            lambda obs, i: player_reads.before(obs, count_up_to=context.RARE_BELOW),
            lambda obs, i: orm_before(obs, context.RARE_BELOW), "SQL"),
    }
    names = ("SQL", "ORM")
    times = {step: {n: [] for n in names} for step in steps}
    mismatches = {step: 0 for step in steps}
    for i in range(args.repeats):
        obs = observations[i % len(observations)]
        for step, fns in steps.items():
            answers = {}
            for k in ([0, 1] if i % 2 else [1, 0]):
                with transaction.atomic():
                    t = time.perf_counter()
                    answers[k] = fns[k](obs, i)
                    times[step][names[k]].append((time.perf_counter() - t) * 1000)
                    transaction.set_rollback(True)
            if answers[0] != answers[1]:
                mismatches[step] += 1
                if mismatches[step] == 1:
                    print(f"  {step}: SQL {answers[0]!r} != ORM {answers[1]!r}", flush=True)
    assert not PlayerBadge.objects.filter(badge__in=fresh_badges).exists()
    result = p50_p95(times, args.repeats)
    print(f"\nthe award path's SQL against the ORM, {args.repeats} alternating repeats, {args.players:,} players, "
          f"{len(observations)} observations")
    print(f"  {'step':<24} {'module':>6}  {'SQL p50/p95 ms':>15}  {'ORM p50/p95 ms':>15}  {'SQL saves p50/p95':>18}")
    for step, by in result.items():
        sql, orm = by["SQL"], by["ORM"]
        print(f"  {step:<24} {steps[step][2]:>6}  {sql['p50_ms']:6.3f} / {sql['p95_ms']:6.3f}  "
              f"{orm['p50_ms']:6.3f} / {orm['p95_ms']:6.3f}  "
              f"{orm['p50_ms'] - sql['p50_ms']:+7.3f} / {orm['p95_ms'] - sql['p95_ms']:+7.3f}"
              + (f"  ({mismatches[step]} answers differ)" if mismatches[step] else ""))
    print(json.dumps({"benchmark": "game_sql", "repeats": args.repeats, "players": args.players,
                      "observations": len(observations), "load_average": os.getloadavg(),
                      "module_uses": {step: fns[2] for step, fns in steps.items()}, "mismatches": mismatches,
                      **result}))
    return 1 if any(mismatches.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
