"""Benchmark: vector tiles over a zoom sweep with 1,000,000 observations, against raw ST_AsMVT SQL.

Run: ``.venv/bin/python tests/benchmarks/bench_tiles.py [--n 1000000] [--repeat 5]``; a short run (a few
minutes once the data exist): ``--repeat 1 --zooms 4,8,12,15,16 --filters ''``. It uses its own
database (``dawn_bench_i8``, created and filled on first use: migrate, the species catalogue, the 470
real demo observations, then ``generate_observations`` up to ``--n``) and Redis DB 13, and starts its own
uvicorns (one with the Redis tile cache, one with ``DAWN_MAP_TILE_CACHE=0``). The summary tables
(``maps_tilecell*``) are built by migration and kept from the journal (``maps_tilecell_pending``, emptied
before the sweeps, and the summary tables vacuumed: this machine's PostgreSQL has no autovacuum); ``--rebuild``
recomputes them first, ``--pending N`` leaves N fresh observations in the
journal during the sweeps (what tiles pay for rows written since the last refresh).
For every tile of the sweep (zooms 4–16, the tiles holding the busiest demo localities) it times:

* **base SQL** — ``ST_AsMVT`` straight from ``observations_observation`` (the issue's peer; the
  slow path, timed ``--peer-repeat`` times; when it takes under 100 ms, as point tiles do, it is timed in
  every round next to the view instead, and only those timings count);
* **path SQL** — the very ``ST_AsMVT`` query the view runs (for unfiltered clusters one row per cluster
  from ``maps_tilecell_mix``), on a direct psycopg connection (autocommit, prepared, binary result: as the
  view runs it);
* **view, cache off** — ``GET /api/v1/map/tiles/z/x/y.mvt`` on the server without a tile cache (anonymous, so
  answered by the public tile path on the event loop, ``server/maps/public_tiles.py``);
* **view, cold** — the cached server after the tile generation was bumped and the server heard it (miss +
  render + store; the answer's ETag must be new);
* **view, warm** — the same request again (served from the Redis tile cache);
* **304** — revalidation with ``If-None-Match``;
* **floor** — ``GET /healthz`` on the cache-off server: what a request through Django costs there (HTTP, ASGI,
  the thread hand-over, middleware).

HTTP goes over keep-alive ``http.client`` connections (see :class:`Http`), as lean a client as psycopg is.

Every view answer is checked byte for byte against the path SQL. ``--filters`` adds a second sweep with
a query string (default: a month of research-grade songs, the full summary table's path).
Targets (issue #8): p95 ≤ 50 ms, and ≤ 1.5× the raw SQL for the same tile. Each zoom's row ends with the
median per-tile ratios ``off/path`` and ``off/base`` and ``off-base``, the milliseconds the view adds to the raw
SQL (HTTP, the event loop, ETag: about constant, so the ratio rises as the SQL gets faster). Progress goes to
stderr; each zoom's table row is printed as soon as it is measured, a JSON line after each sweep, and one final
JSON line.

``--insert-cost N`` (default 1000, 0 skips) first times N single-row inserts into
``observations_observation``, each its own transaction (the ingest hot path), interleaved in three modes:
without the summary triggers (``session_replication_role = replica``), with the journal triggers (this
design), and with migration 0003's inline triggers (installed for the pass, then replaced again); the
rows are deleted the same way, and the journal is refreshed after each journal pass (timed: the deferred
cost), so the summary stays exact.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
BENCH_DB = os.environ.get("DAWN_BENCH_DB", "dawn_bench_i8")
PG = os.environ.get("DAWN_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("DAWN_BENCH_REDIS", "redis://127.0.0.1:6379/13")
ZOOMS = list(range(4, 17))
# The servers hear a generation bump over Redis pub/sub (GenerationFollower), within a millisecond or two; a
# request sent the instant after the bump may still get the tile cached for the old generation.
HEAR_BUMP_SECONDS = 0.05
CHEAP_PEER_MS = 100.0
TILES_PER_ZOOM = 2


def env() -> dict:
    return {**os.environ, "DATABASE_URL": f"{PG}/{BENCH_DB}", "REDIS_URL": REDIS_URL, "PYTHONUNBUFFERED": "1",
            "DAWN_LOG_LEVEL": "WARNING"}


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env(), check=True)


def ensure_data(n: int) -> int:
    from server.maps.summary import SUMMARY_TABLES

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    with psycopg.connect(f"{PG}/{BENCH_DB}", autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    manage("migrate", "-v", "0")
    with psycopg.connect(f"{PG}/{BENCH_DB}") as conn:
        have = conn.execute("SELECT count(*) FROM observations_observation").fetchone()[0]
    if have == 0:
        manage("load_species")
        manage("load_demo")
        have = 470
    if have < n:
        manage("generate_observations", "--count", str(n - have), "--tag", f"bench{have}")
    with psycopg.connect(f"{PG}/{BENCH_DB}", autocommit=True) as conn:
        conn.execute("SELECT maps_tilecell_refresh(NULL)")  # sweep the steady state: an empty journal
        # and no dead rows (the refreshes rewrite summary rows; this machine's PostgreSQL runs without autovacuum)
        conn.execute(f"VACUUM ANALYZE {', '.join(SUMMARY_TABLES)}")
        return conn.execute("SELECT count(*) FROM observations_observation").fetchone()[0]


def sweep_tiles(per_zoom: int = TILES_PER_ZOOM):
    """Per zoom, the tiles holding the busiest real demo localities."""
    from server.maps.tilemath import lnglat_to_tile

    with psycopg.connect(f"{PG}/{BENCH_DB}") as conn:
        spots = conn.execute("""SELECT ST_X(location), ST_Y(location), count(*) FROM observations_observation
                                WHERE source = 'xeno-canto' GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 40""").fetchall()
    tiles = []
    for z in ZOOMS:
        seen = []
        for lng, lat, _ in spots:
            t = lnglat_to_tile(lng, lat, z)
            if t not in seen:
                seen.append(t)
            if len(seen) == per_zoom:
                break
        tiles += seen
    return tiles


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def start_web(port: int, **extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "uvicorn", "server.asgi:application", "--port", str(port),
                             "--no-access-log", "--lifespan", "off", "--log-level", "warning"], cwd=ROOT,
                            env={**env(), **extra}, start_new_session=True)


@dataclass
class Reply:
    status_code: int
    headers: http.client.HTTPMessage  # case-insensitive
    content: bytes


class Http:
    """Keep-alive GETs over ``http.client``: an HTTP client as lean as psycopg is for the SQL it is compared
    with (``requests`` added 0.4–0.9 ms per call on the client's side on this machine)."""

    def __init__(self) -> None:
        self.conns: dict[str, http.client.HTTPConnection] = {}

    def get(self, url: str, headers: dict | None = None, timeout: float = 30) -> Reply:
        u = urlsplit(url)
        reused = u.netloc in self.conns
        conn = self.conns.get(u.netloc) or http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        self.conns[u.netloc] = conn
        try:
            conn.request("GET", u.path + (f"?{u.query}" if u.query else ""), headers=headers or {})
            response = conn.getresponse()
            return Reply(response.status, response.headers, response.read())
        except (http.client.HTTPException, OSError):
            conn.close()
            del self.conns[u.netloc]
            if reused:  # the server closed an idle keep-alive connection (uvicorn: after 5 s): once more
                return self.get(url, headers, timeout)
            raise


def wait_up(client: Http, port: int) -> None:
    for _ in range(150):
        try:
            if client.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except (http.client.HTTPException, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError("uvicorn did not start")


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


OBS_COLUMNS = """species_id, location, public_location, obscured, coordinate_uncertainty_m, georeference_remarks,
   locality, observed_at, date_precision, confidence, status, sound_type, source, source_id, source_url, recordist,
   license, created_at"""
COPY_ROW_SQL = f"""
INSERT INTO observations_observation ({OBS_COLUMNS})
SELECT species_id, ST_Translate(location, %(d)s, %(d)s), ST_Translate(public_location, %(d)s, %(d)s), obscured,
       coordinate_uncertainty_m, 'insert-cost benchmark', '', observed_at + %(d)s * interval '1 day', date_precision,
       confidence, status, sound_type, 'app', '', '', recordist, license, now()
FROM observations_observation WHERE id = %(src)s RETURNING id"""
PENDING_SQL = f"""
WITH src AS (SELECT array_agg(id ORDER BY id) AS ids FROM observations_observation WHERE source = 'xeno-canto'),
picks AS (SELECT src.ids[1 + g %% cardinality(src.ids)] AS id, (random() - 0.5) * 0.05 AS dx,
                 (random() - 0.5) * 0.05 AS dy FROM src CROSS JOIN generate_series(1, %(n)s) AS g)
INSERT INTO observations_observation ({OBS_COLUMNS})
SELECT o.species_id, ST_Translate(o.location, p.dx, p.dy), ST_Translate(o.public_location, p.dx, p.dy), o.obscured,
       o.coordinate_uncertainty_m, 'pending benchmark', '', o.observed_at, o.date_precision, o.confidence, o.status,
       o.sound_type, 'app', '', '', o.recordist, o.license, now()
FROM picks p JOIN observations_observation o ON o.id = p.id"""


def set_trigger_mode(conn, mode: str) -> None:
    """``without`` skips triggers; ``journal`` and ``inline`` install that design's trigger functions (``inline``:
    those of migrations 0002–0003, which applied contributions inside the writing transaction)."""
    from importlib import import_module

    from server.maps import journal

    inline = import_module("server.maps.migrations.0002_tilecell_summary").INLINE_FUNCTIONS_SQL
    conn.execute(inline if mode == "inline" else journal.journal_functions_sql())
    conn.execute(f"SET session_replication_role = {'replica' if mode == 'without' else 'origin'}")


def insert_cost(n: int) -> dict:
    """Milliseconds per single-row insert (own transaction) without summary triggers, with the journal
    triggers and with the inline (0003) ones; and the journal refresh's cost per row it folds in."""
    out: dict[str, list[float]] = {}
    refreshed = []
    with psycopg.connect(f"{PG}/{BENCH_DB}", autocommit=True) as conn:
        sources = [r[0] for r in conn.execute(
            "SELECT id FROM observations_observation WHERE source = 'xeno-canto' ORDER BY id LIMIT 200")]
        conn.execute("SELECT maps_tilecell_refresh(NULL)")
        try:
            for mode in ("without", "journal", "inline") * 2:  # interleaved: load drifts on a shared machine
                set_trigger_mode(conn, mode)
                ids, times = [], []
                for i in range(n):
                    t0 = time.perf_counter()
                    ids.append(conn.execute(COPY_ROW_SQL, {"d": (i % 97) * 0.001, "src": sources[i % len(sources)]})
                               .fetchone()[0])
                    times.append((time.perf_counter() - t0) * 1000)
                conn.execute("DELETE FROM observations_observation WHERE id = ANY(%s)", [ids])
                out.setdefault(mode, []).extend(times)
                progress(f"  insert cost: {n} inserts, {mode} triggers, p50 {pct(times, 0.5):.2f} ms")
                if mode == "journal":
                    ms, rows = timed(lambda: conn.execute("SELECT maps_tilecell_refresh(NULL)").fetchone()[0])
                    refreshed.append((ms, rows))
                    progress(f"  journal refresh: {rows} rows in {ms:.0f} ms")
        finally:
            set_trigger_mode(conn, "journal")
    res = {f"{m}_p50_ms": round(pct(v, 0.5), 3) for m, v in out.items()}
    res.update({f"{m}_mean_ms": round(statistics.mean(v), 3) for m, v in out.items()})
    res.update({f"{m}_overhead_p50_ms": round(res[f"{m}_p50_ms"] - res["without_p50_ms"], 3)
                for m in ("journal", "inline")})
    res["refresh_ms_per_row"] = round(sum(ms for ms, _ in refreshed) / max(sum(r for _, r in refreshed), 1), 3)
    res["refresh_ms_per_pass"] = [round(ms, 1) for ms, _ in refreshed]
    res["inserts"] = 2 * n
    print(f"\nSingle-row inserts ({2 * n} per mode, own transaction), p50 (mean) ms: without triggers "
          f"{res['without_p50_ms']} ({res['without_mean_ms']}), journal {res['journal_p50_ms']} "
          f"({res['journal_mean_ms']}), inline (0003) {res['inline_p50_ms']} ({res['inline_mean_ms']}); overhead "
          f"p50 journal {res['journal_overhead_p50_ms']}, inline {res['inline_overhead_p50_ms']}; the journal "
          f"refresh (inserts + deletes) {res['refresh_ms_per_row']} ms per row, passes {res['refresh_ms_per_pass']} ms",
          flush=True)
    return res


def add_pending(n: int) -> int:
    """Insert ``n`` observations near the demo localities in one statement, left in the journal."""
    with psycopg.connect(f"{PG}/{BENCH_DB}", autocommit=True) as conn:
        conn.execute(PENDING_SQL, {"n": n})
        return conn.execute("SELECT count(*) FROM maps_tilecell_pending").fetchone()[0]


def drop_pending() -> None:
    with psycopg.connect(f"{PG}/{BENCH_DB}", autocommit=True) as conn:
        conn.execute("DELETE FROM observations_observation WHERE georeference_remarks = 'pending benchmark'")
        conn.execute("SELECT maps_tilecell_refresh(NULL)")


def run_sql(conn, sql_args: tuple[str, list]) -> tuple | None:
    """A tile query's row, run as the view runs it: prepared, binary result, autocommit connection."""
    return conn.execute(*sql_args, prepare=True, binary=True).fetchone()


def sweep(tiles, query: str, repeat: int, peer_repeat: int, client: Http, cached: str, uncached: str, conn,
          on_zoom=None) -> list[dict]:
    from server.maps import generation
    from server.maps.filters import parse_map_filters
    from server.maps.tiles import PUBLIC, mvt_bytes, point_tile_sql, raw_cluster_tile_sql, tile_sql
    from urllib.parse import parse_qsl

    f = parse_map_filters(dict(parse_qsl(query)))
    suffix = f"?{query}" if query else ""
    floor = uncached.split("/api/")[0] + "/healthz"
    for t in tiles:  # warm-up: PostgreSQL buffers, the view's code paths, both servers' pools and followers
        for server in (uncached, cached):
            client.get(f"{server}/{t.z}/{t.x}/{t.y}.mvt{suffix}")
    results = []
    last_etag: dict[str, str] = {}
    for i, t in enumerate(tiles):
        progress(f"  tile {i + 1}/{len(tiles)}: {t.z}/{t.x}/{t.y}{suffix}")
        base_sql = raw_cluster_tile_sql(t, f) if t.clustered else point_tile_sql(t, f, PUBLIC)
        path_sql = tile_sql(t, f, PUBLIC)
        row = {"z": t.z, "x": t.x, "y": t.y, "base": [], "path": [], "off": [], "cold": [], "warm": [],
               "revalidate": [], "floor": []}
        for _ in range(peer_repeat):
            row["base"].append(timed(lambda: run_sql(conn, base_sql))[0])
        # a peer as fast as the view (point tiles) is timed in the rounds instead, next to the view: load drifts
        # between a block of peer timings and a block of view timings on a shared machine, and the block above
        # ran first on the tile's pages
        cheap_peer = min(row["base"]) < CHEAP_PEER_MS
        if cheap_peer:
            row["base"] = []
        url = f"{t.z}/{t.x}/{t.y}.mvt{suffix}"
        for n in range(repeat):
            # the SQL and the view take turns to go first: whichever runs second finds the CPU caches warm
            # with the same pages
            for step in (("sql", "view") if n % 2 == 0 else ("view", "sql")):
                if step == "sql":
                    if cheap_peer:
                        row["base"].append(timed(lambda: run_sql(conn, base_sql))[0])
                    ms, got = timed(lambda: run_sql(conn, path_sql))
                    row["path"].append(ms)
                    expected = mvt_bytes(got)
                else:
                    ms, off = timed(lambda: client.get(f"{uncached}/{url}"))
                    row["off"].append(ms)
            assert off.status_code == 200 and off.content == expected, (t, off.status_code)
            generation.bump()
            time.sleep(HEAR_BUMP_SECONDS)
            ms, r = timed(lambda: client.get(f"{cached}/{url}"))
            row["cold"].append(ms)
            assert r.status_code == 200 and r.content == expected, (t, r.status_code)
            assert r.headers["ETag"] != last_etag.get(url), "the cached server answered before it heard the bump"
            last_etag[url] = r.headers["ETag"]
            ms, r = timed(lambda: client.get(f"{cached}/{url}"))
            row["warm"].append(ms)
            ms, r304 = timed(lambda: client.get(f"{cached}/{url}", headers={"If-None-Match": r.headers["ETag"]}))
            row["revalidate"].append(ms)
            assert r304.status_code == 304
            row["floor"].append(timed(lambda: client.get(floor))[0])
        row["bytes"] = len(expected)
        results.append(row)
        if on_zoom and (i + 1 == len(tiles) or tiles[i + 1].z != t.z):
            on_zoom([r for r in results if r["z"] == t.z])
    return results


KINDS = ["base", "path", "off", "cold", "warm", "revalidate", "floor"]
HEADS = ["base-table SQL", "path SQL", "view cache off", "view cold", "view warm", "304", "GET /healthz"]


def print_header(label: str) -> None:
    print(f"\n{label}; milliseconds (p50 / p95)\n")
    print(f"{'zoom':>4} {'tiles':>5} {'kB':>6} " + " ".join(f"{h:>17}" for h in HEADS)
          + f" {'off/path':>8} {'off/base':>8} {'off-base':>8}", flush=True)


def print_zoom(rows: list[dict]) -> None:
    """One table row: a zoom's tiles, p50 / p95 per kind, and median per-tile ratios."""
    cells = []
    for k in KINDS:
        vals = [v for r in rows for v in r[k]]
        cells.append(f"{pct(vals, 0.5):7.1f} / {pct(vals, 0.95):7.1f}")
    ratio = statistics.median(pct(r["off"], 0.5) / max(pct(r["path"], 0.5), 1e-6) for r in rows)
    ratio_base = statistics.median(pct(r["off"], 0.5) / max(pct(r["base"], 0.5), 1e-6) for r in rows)
    added = statistics.median(pct(r["off"], 0.5) - pct(r["base"], 0.5) for r in rows)  # ms the view adds
    kb = statistics.mean(r["bytes"] for r in rows) / 1024
    print(f"{rows[0]['z']:>4} {len(rows):>5} {kb:6.1f} " + " ".join(f"{c:>17}" for c in cells)
          + f" {ratio:8.2f} {ratio_base:8.3f} {added:8.2f}", flush=True)


def report(results: list[dict]) -> dict:
    """Overall p50 / p95 per kind, per-zoom p95s, and the ratios the targets name."""
    out = {"per_zoom": {}}
    for z in sorted({r["z"] for r in results}):
        rows = [r for r in results if r["z"] == z]
        out["per_zoom"][z] = {f"{k}_p95_ms": round(pct([v for r in rows for v in r[k]], 0.95), 2) for k in KINDS}
    for k in KINDS:
        vals = [v for r in results for v in r[k]]
        out[f"{k}_p50_ms"] = round(pct(vals, 0.5), 2)
        out[f"{k}_p95_ms"] = round(pct(vals, 0.95), 2)
    out["off_over_path_median"] = round(statistics.median(
        pct(r["off"], 0.5) / max(pct(r["path"], 0.5), 1e-6) for r in results), 3)
    out["off_over_path_p95_ratio"] = round(out["off_p95_ms"] / out["path_p95_ms"], 3)
    out["cold_over_path_p95_ratio"] = round(out["cold_p95_ms"] / out["path_p95_ms"], 3)
    out["off_over_base_p95_ratio"] = round(out["off_p95_ms"] / out["base_p95_ms"], 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--peer-repeat", type=int, default=1, help="timings of the slow base-table SQL per tile")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the summary tables first")
    parser.add_argument("--filters", default="date_from=2021-04-01&date_to=2021-04-30&grade=research&type=song",
                        help="query string of the filtered sweep ('' to skip it)")
    parser.add_argument("--zooms", default=",".join(map(str, ZOOMS)), help="comma-separated zooms to sweep")
    parser.add_argument("--tiles-per-zoom", type=int, default=TILES_PER_ZOOM)
    parser.add_argument("--insert-cost", type=int, default=1000,
                        help="single-row inserts timed without, with journal and with inline triggers (0 skips)")
    parser.add_argument("--pending", type=int, default=0,
                        help="observations left in the summary journal during the sweeps (not refreshed)")
    args = parser.parse_args()
    ZOOMS[:] = sorted({int(z) for z in args.zooms.split(",") if z.strip()})
    if not ZOOMS or not all(0 <= z <= 22 for z in ZOOMS) or args.repeat < 1 or args.tiles_per_zoom < 1:
        parser.error("need zooms in 0..22, --repeat >= 1 and --tiles-per-zoom >= 1")
    os.environ.update(env())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
    import django

    django.setup()
    from django.core.cache import cache

    progress(f"preparing {BENCH_DB} ({args.n} observations)")
    total = ensure_data(args.n)
    if args.rebuild:
        progress("rebuilding the summary tables")
        manage("rebuild_map_summary")
    tiles = sweep_tiles(args.tiles_per_zoom)
    port, port_off = free_port(), free_port()
    webs = [start_web(port), start_web(port_off, DAWN_MAP_TILE_CACHE="0")]
    client = Http()
    summary = {"benchmark": "tiles", "observations": total, "tiles": len(tiles), "repeat": args.repeat,
               "zooms": ZOOMS, "peer": "raw ST_AsMVT SQL on observations_observation (direct psycopg)",
               "target_p95_ms": 50, "target_ratio": 1.5}
    if args.insert_cost > 0:
        summary["insert_cost"] = insert_cost(args.insert_cost)
    if args.pending > 0:
        summary["journal_rows"] = add_pending(args.pending)
        progress(f"{summary['journal_rows']} rows wait in the journal during the sweeps")
    try:
        wait_up(client, port)
        wait_up(client, port_off)
        conn = psycopg.connect(f"{PG}/{BENCH_DB}", autocommit=True)
        cached = f"http://127.0.0.1:{port}/api/v1/map/tiles"
        uncached = f"http://127.0.0.1:{port_off}/api/v1/map/tiles"
        for name, query in [("all", ""), ("filtered", args.filters)]:
            if name == "filtered" and not query:
                continue
            print_header(f"Tiles{' ?' + query if query else ''}: {total} observations, {len(tiles)} tiles over "
                         f"zooms {','.join(map(str, ZOOMS))}, {args.repeat} repeats")
            results = sweep(tiles, query, args.repeat, args.peer_repeat, client, cached, uncached, conn,
                            on_zoom=print_zoom)
            summary[name] = report(results)
            print(json.dumps({"benchmark": "tiles", "sweep": name, **summary[name]}), flush=True)
    finally:
        for web in webs:
            os.killpg(web.pid, signal.SIGTERM)
            web.wait(10)
        cache.close()
        if args.pending > 0:
            drop_pending()
    print()
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
