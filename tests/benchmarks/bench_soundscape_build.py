"""Benchmark: build the live soundscape specs of a city from 1,000,000 observations (target ≤ 10 s).

Synthetic observations are generated in SQL in the benchmark's own database
(``bench_soundscape_i6``, Redis DB 11; never the default database): 300 hotspots (parks,
streets) spread over San Juan (18.35–18.47° N, 66.15–65.95° W, about 13 × 21 km), each
observation a Gaussian offset (σ ≈ 330 m) from a hotspot, one of the catalogue's non-sensitive
species, at a random time in the last 24 hours.

Measured: :func:`server.soundscapes.services.build_window` for the live window (grouped SQL,
cell assignment, specs with clip references, bulk upsert) — the work the beat task does.
Peer, measured in the same run: the naive build that fetches every observation and assigns
H3 cells one by one in Python.

    .venv/bin/python tests/benchmarks/bench_soundscape_build.py [--n 1000000]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.benchmarks.benchenv import bench_env, fresh_database  # noqa: E402

DB_NAME = "bench_soundscape_i6"


def base_env() -> dict:
    return bench_env(DB_NAME, 11, "i6")


def setup_django(env: dict) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    call_command("load_species", verbosity=0)


SEED_SQL = """
WITH hotspots AS (
  SELECT h, 18.35 + 0.12 * random() AS lat, -66.15 + 0.20 * random() AS lng
  FROM generate_series(0, 299) h
), species AS (
  SELECT array_agg(id ORDER BY id) AS ids FROM species_species WHERE NOT sensitive
), pts AS (
  SELECT i, ((i::bigint * 7919) %% 300)::int AS h,
         sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS zy,
         sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS zx,
         random() AS r_sp, random() AS r_t
  FROM generate_series(1, %(n)s) i
)
INSERT INTO observations_observation
  (species_id, location, public_location, obscured, georeference_remarks, locality, observed_at,
   date_precision, confidence, status, sound_type, source, source_id, source_url, recordist, license,
   created_at, coordinate_uncertainty_m)
SELECT s.ids[1 + floor(p.r_sp * array_length(s.ids, 1))::int],
       ST_SetSRID(ST_MakePoint(hs.lng + 0.003 * p.zx, hs.lat + 0.003 * p.zy), 4326),
       ST_SetSRID(ST_MakePoint(hs.lng + 0.003 * p.zx, hs.lat + 0.003 * p.zy), 4326),
       false, '', '', now() - p.r_t * interval '23 hours 50 minutes', 'second', 0.7, 'needs_id', '', 'app',
       '', '', '', '', now(), 10
FROM pts p JOIN hotspots hs ON hs.h = p.h CROSS JOIN species s
"""


def seed(n: int) -> float:
    from django.db import connection

    t = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("SELECT setseed(0.6)")
        cur.execute(SEED_SQL, {"n": n})
        cur.execute("ANALYZE observations_observation")
    return time.perf_counter() - t


def naive_build(window) -> tuple[float, int]:
    """Peer: every observation fetched and assigned to its H3 cell in Python."""
    import h3
    from django.db import connection

    from server.soundscapes.cells import CELL_RESOLUTION

    t = time.perf_counter()
    cells: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    with connection.cursor() as cur:
        cur.execute("SELECT species_id, ST_Y(public_location), ST_X(public_location) FROM observations_observation "
                    "WHERE observed_at >= %s AND observed_at < %s AND status <> 'casual'",
                    [window.start, window.end])
        while rows := cur.fetchmany(50_000):
            for sp, lat, lng in rows:
                cells[h3.latlng_to_cell(lat, lng, CELL_RESOLUTION)][sp] += 1
    return time.perf_counter() - t, len(cells)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--target-s", type=float, default=10.0)
    args = ap.parse_args()
    env = base_env()
    fresh_database(env)
    setup_django(env)
    seed_s = seed(args.n)

    from django.db import connection
    from django.utils import timezone

    from server.soundscapes.models import CellSpec
    from django.db import transaction

    from server.soundscapes.queries import grouped_by_cell
    from server.soundscapes.services import build_window
    from server.soundscapes.windows import live_window

    window = live_window(timezone.now())
    build_window(window)                          # warm: clips made once, caches filled
    t = time.perf_counter()
    with transaction.atomic():
        groups = [g for c in grouped_by_cell(window).values() for g in c.groups]
    query_s = time.perf_counter() - t
    t = time.perf_counter()
    build = build_window(window)
    build_s = time.perf_counter() - t
    peer_s, peer_cells = naive_build(window)
    n_sources = sum(len(s["sources"]) for s in CellSpec.objects.filter(window="live").values_list("spec", flat=True))
    assert n_sources == len(groups)
    connection.close()
    rows = [("observations", f"{build.n_observations:,}"), ("sources kept (≤ 64 per cell)", f"{len(groups):,}"),
            ("cells (H3 res 8)", f"{build.n_cells:,}"), ("sources in specs", f"{n_sources:,}"),
            ("grouped queries (squares, map, groups)", f"{query_s:.2f} s"), ("full build (query + specs + upsert)", f"{build_s:.2f} s"),
            ("peer: naive per-observation H3 (no specs)", f"{peer_s:.2f} s ({peer_cells} cells)"),
            ("seeding (not timed in the target)", f"{seed_s:.1f} s")]
    width = max(len(k) for k, _ in rows)
    print(f"\nSoundscape spec build, {args.n:,} observations (target ≤ {args.target_s:.0f} s)")
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    print(json.dumps({"benchmark": "soundscape_build", "n_observations": build.n_observations,
                      "n_cells": build.n_cells, "n_sources": n_sources,
                      "query_s": round(query_s, 3), "build_s": round(build_s, 3),
                      "peer_naive_s": round(peer_s, 3), "target_s": args.target_s,
                      "pass": build_s <= args.target_s}))


if __name__ == "__main__":
    main()
