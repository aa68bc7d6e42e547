"""Shared set-up for benchmarks that run the server stack on their own database and Redis DB."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def bench_env(db_name: str, redis_db: int, tag: str) -> dict:
    """The process environment (``var/env.sh`` + ours) pointing at ``db_name`` and Redis DB ``redis_db``."""
    env_file = ROOT / "var" / "env.sh"
    env = dict(os.environ)
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            if line.startswith("export "):
                k, v = line[7:].split("=", 1)
                env.setdefault(k, v.strip("'\""))
    db = env.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dawnchorus")
    env["DATABASE_URL"] = db.rsplit("/", 1)[0] + f"/{db_name}"
    env["REDIS_URL"] = env.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + f"/{redis_db}"
    env.update({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "bench-only", "DAWN_CELERY_QUEUE": f"dawn-bench-{tag}",
                "MEDIA_ROOT": str(ROOT / "var" / f"bench-media-{tag}"), "DAWN_LOG_LEVEL": "WARNING"})
    return env


def fresh_database(env: dict) -> None:
    """Drop and re-create the database ``env["DATABASE_URL"]`` names, with PostGIS."""
    import psycopg
    from psycopg import sql

    name = psycopg.conninfo.conninfo_to_dict(env["DATABASE_URL"])["dbname"]
    admin = psycopg.conninfo.make_conninfo(env["DATABASE_URL"], dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def p50_p95(times: dict[str, dict[str, list[float]]], repeats: int) -> dict[str, dict[str, dict[str, float]]]:
    """``{step: {variant: {"p50_ms", "p95_ms"}}}`` of alternating timings in ms, leaving out the first
    ``min(20, repeats // 5)`` of each as warm-up."""
    import numpy as np

    warm = min(20, repeats // 5)
    return {step: {name: {"p50_ms": round(float(np.percentile(v[warm:], 50)), 3),
                          "p95_ms": round(float(np.percentile(v[warm:], 95)), 3)} for name, v in by.items()}
            for step, by in times.items()}
