"""Benchmark: push N real-clip submissions through the HTTP API, then analyse them with one worker.

Clips: distinct, non-overlapping 5-s cuts of the birds-pr recordings (Ogg/Opus, as a phone
sends them) and UrbanSound8K clips from ../shared/data; without it, the fixture clips repeated
(then most analyses end as detected replays). Request bodies are built before timing starts.

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
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import psycopg
import requests
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from ml.runtime.audio import probe  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
AUDIO = ROOT / "fixtures" / "audio"


SHARED = ROOT.parent / "shared" / "data"
CLIP_SECONDS = 5.0


def encode_opus(x: np.ndarray, sr: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="OGG", subtype="OPUS")
    return buf.getvalue()


def shared_clips(n: int, seed: int) -> list[tuple[str, bytes, str]]:
    """Distinct real clips: non-overlapping 5-s cuts of the birds-pr recordings (as phones send
    them, Ogg/Opus), plus UrbanSound8K clips; (name, bytes, label)."""
    rng = np.random.default_rng(seed)
    cuts = []
    for row in csv.DictReader(open(SHARED / "birds-pr" / "manifest.csv", encoding="utf-8")):
        x, sr = sf.read(SHARED / "birds-pr" / row["file"], dtype="float32", always_2d=True)
        x = x.mean(axis=1)
        step = int(CLIP_SECONDS * sr)
        cuts += [(row["file"], x[i:i + step], sr, row["species"]) for i in range(0, len(x) - step + 1, step)]
    urban = list(csv.DictReader(open(SHARED / "urban-us8k" / "manifest.csv", encoding="utf-8")))
    picked = [cuts[i] for i in rng.permutation(len(cuts))[: int(n * 0.8)]]
    out = [(name, encode_opus(x, sr), label) for name, x, sr, label in picked]
    for row in [urban[i] for i in rng.permutation(len(urban))[: n - len(out)]]:
        out.append((row["file"], (SHARED / "urban-us8k" / row["file"]).read_bytes(), row["label"]))
    return out


def fixture_clips(n: int) -> list[tuple[str, bytes, str]]:
    """Without ../shared: the shipped fixture clips, repeated (so most come out as replays)."""
    rows = [r for r in csv.DictReader(open(AUDIO / "manifest.csv", encoding="utf-8"))
            if r["kind"] in ("bird", "urban") and r["file"].endswith(".ogg")]
    return [(r["file"], (AUDIO / r["file"]).read_bytes(), r["label"]) for r in (rows * (n // len(rows) + 1))[:n]]


def multipart(meta: dict, audio: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{json.dumps(meta)}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"take.ogg\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode()
    return head + audio + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


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
                          "from server.accounts.tokens import issue_token;"
                          "u=User.objects.create_user('bench', password='bench-bench-bench');"
                          "print(issue_token(u)[0])"],
                         cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def session_tokens(env: dict, n: int) -> list[str]:
    """``n`` recording session tokens of the benchmark player (the app fetches one per recording)."""
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c",
                          "from server.accounts.models import User;"
                          "from server.recordings.session_token import issue;"
                          "u=User.objects.get(username='bench');"
                          f"print(chr(10).join(issue(u.pk)[0] for _ in range({n})))"],
                         cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-n:]


def request_bodies(clips: list, n: int, tokens: list[str]) -> list[tuple[bytes, str]]:
    """Every request body built before the clock starts: the benchmark measures the server."""
    now = datetime.now(timezone.utc)
    bodies = []
    for i in range(n):
        name, data, label = clips[i % len(clips)]
        meta = {"idempotency_key": f"bench-{uuid.uuid4().hex}",
                "recorded_at": (now - timedelta(milliseconds=i)).isoformat(),
                "location": {"lat": 18.0 + (i % 50) * 0.01, "lng": -66.5 + (i % 37) * 0.01, "accuracy_m": 10},
                "segment": {"start_s": 0.0, "end_s": round(min(3.5, probe(data).duration), 3)},
                "identification": {"label": label, "confidence": 0.8, "model_version": "bench"},
                "device": {"model": "bench"}, "session_token": tokens[i]}
        bodies.append(multipart(meta, data))
    return bodies


def post_all(port: int, token: str, bodies: list, concurrency: int) -> tuple[list[float], list[int], float]:
    local = threading.local()

    def one(body: tuple[bytes, str]) -> tuple[float, int]:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        t0 = time.perf_counter()
        local.conn.request("POST", "/api/v1/recordings/", body=body[0],
                           headers={"Authorization": f"Token {token}", "Content-Type": body[1]})
        response = local.conn.getresponse()
        response.read()
        return time.perf_counter() - t0, response.status

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, bodies[:20]))  # warm-up: connections, caches (not counted)
        t0 = time.perf_counter()
        results = list(pool.map(one, bodies[20:]))
        wall = time.perf_counter() - t0
    return [r[0] for r in results], [r[1] for r in results], wall


def count_final(conn) -> tuple[int, int, int]:
    rows = dict(conn.execute("SELECT status, count(*) FROM recordings_recording GROUP BY status").fetchall())
    return rows.get("accepted", 0), rows.get("rejected", 0), sum(rows.values())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its reaped children (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process on this machine (the benchmark's backends do the work)."""
    total = 0.0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (proc / "comm").read_text().startswith("postgres"):
                total += cpu_seconds(int(proc.name))
        except OSError:  # exited meanwhile
            pass
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--web-workers", type=int, default=2)
    ap.add_argument("--worker-concurrency", type=int, default=1,
                    help="1: one worker process (solo pool); N>1: one Celery worker with a prefork pool of N")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the cleanup below when terminated

    base_db = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dawnchorus")
    redis_base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0]
    env = {**os.environ, "DATABASE_URL": base_db.rsplit("/", 1)[0] + "/dawnchorus_bench",
           "REDIS_URL": f"{redis_base}/14", "DAWN_CELERY_QUEUE": "dawn-bench",
           "MEDIA_ROOT": str(ROOT / "var" / "bench-media"), "DJANGO_DEBUG": "0",
           "DJANGO_SECRET_KEY": "bench-only", "DAWN_LOG_LEVEL": "WARNING"}
    import redis
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    token = prepare(env)
    clips = shared_clips(args.n, seed=7) if SHARED.exists() else fixture_clips(args.n)
    bodies = request_bodies(clips, args.n + 20, session_tokens(env, args.n + 20))
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
        web_cpu0 = sum(cpu_seconds(c) for c in children(web.pid))
        pg_cpu0, client_cpu0 = postgres_cpu_seconds(), time.process_time()
        latencies, codes, wall = post_all(port, token, bodies, args.concurrency)
        # CPU per request (warm-up included) of the uvicorn workers, PostgreSQL and this load generator
        cpu_ms = {"web": sum(cpu_seconds(c) for c in children(web.pid)) - web_cpu0,
                  "postgres": postgres_cpu_seconds() - pg_cpu0, "client": time.process_time() - client_cpu0}
        cpu_ms = {k: round(1000 * v / len(bodies), 2) for k, v in cpu_ms.items()}
        accepted = sum(c == 201 for c in codes)
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(20)

        pool = ["--pool=solo"] if args.worker_concurrency == 1 else [
            "--pool=prefork", f"--concurrency={args.worker_concurrency}"]
        worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "server", "worker", *pool,
                                   "-Q", "dawn-bench", "-l", "warning", "--without-gossip", "--without-mingle",
                                   "--without-heartbeat"], cwd=ROOT, env=env, start_new_session=True)
        procs.append(worker)
        # one autocommit connection for the polling: a new one every 0.25 s would fork a PostgreSQL
        # backend each time, on the cores the worker is measured on
        poll = psycopg.connect(env["DATABASE_URL"], autocommit=True)
        procs.append(poll)
        total = count_final(poll)[2]
        t0 = time.perf_counter()
        first_done = None
        while True:
            ok, rejected, total = count_final(poll)
            if first_done is None and ok + rejected > 0:
                first_done = time.perf_counter()
            if ok + rejected >= total:
                break
            if time.perf_counter() - t0 > 900:
                print("analysis did not finish within 15 minutes", file=sys.stderr)
                break
            time.sleep(0.25)
        analysis_wall = time.perf_counter() - (first_done or t0)
        worker_cpu = cpu_seconds(worker.pid) if args.worker_concurrency == 1 else None
    finally:
        for p in procs:
            if isinstance(p, psycopg.Connection):
                p.close()
            elif p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(20)

    lat_ms = sorted(x * 1000 for x in latencies)
    p = lambda q: lat_ms[min(len(lat_ms) - 1, int(q * len(lat_ms)))]  # noqa: E731
    figures = {
        "benchmark": "ingest", "n": args.n, "concurrency": args.concurrency, "web_workers": args.web_workers,
        "clips": "shared/data (distinct)" if SHARED.exists() else "fixtures (repeated)",
        "statuses": {str(c): codes.count(c) for c in sorted(set(codes))}, "accepted": accepted, "accepted_per_s": round(accepted / wall, 1),
        "post_cpu_ms_per_request": cpu_ms,
        "post_p50_ms": round(p(0.50), 1), "post_p95_ms": round(p(0.95), 1), "post_max_ms": round(lat_ms[-1], 1),
        "analysed": ok + rejected, "analysis_accepted": ok, "analysis_rejected": rejected,
        "worker_processes": args.worker_concurrency,
        "analysed_per_s_one_worker": round((ok + rejected) / analysis_wall, 1) if analysis_wall else None,
        # CPU of the solo worker process over its whole life (start-up included) per recording
        "worker_cpu_ms_per_recording": round(1000 * worker_cpu / (ok + rejected), 1) if worker_cpu else None,
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
