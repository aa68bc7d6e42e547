"""Benchmark: push N real-clip submissions through the HTTP API, then analyse them with one worker.

Run with ``make bench`` (or ``bash scripts/bench.sh [--n 1000] [--concurrency 8]``). It uses a
separate database (``dawnchorus_bench``), Redis DB 14 and its own Celery queue, starts its own
uvicorn server and one Celery worker, and prints a table and one JSON line:

* accepted submissions/s and p50/p95/max POST latency (client-side, over loopback);
* analysis throughput of one worker (solo pool, one process) in recordings/s.

Targets (issue #2): ≥ 200 accepted/s, p95 ≤ 50 ms, ≥ 20 analysed/s per worker.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import requests
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
AUDIO = ROOT / "fixtures" / "audio"


def clip_variants(n_variants: int, seed: int = 7) -> list[tuple[str, bytes, str]]:
    """Real fixture clips, each also cut at a few offsets (3 s), as WAV bytes: (name, data, label)."""
    rows = list(csv.DictReader(open(AUDIO / "manifest.csv", encoding="utf-8")))
    rng = np.random.default_rng(seed)
    out = []
    for row in rows:
        if row["kind"] not in ("bird", "urban") or not row["file"].endswith(".ogg"):
            continue
        x, sr = sf.read(AUDIO / row["file"], dtype="float32", always_2d=True)
        x = x.mean(axis=1)
        for _ in range(n_variants):
            length = min(len(x), 3 * sr)
            start = int(rng.integers(0, max(1, len(x) - length + 1)))
            buf = io.BytesIO()
            sf.write(buf, x[start:start + length], sr, format="OGG", subtype="OPUS")
            out.append((row["file"], buf.getvalue(), row["label"]))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def prepare(env: dict) -> str:
    """Fresh benchmark database with the catalogue and one player; returns the player's token."""
    import psycopg
    from psycopg import sql

    admin = psycopg.conninfo.make_conninfo(env["DATABASE_URL"], dbname="postgres")
    name = psycopg.conninfo.conninfo_to_dict(env["DATABASE_URL"])["dbname"]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "load_species")
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c",
                          "from server.accounts.models import User;"
                          "from rest_framework.authtoken.models import Token;"
                          "u=User.objects.create_user('bench', password='bench-bench-bench');"
                          "print(Token.objects.create(user=u).key)"],
                         cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def post_all(base: str, token: str, clips: list, n: int, concurrency: int) -> tuple[list[float], list[int], float]:
    now = datetime.now(timezone.utc)

    def one(i: int) -> tuple[float, int]:
        name, data, label = clips[i % len(clips)]
        meta = {"idempotency_key": f"bench-{uuid.uuid4().hex}",
                "recorded_at": (now - timedelta(seconds=i)).isoformat(),
                "location": {"lat": 18.0 + (i % 50) * 0.01, "lng": -66.5 + (i % 37) * 0.01, "accuracy_m": 10},
                "segment": {"start_s": 0.0, "end_s": 2.9},
                "identification": {"label": label, "confidence": 0.8, "model_version": "bench"},
                "device": {"model": "bench"}}
        session = sessions[i % concurrency]
        t0 = time.perf_counter()
        r = session.post(f"{base}/api/v1/recordings/", headers={"Authorization": f"Token {token}"},
                         files={"audio": ("take.ogg", data)}, data={"metadata": json.dumps(meta)}, timeout=60)
        return time.perf_counter() - t0, r.status_code

    sessions = [requests.Session() for _ in range(concurrency)]
    for _ in range(20):  # warm-up (not counted)
        one(0)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(n)))
    wall = time.perf_counter() - t0
    return [r[0] for r in results], [r[1] for r in results], wall


def count_final(env: dict) -> tuple[int, int, int]:
    import psycopg

    with psycopg.connect(env["DATABASE_URL"]) as conn:
        rows = dict(conn.execute("SELECT status, count(*) FROM recordings_recording GROUP BY status").fetchall())
    return rows.get("accepted", 0), rows.get("rejected", 0), sum(rows.values())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--web-workers", type=int, default=2)
    args = ap.parse_args(argv)

    base_db = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dawnchorus")
    redis_base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0]
    env = {**os.environ, "DATABASE_URL": base_db.rsplit("/", 1)[0] + "/dawnchorus_bench",
           "REDIS_URL": f"{redis_base}/14", "DAWN_CELERY_QUEUE": "dawn-bench",
           "MEDIA_ROOT": str(ROOT / "var" / "bench-media"), "DJANGO_DEBUG": "0",
           "DJANGO_SECRET_KEY": "bench-only", "DAWN_LOG_LEVEL": "WARNING"}
    import redis
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    token = prepare(env)
    clips = clip_variants(4)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = subprocess.Popen([sys.executable, "-m", "uvicorn", "server.asgi:application", "--host", "127.0.0.1",
                            "--port", str(port), "--workers", str(args.web_workers), "--no-access-log",
                            "--log-level", "warning"], cwd=ROOT, env=env, start_new_session=True)
    procs = [web]
    try:
        for _ in range(150):
            try:
                if requests.get(f"{base}/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        latencies, codes, wall = post_all(base, token, clips, args.n, args.concurrency)
        accepted = sum(c == 201 for c in codes)
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(20)

        worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "server", "worker", "--pool=solo",
                                   "-Q", "dawn-bench", "-l", "warning", "--without-gossip", "--without-mingle",
                                   "--without-heartbeat"], cwd=ROOT, env=env, start_new_session=True)
        procs.append(worker)
        total = count_final(env)[2]
        t0 = time.perf_counter()
        first_done = None
        while True:
            ok, rejected, total = count_final(env)
            if first_done is None and ok + rejected > 0:
                first_done = time.perf_counter()
            if ok + rejected >= total:
                break
            if time.perf_counter() - t0 > 900:
                print("analysis did not finish within 15 minutes", file=sys.stderr)
                break
            time.sleep(0.25)
        analysis_wall = time.perf_counter() - (first_done or t0)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(20)

    lat_ms = sorted(x * 1000 for x in latencies)
    p = lambda q: lat_ms[min(len(lat_ms) - 1, int(q * len(lat_ms)))]  # noqa: E731
    figures = {
        "benchmark": "ingest", "n": args.n, "concurrency": args.concurrency, "web_workers": args.web_workers,
        "accepted": accepted, "accepted_per_s": round(accepted / wall, 1),
        "post_p50_ms": round(p(0.50), 1), "post_p95_ms": round(p(0.95), 1), "post_max_ms": round(lat_ms[-1], 1),
        "analysed": ok + rejected, "analysis_accepted": ok, "analysis_rejected": rejected,
        "analysed_per_s_one_worker": round((ok + rejected) / analysis_wall, 1) if analysis_wall else None,
        "targets": {"accepted_per_s": 200, "post_p95_ms": 50, "analysed_per_s_one_worker": 20},
    }
    print(f"{'figure':<28}{'measured':>12}{'target':>10}")
    for key, target, better in [("accepted_per_s", 200, ">="), ("post_p50_ms", None, ""),
                                ("post_p95_ms", 50, "<="), ("analysed_per_s_one_worker", 20, ">=")]:
        print(f"{key:<28}{figures[key]!s:>12}{(better + str(target)) if target else '':>10}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
