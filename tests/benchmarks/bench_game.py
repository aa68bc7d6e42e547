"""Benchmark: the game layer at scale (issue #5).

1. Leaderboard read at 100,000 players — top 50 + own rank + ±5 around + percentile — from the
   Redis sorted set (``server.game.leaderboards.view``); peer: the same answer computed in
   PostgreSQL from the points ledger with a window function.  Target: Redis p95 ≤ 5 ms.
2. Awarding everything for one accepted observation (ledger rows, badges, quest progress,
   leaderboards and realtime pushes after commit) with 100,000 players on the boards.
   Target: p95 ≤ 20 ms.
3. Fan-out of one board event to 1,000 websocket clients connected to a real uvicorn/Channels
   server over Redis on loopback.  Target: all delivered within 1 s.

Uses its own database ``bench_game_i5`` and Redis DB 10 (flushed). Prints a table and one JSON line.
Run: ``.venv/bin/python tests/benchmarks/bench_game.py [--players 100000] [--awards 300] [--clients 1000]``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.benchmarks.benchenv import bench_env, fresh_database  # noqa: E402

DB_NAME = "bench_game_i5"


def base_env() -> dict:
    return bench_env(DB_NAME, 10, "i5")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))


def setup_django(env: dict) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    call_command("load_species", verbosity=0)
    call_command("load_game", verbosity=0)


def seed_players(n: int, rng: random.Random) -> list[int]:
    """n players with one ledger event each (long-tailed scores), and the Redis boards rebuilt."""
    from django.db import connection

    from server.accounts.models import User
    from server.game import leaderboards

    User.objects.bulk_create([User(username=f"b{i:06d}", password="!") for i in range(n)], batch_size=5000)
    ids = list(User.objects.filter(username__startswith="b").order_by("id").values_list("id", flat=True))
    now = datetime.now(timezone.utc)
    with connection.cursor() as cur:
        cur.execute("INSERT INTO game_pointevent (player_id, rule, cause, amount, species_label, cell, tags, "
                    "created_at) SELECT id, 'quest_step', 'seed', (1 + floor(1000 * power(random(), 3)))::int, "
                    "'', '', '[]'::jsonb, %s FROM accounts_user WHERE username LIKE 'b%%'", [now])
    t0 = time.perf_counter()
    leaderboards.rebuild()
    print(f"  rebuilt boards from a {n:,}-event ledger in {time.perf_counter() - t0:.2f} s", flush=True)
    return ids


def bench_board(ids: list[int], rng: random.Random, reads: int) -> dict:
    from django.db import connection

    from server.game import leaderboards

    size = leaderboards.client().zcard(leaderboards.key("alltime"))
    times = []
    for _ in range(reads):
        me = rng.choice(ids)
        t0 = time.perf_counter()
        body = leaderboards.view("alltime", me, top=50)
        times.append((time.perf_counter() - t0) * 1000)
        assert len(body["top"]) == 50 and body["me"] is not None and len(body["around"]) >= 6
    sql = """
        WITH s AS (SELECT player_id, SUM(amount) AS score FROM game_pointevent GROUP BY player_id),
             r AS (SELECT player_id, score, ROW_NUMBER() OVER (ORDER BY score DESC, player_id DESC) AS rank FROM s),
             me AS (SELECT rank FROM r WHERE player_id = %s)
        SELECT r.player_id, r.score, r.rank, (SELECT count(*) FROM s) FROM r, me
        WHERE r.rank <= 50 OR r.rank BETWEEN me.rank - 5 AND me.rank + 5 ORDER BY r.rank"""
    peer = []
    for _ in range(max(5, reads // 100)):
        me = rng.choice(ids)
        t0 = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute(sql, [me])
            rows = cur.fetchall()
        peer.append((time.perf_counter() - t0) * 1000)
        assert len(rows) >= 50
    return {"players": size, "reads": reads, "redis_p50_ms": pct(times, 50), "redis_p95_ms": pct(times, 95),
            "sql_peer_p50_ms": pct(peer, 50), "sql_peer_p95_ms": pct(peer, 95)}


def bench_awards(ids: list[int], n: int, rng: random.Random) -> dict:
    """Accepted observations as the pipeline makes them; the timer covers the game's award of the analysis
    event (``consequences.award_accepted``) and the commit (ledger, anti-cheat, badges, quests, hunts inside; boards
    and pushes in on_commit). Other apps' receivers (soundscapes) are not timed."""
    from django.contrib.gis.geos import Point
    from django.db import transaction

    from server.game.models import Team, TeamMembership
    from server.observations.services import build_observation
    from server.game.consequences import award_accepted
    from server.recordings.models import Recording, Status
    from server.species.models import Species

    species = list(Species.objects.filter(kind="bird", rank="species"))
    players = ids[:60]
    team = Team.objects.create(name="bench team", max_members=20)
    TeamMembership.objects.bulk_create([TeamMembership(team=team, player_id=p) for p in players[:20]])
    start = datetime.now(timezone.utc) - timedelta(hours=n)
    times = []
    for i in range(n):
        player = players[i % len(players)]
        sp = rng.choice(species)
        when = start + timedelta(hours=i)
        lat, lng = 18.30 + rng.uniform(-0.02, 0.02), -65.78 + rng.uniform(-0.02, 0.02)
        with transaction.atomic():
            rec = Recording.objects.create(
                owner_id=player, idempotency_key=uuid.uuid4().hex, audio_sha256=uuid.uuid4().hex * 2,
                audio_path="audio/none.ogg", audio_format="ogg", audio_bytes=1, sample_rate=48000, channels=1,
                duration_s=5.0, recorded_at=when, location=Point(lng, lat, srid=4326), accuracy_m=8.0,
                segment_start_s=0.0, segment_end_s=3.0, claimed_species=sp, status=Status.ACCEPTED)
            obs = build_observation(species=sp, location=rec.location, seed=f"rec:{rec.pk}", recording=rec,
                                    observer_id=player, observed_at=when, confidence=0.8, coordinate_uncertainty_m=8.0)
            obs.save()
            t0 = time.perf_counter()
            award_accepted(obs)
        times.append((time.perf_counter() - t0) * 1000)
    warm = times[min(10, n // 5):]
    return {"awards": n, "p50_ms": pct(warm, 50), "p95_ms": pct(warm, 95), "max_ms": max(warm)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def publisher_layer(kind: str):
    """A channel layer of the same kind as the server's (see bench_game_settings)."""
    from channels_redis.core import RedisChannelLayer
    from channels_redis.pubsub import RedisPubSubChannelLayer
    from django.conf import settings

    host = {"address": settings.REDIS_URL, "socket_timeout": 30, "max_connections": 2000}
    cls = RedisPubSubChannelLayer if kind == "pubsub" else RedisChannelLayer
    return cls(hosts=[host], prefix="dawn:channels")


async def fan_out(port: int, token: str, clients: int, rounds: int, kind: str) -> dict:
    import websockets

    from server.game.boards import group_for

    url = f"ws://127.0.0.1:{port}/ws/v1/events/"
    conns = []

    async def open_one():
        ws = await websockets.connect(url, origin="http://127.0.0.1", open_timeout=60, max_queue=None,
                                      subprotocols=["dawn.v1", f"token.{token}"])
        json.loads(await ws.recv())  # hello
        await ws.send(json.dumps({"type": "subscribe", "board": "alltime"}))
        while json.loads(await ws.recv())["type"] != "subscribed":
            pass
        return ws

    t0 = time.perf_counter()
    # connect in waves of 25: the channel layer's Redis pool (redis-py default: 100 connections)
    # refuses a larger burst of simultaneous group_add calls
    for start in range(0, clients, 25):
        conns += await asyncio.gather(*(open_one() for _ in range(min(25, clients - start))))
    connect_s = time.perf_counter() - t0
    layer = publisher_layer(kind)
    results = []
    for r in range(rounds):
        arrivals: list[float] = []

        async def wait(ws):
            while True:
                msg = json.loads(await ws.recv())
                if msg.get("type") == "leaderboard.changed" and msg.get("round") == r:
                    arrivals.append(time.perf_counter())
                    return

        waiters = [asyncio.create_task(wait(ws)) for ws in conns]
        await asyncio.sleep(0.2)
        sent = time.perf_counter()
        await layer.group_send(group_for("alltime"), {"type": "leaderboard.changed", "board": "alltime", "round": r,
                                                      "changes": [{"player": 1, "score": r}]})
        await asyncio.wait_for(asyncio.gather(*waiters), timeout=30)
        results.append(max(arrivals) - sent)
        await asyncio.sleep(0.3)
    for ws in conns:
        await ws.close()
    return {"clients": len(conns), "rounds": rounds, "connect_s": connect_s, "all_delivered_max_s": max(results),
            "all_delivered_median_s": float(np.median(results))}


def bench_websockets(env: dict, clients: int, rounds: int, kind: str) -> dict:
    from server.accounts.models import User
    from server.accounts.tokens import issue_token

    user, _ = User.objects.get_or_create(username="ws-bench")
    token = issue_token(user)[0]
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "server.asgi:application", "--host", "127.0.0.1",
                               "--port", str(port), "--no-access-log", "--log-level", "warning",
                               "--ws-max-queue", "64"], cwd=ROOT, preexec_fn=raise_fd_limit,
                              env={**env, "DJANGO_SETTINGS_MODULE": "tests.benchmarks.bench_game_settings",
                                   "BENCH_CHANNEL_LAYER": kind})
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        return asyncio.run(fan_out(port, token, clients, rounds, kind))
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--players", type=int, default=100_000)
    ap.add_argument("--reads", type=int, default=2000)
    ap.add_argument("--awards", type=int, default=300)
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    raise_fd_limit()
    env = base_env()
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    fresh_database(env)
    setup_django(env)
    rng = random.Random(5)
    print(f"seeding {args.players:,} players ...", flush=True)
    ids = seed_players(args.players, rng)
    board = bench_board(ids, rng, args.reads)
    awards = bench_awards(ids, args.awards, rng)
    ws = bench_websockets(env, args.clients, args.rounds, "core")
    ws_pubsub = bench_websockets(env, args.clients, args.rounds, "pubsub")
    rows = [
        ("leaderboard view (Redis), p95", f"{board['redis_p95_ms']:.2f} ms", "≤ 5 ms", board["redis_p95_ms"] <= 5),
        ("  peer: same view in SQL from the ledger, p95", f"{board['sql_peer_p95_ms']:.1f} ms", "", None),
        ("award one accepted observation, p95", f"{awards['p95_ms']:.2f} ms", "≤ 20 ms", awards["p95_ms"] <= 20),
        (f"fan-out to {ws['clients']} websockets (core layer), worst of {ws['rounds']}",
         f"{ws['all_delivered_max_s'] * 1000:.0f} ms", "≤ 1000 ms", ws["all_delivered_max_s"] <= 1.0),
        (f"  peer: pub/sub layer, worst of {ws_pubsub['rounds']}",
         f"{ws_pubsub['all_delivered_max_s'] * 1000:.0f} ms", "≤ 1000 ms", ws_pubsub["all_delivered_max_s"] <= 1.0),
    ]
    print(f"\n{'measure':<52} {'value':>12} {'target':>10}  ok")
    for name, value, target, ok in rows:
        print(f"{name:<52} {value:>12} {target:>10}  {'' if ok is None else ('yes' if ok else 'NO')}")
    print(json.dumps({"benchmark": "game", "load_average": os.getloadavg(), "leaderboard": board, "award": awards, "websocket_fanout": ws,
                      "websocket_fanout_pubsub": ws_pubsub}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
