"""Find or start the PostgreSQL/PostGIS and Redis that Dawn Chorus needs.

``ensure`` prints shell ``export`` lines for DATABASE_URL and REDIS_URL:
  1. a URL already in the environment is used as given;
  2. otherwise the standard local port (127.0.0.1:5432 / :6379) is reused when it answers;
  3. otherwise a private instance is started under ``var/`` (recorded in var/started-services).
``stop`` stops only the private instances that ``ensure`` started.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
STARTED = VAR / "started-services"
DB_NAME = os.environ.get("DAWN_DB_NAME", "dawnchorus")
PRIVATE_PG_PORT = 54329
PRIVATE_REDIS_PORT = 63799


def log(msg: str) -> None:
    print(f"[services] {msg}", file=sys.stderr)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host: str, port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        time.sleep(0.2)
    raise SystemExit(f"service on {host}:{port} did not come up")


def pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if found:
        return str(found[-1])
    path = shutil.which(name)
    if not path:
        raise SystemExit(f"{name} not found: install PostgreSQL (scripts/bootstrap.sh does)")
    return path


def as_postgres(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def start_private_postgres() -> str:
    data = VAR / "pg"
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
        log(f"initialising private PostgreSQL in {data}")
        subprocess.run(as_postgres([pg_bin("initdb"), "-D", str(data), "-U", "postgres",
                                    "--auth=trust", "-E", "UTF8"]), check=True,
                       stdout=subprocess.DEVNULL)
    log(f"starting private PostgreSQL on 127.0.0.1:{PRIVATE_PG_PORT}")
    subprocess.run(as_postgres([pg_bin("pg_ctl"), "-D", str(data), "-l", str(data / "server.log"),
                                "-o", f"-p {PRIVATE_PG_PORT} -k /tmp -h 127.0.0.1", "-w",
                                "start"]), check=True, stdout=subprocess.DEVNULL)
    STARTED.open("a").write(f"postgres {data}\n")
    return f"postgres://postgres@127.0.0.1:{PRIVATE_PG_PORT}/{DB_NAME}"


def start_private_redis() -> str:
    data = VAR / "redis"
    data.mkdir(parents=True, exist_ok=True)
    log(f"starting private Redis on 127.0.0.1:{PRIVATE_REDIS_PORT}")
    subprocess.run([shutil.which("redis-server") or "redis-server", "--daemonize", "yes",
                    "--bind", "127.0.0.1", "--port", str(PRIVATE_REDIS_PORT), "--save", "",
                    "--appendonly", "no", "--dir", str(data),
                    "--pidfile", str(data / "redis.pid"), "--logfile", str(data / "redis.log")],
                   check=True)
    wait_port("127.0.0.1", PRIVATE_REDIS_PORT)
    STARTED.open("a").write(f"redis {data / 'redis.pid'}\n")
    return f"redis://127.0.0.1:{PRIVATE_REDIS_PORT}/0"


def database_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    if port_open("127.0.0.1", 5432):
        return f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
    if port_open("127.0.0.1", PRIVATE_PG_PORT):
        return f"postgres://postgres@127.0.0.1:{PRIVATE_PG_PORT}/{DB_NAME}"
    return start_private_postgres()


def redis_url() -> str:
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    if port_open("127.0.0.1", 6379):
        return "redis://127.0.0.1:6379/0"
    if port_open("127.0.0.1", PRIVATE_REDIS_PORT):
        return f"redis://127.0.0.1:{PRIVATE_REDIS_PORT}/0"
    return start_private_redis()


def ensure_database(url: str) -> None:
    """Create the database if missing and enable PostGIS in it."""
    import psycopg
    from psycopg import sql

    info = psycopg.conninfo.conninfo_to_dict(url)
    name = info.get("dbname") or DB_NAME
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", [name]).fetchone():
            log(f"creating database {name}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def ensure() -> None:
    VAR.mkdir(exist_ok=True)
    db, redis = database_url(), redis_url()
    ensure_database(db)
    print(f"export DATABASE_URL='{db}'")
    print(f"export REDIS_URL='{redis}'")


def stop() -> None:
    if not STARTED.exists():
        return
    for line in STARTED.read_text().splitlines():
        kind, where = line.split(" ", 1)
        if kind == "postgres":
            subprocess.run(as_postgres([pg_bin("pg_ctl"), "-D", where, "-m", "fast", "stop"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elif kind == "redis" and Path(where).exists():
            try:
                os.kill(int(Path(where).read_text().strip()), 15)
            except (OSError, ValueError):
                pass
        log(f"stopped private {kind}")
    STARTED.unlink()


if __name__ == "__main__":
    {"ensure": ensure, "stop": stop}[sys.argv[1] if len(sys.argv) > 1 else "ensure"]()
