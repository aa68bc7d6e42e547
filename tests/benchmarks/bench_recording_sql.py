"""Benchmark: the analysis task's database work, the recordings app's SQL against the ORM, per recording.

* ``add``: the landmark index takes a recording's ~150 landmarks (``fingerprint_index.add``, one ``unnest``
  insert; peer: ``bulk_create`` of one object per landmark);
* ``read one fingerprint``: a duplicate check reads a candidate's landmarks (``fingerprint_index.landmarks_of``,
  the ORM's ``values_list``; peer: the same ``SELECT`` through a cursor);
* ``claim and outcome lock``: ``claim.claim`` (the ORM: a locked read of the row, its owner and claimed
  species, and an update) followed by the outcome's status lock; peer: the single ``UPDATE … RETURNING``
  claim with its commit's WAL flush skipped, followed by the outcome's locked read of the whole row, as the
  task did before it read the row once.

Each runs alternately with its peer; ``add`` and the read inside a transaction that is rolled back, on a
table holding ``--rows`` landmarks, ``LANDMARKS`` per recording. Own database ``bench_fingerprint_i26``,
Redis DB 12. Prints a table and one JSON line.
Run: ``.venv/bin/python tests/benchmarks/bench_recording_sql.py [--repeats 300] [--rows 150000]``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.benchmarks.benchenv import bench_env, fresh_database, p50_p95  # noqa: E402

DB_NAME = "bench_fingerprint_i26"
LANDMARKS = 150


def setup(env: dict, rows: int) -> list:
    """Django on the benchmark database; ``rows`` landmarks, ``LANDMARKS`` per recording; the recordings' ids."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
    import django

    django.setup()
    from django.contrib.gis.geos import Point
    from django.core.management import call_command
    from django.utils import timezone

    from server.accounts.models import User
    from server.recordings import fingerprint_index
    from server.recordings.models import Recording

    call_command("migrate", "--noinput", verbosity=0)
    owner = User.objects.create(username="bench")
    now = timezone.now()
    ids = [Recording.objects.create(
        owner=owner, idempotency_key=uuid.uuid4().hex, audio_sha256=uuid.uuid4().hex * 2, audio_path="audio/x.ogg",
        audio_format="ogg", audio_bytes=1, sample_rate=48000, channels=1, duration_s=5.0, recorded_at=now,
        location=Point(-66.0, 18.4, srid=4326), accuracy_m=8.0, segment_start_s=0.0, segment_end_s=3.0).pk
        for _ in range(max(1, rows // LANDMARKS))]
    rng = np.random.default_rng(26)
    for rec in ids:
        fingerprint_index.add(rec, np.stack([rng.integers(0, 2 ** 40, LANDMARKS), rng.integers(0, 5000, LANDMARKS)],
                                            axis=1))
    return ids


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=300)
    ap.add_argument("--rows", type=int, default=150_000)
    args = ap.parse_args()
    env = bench_env(DB_NAME, 12, "i26")
    fresh_database(env)
    ids = setup(env, args.rows)

    from django.db import connection, transaction

    from server.recordings import fingerprint_index
    from server.recordings.claim import claim
    from server.recordings.models import FINAL_STATUSES, FingerprintHash, Recording, Status
    from server.species.models import Species

    claim_sql = (
        f"UPDATE {Recording._meta.db_table} r SET status = %s, analysis_attempts = r.analysis_attempts + 1, "
        "updated_at = now() FROM (SELECT set_config('synchronous_commit', 'off', true)) AS advisory_commit "
        f"WHERE r.id = %s AND r.status NOT IN ({', '.join(['%s'] * len(FINAL_STATUSES))}) "
        "RETURNING r.analysis_attempts, r.audio_path, r.segment_start_s, r.segment_end_s, "
        f"(SELECT ARRAY[s.band_low_hz, s.band_high_hz] FROM {Species._meta.db_table} s "
        "WHERE s.id = r.claimed_species_id)")

    def sql_claim_then_read(rec) -> object:
        with connection.cursor() as cur:
            cur.execute(claim_sql, [Status.PROCESSING.value, rec, *[s.value for s in FINAL_STATUSES]])
            cur.fetchone()
        with transaction.atomic():
            return (Recording.objects.select_for_update(of=("self",)).select_related("claimed_species", "owner")
                    .get(pk=rec))

    def orm_claim_then_lock(rec) -> object:
        claimed = claim(rec)
        with transaction.atomic():
            return (Recording.objects.select_for_update().filter(pk=claimed.id)
                    .values_list("status", flat=True).first())

    def orm_add(rec, landmarks: np.ndarray) -> None:
        FingerprintHash.objects.bulk_create([FingerprintHash(hash=int(h), recording_id=rec, offset=int(o))
                                             for h, o in landmarks])

    def sql_read(rec) -> np.ndarray:
        with connection.cursor() as cur:
            cur.execute(f'SELECT hash, "offset" FROM {FingerprintHash._meta.db_table} WHERE recording_id = %s', [rec])
            return np.array(cur.fetchall(), dtype=np.int64).reshape(-1, 2)

    ways = {"add": {"module (unnest)": fingerprint_index.add, "peer: ORM bulk_create": orm_add},
            "read one fingerprint": {"peer: SQL": sql_read, "module (ORM values_list)": fingerprint_index.landmarks_of},
            "claim and outcome lock": {"peer: SQL claim + full read": sql_claim_then_read,
                                       "module (ORM claim + status lock)": orm_claim_then_lock}}
    times = {op: {name: [] for name in fns} for op, fns in ways.items()}
    rng = np.random.default_rng(0)
    for i in range(args.repeats):
        rec = ids[i % len(ids)]
        landmarks = np.stack([rng.integers(0, 2 ** 40, LANDMARKS), rng.integers(0, 5000, LANDMARKS)], axis=1)
        for op, fns in ways.items():
            for name in (list(fns) if i % 2 else list(fns)[::-1]):
                if op == "claim and outcome lock":  # its own transactions, committed as the task's are
                    t = time.perf_counter()
                    assert fns[name](rec) is not None
                    times[op][name].append((time.perf_counter() - t) * 1000)
                    continue
                with transaction.atomic():
                    t = time.perf_counter()
                    if op == "add":
                        fns[name](rec, landmarks)
                    else:
                        assert len(fns[name](rec)) >= LANDMARKS
                    times[op][name].append((time.perf_counter() - t) * 1000)
                    transaction.set_rollback(True)
    result = p50_p95(times, args.repeats)
    print(f"\nthe analysis task's SQL, {args.repeats} alternating repeats, {args.rows:,} landmarks in the table, "
          f"{LANDMARKS} per recording")
    for op, by in result.items():
        for name, r in by.items():
            print(f"  {op:<22} {name:<32} p50 {r['p50_ms']:7.3f} ms  p95 {r['p95_ms']:7.3f} ms")
    print(json.dumps({"benchmark": "recording_sql", "repeats": args.repeats, "rows": args.rows,
                      "load_average": os.getloadavg(), **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
