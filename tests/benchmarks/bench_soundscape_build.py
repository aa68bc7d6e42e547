"""Benchmark: build the live soundscape specs of a city from 1,000,000 observations (target ≤ 10 s).

Synthetic observations are generated in SQL in the benchmark's own database
(``bench_soundscape_i6``, Redis DB 11; never the default database): 300 hotspots (parks,
streets) spread over San Juan (18.35–18.47° N, 66.15–65.95° W, about 13 × 21 km), each
observation a Gaussian offset (σ ≈ 330 m) from a hotspot, one of the catalogue's non-sensitive
species, at a random time in the last 24 hours.

Measured: :func:`server.soundscapes.services.build_window` for the live window (grouped SQL,
cell assignment, specs with clip references, bulk upsert) — the work the beat task does.
Peers, measured in the same run: the naive build that fetches every observation and assigns
H3 cells one by one in Python; the window's rows read through the ORM instead of the binary ``COPY``
(``server.observations.bulk``); the specs upserted with ``bulk_create`` instead of ``COPY``.

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
   kind_conflict, answers, created_at, coordinate_uncertainty_m)
SELECT s.ids[1 + floor(p.r_sp * array_length(s.ids, 1))::int],
       ST_SetSRID(ST_MakePoint(hs.lng + 0.003 * p.zx, hs.lat + 0.003 * p.zy), 4326),
       ST_SetSRID(ST_MakePoint(hs.lng + 0.003 * p.zx, hs.lat + 0.003 * p.zy), 4326),
       false, '', '', now() - p.r_t * interval '23 hours 50 minutes', 'second', 0.7, 'needs_id', '', 'app',
       '', '', '', '', false, '{}'::jsonb, now(), 10
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


def rows_two_ways(window) -> tuple[float, float, int]:
    """Seconds to read the window's rows as the build does (``observations.bulk.window_rows``: binary COPY
    into numpy) and through the ORM's ``values_list`` into the same arrays (the framework's path), and
    the row count; each the best of three."""
    import numpy as np

    from server.observations.bulk import window_rows
    from server.observations.models import Observation, Status

    def orm() -> int:
        rows = list(Observation.objects.filter(observed_at__gte=window.start, observed_at__lt=window.end)
                    .exclude(status=Status.CASUAL)
                    .values_list("species_id", "public_location", "confidence", "recording_id"))
        arrays = (np.fromiter((r[0] for r in rows), np.int64, len(rows)),
                  np.fromiter((r[1].y for r in rows), np.float64, len(rows)),
                  np.fromiter((r[1].x for r in rows), np.float64, len(rows)),
                  np.fromiter((-1.0 if r[2] is None else r[2] for r in rows), np.float64, len(rows)),
                  np.array([r[3].bytes if r[3] else bytes(16) for r in rows], dtype="V16"))
        return arrays[0].size

    def best(fn) -> tuple[float, int]:
        times, n = [], 0
        for _ in range(3):
            t = time.perf_counter()
            n = fn()
            times.append(time.perf_counter() - t)
        return min(times), n

    copy_s, n = best(lambda: window_rows(window.start, window.end).size)
    orm_s, n_orm = best(orm)
    assert n == n_orm
    return copy_s, orm_s, n


def upsert_two_ways(window) -> tuple[float, float]:
    """Seconds to upsert the window's specs as the build does (``services._write``: ``COPY`` into a temporary
    table, one ``INSERT … ON CONFLICT``) and through the ORM's ``bulk_create(update_conflicts=True)``; each the
    median of three, alternating, rolled back."""
    import statistics

    from django.db import transaction
    from django.utils import timezone

    from server.soundscapes import services
    from server.soundscapes.models import CellSpec
    from server.soundscapes.queries import grouped_by_cell

    specs = services._specs(grouped_by_cell(window), window)

    def orm(now) -> None:
        CellSpec.objects.bulk_create(
            [CellSpec(window=window.name, cell=c, spec=s, etag=e, n_observations=n, stale=False, built_at=now)
             for c, s, e, n in specs],
            batch_size=1000, update_conflicts=True, unique_fields=["window", "cell"],
            update_fields=["spec", "etag", "n_observations", "stale", "built_at"])

    times: dict[str, list[float]] = {"copy": [], "orm": []}
    for i in range(6):
        for name in (("copy", "orm") if i % 2 else ("orm", "copy")):
            with transaction.atomic():
                t = time.perf_counter()
                services._write(specs, window, timezone.now()) if name == "copy" else orm(timezone.now())
                times[name].append(time.perf_counter() - t)
                transaction.set_rollback(True)
    return statistics.median(times["copy"]), statistics.median(times["orm"])


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
    copy_s, orm_s, _ = rows_two_ways(window)
    upsert_copy_s, upsert_orm_s = upsert_two_ways(window)
    n_sources = sum(len(s["sources"]) for s in CellSpec.objects.filter(window="live").values_list("spec", flat=True))
    assert n_sources == len(groups)
    connection.close()
    rows = [("observations", f"{build.n_observations:,}"), ("sources kept (≤ 64 per cell)", f"{len(groups):,}"),
            ("cells (H3 res 8)", f"{build.n_cells:,}"), ("sources in specs", f"{n_sources:,}"),
            ("grouped queries (squares, map, groups)", f"{query_s:.2f} s"), ("full build (query + specs + upsert)", f"{build_s:.2f} s"),
            ("peer: naive per-observation H3 (no specs)", f"{peer_s:.2f} s ({peer_cells} cells)"),
            ("the window's rows: binary COPY (best of 3)", f"{copy_s:.2f} s"),
            ("  peer: the ORM's values_list (best of 3)", f"{orm_s:.2f} s"),
            ("the specs' upsert: COPY + INSERT … ON CONFLICT", f"{upsert_copy_s:.2f} s"),
            ("  peer: the ORM's bulk_create(update_conflicts)", f"{upsert_orm_s:.2f} s"),
            ("seeding (not timed in the target)", f"{seed_s:.1f} s")]
    width = max(len(k) for k, _ in rows)
    print(f"\nSoundscape spec build, {args.n:,} observations (target ≤ {args.target_s:.0f} s)")
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    print(json.dumps({"benchmark": "soundscape_build", "n_observations": build.n_observations,
                      "n_cells": build.n_cells, "n_sources": n_sources,
                      "query_s": round(query_s, 3), "build_s": round(build_s, 3),
                      "peer_naive_s": round(peer_s, 3), "rows_copy_s": round(copy_s, 3),
                      "rows_orm_s": round(orm_s, 3), "upsert_copy_s": round(upsert_copy_s, 3),
                      "upsert_orm_s": round(upsert_orm_s, 3), "target_s": args.target_s,
                      "pass": build_s <= args.target_s}))


if __name__ == "__main__":
    main()
