"""Benchmark: the public tile path (server/maps/public_tiles.py) against Django's tile view, same process
code, same tiles: what the bypass buys.

Run: ``.venv/bin/python tests/benchmarks/bench_public_tiles.py [--rounds 300] [--database NAME]``. It starts two
uvicorns on the given database (default: the one ``DATABASE_URL`` names; any migrated database will do, the
tiles may be empty, the figures are the request path's) and Redis: the web process as ``make run`` serves it,
and the same process without the public path (every request through the WSGI bridge to ``TileView``). Per
server, interleaved round by round:

* **one tile**: a keep-alive ``GET`` of a cached tile (``warm``) and its revalidation (``304``), one at a time;
* **a map view**: 12 neighbouring zoom-12 tiles asked at once over 6 connections (a browser's limit per host),
  the time until the last answer: what a user waits for when the map moves.

Prints a table (p50 / p95 in ms) and a JSON line.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TILE = "/api/v1/map/tiles/8/80/113.mvt"
VIEW = [f"/api/v1/map/tiles/12/{1290 + i % 4}/{1818 + i // 4}.mvt" for i in range(12)]
CONNECTIONS = 6


def django_only():
    """``uvicorn --factory`` target: the web process's HTTP app without the public tile path in front."""
    from server.asgi import application

    return application.application_mapping["http"].fallback


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(app: list[str], port: int, env: dict) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", *app, "--host", "127.0.0.1", "--port", str(port),
                                "--no-access-log", "--lifespan", "off"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", TILE)
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"uvicorn {' '.join(app)} did not answer a tile on port {port}")


class Client:
    """Keep-alive connections to one server, remembering each path's ETag."""

    def __init__(self, port: int) -> None:
        self.conns = [http.client.HTTPConnection("127.0.0.1", port) for _ in range(CONNECTIONS)]
        self.etags: dict[str, str] = {}

    def get(self, path: str, revalidate: bool, k: int = 0) -> float:
        headers = {"If-None-Match": self.etags[path]} if revalidate else {}
        t0 = time.perf_counter()
        self.conns[k].request("GET", path, headers=headers)
        response = self.conns[k].getresponse()
        response.read()
        elapsed = (time.perf_counter() - t0) * 1000
        expected = 304 if revalidate else 200
        if response.status != expected:
            raise SystemExit(f"{path}: {response.status}, expected {expected}")
        self.etags[path] = response.getheader("ETag")
        return elapsed

    def view(self, pool: ThreadPoolExecutor, revalidate: bool) -> float:
        t0 = time.perf_counter()
        list(pool.map(lambda k: [self.get(p, revalidate, k) for p in VIEW[k::CONNECTIONS]], range(CONNECTIONS)))
        return (time.perf_counter() - t0) * 1000


def p50_p95(values: list[float]) -> tuple[float, float]:
    return round(statistics.median(values), 2), round(statistics.quantiles(values, n=20)[18], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--database", help="database name on DATABASE_URL's server (default: DATABASE_URL's)")
    args = parser.parse_args()
    env = {**os.environ, "DAWN_LOG_LEVEL": "WARNING", "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
           "PYTHONPATH": str(ROOT)}
    if args.database:
        env["DATABASE_URL"] = env["DATABASE_URL"].rsplit("/", 1)[0] + "/" + args.database
    ports = {"public path": free_port(), "Django view": free_port()}
    servers = [start(["server.asgi:application"], ports["public path"], env),
               start(["--factory", "tests.benchmarks.bench_public_tiles:django_only"], ports["Django view"], env)]
    try:
        clients = {name: Client(port) for name, port in ports.items()}
        pool = ThreadPoolExecutor(CONNECTIONS)
        for client in clients.values():  # fill the tile cache, learn the ETags
            for _ in range(5):
                client.get(TILE, False)
                client.view(pool, False)
        timings = {name: {"tile warm": [], "tile 304": [], "view warm": [], "view 304": []} for name in clients}
        for i in range(args.rounds):
            for name in (list(clients) if i % 2 == 0 else list(clients)[::-1]):
                client, t = clients[name], timings[name]
                t["tile warm"].append(client.get(TILE, False))
                t["tile 304"].append(client.get(TILE, True))
                t["view warm"].append(client.view(pool, False))
                t["view 304"].append(client.view(pool, True))
    finally:
        for server in servers:
            server.terminate()
    result = {name: {k: p50_p95(v) for k, v in t.items()} for name, t in timings.items()}
    columns = list(next(iter(result.values())))
    print("| path | " + " | ".join(f"{c} p50 / p95 ms" for c in columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, row in result.items():
        print(f"| {name} | " + " | ".join(f"{a} / {b}" for a, b in row.values()) + " |")
    print(json.dumps({"bench": "public_tiles", "rounds": args.rounds, **result}))


if __name__ == "__main__":
    main()
