"""Shared test helpers: real fixture clips, users per role, and multipart submissions."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AUDIO_DIR = ROOT / "fixtures" / "audio"


@dataclass(frozen=True)
class Clip:
    path: Path
    label: str
    kind: str

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


def load_clips() -> list[Clip]:
    """The real, attributed clips shipped in fixtures/audio (fails loudly if missing)."""
    with open(AUDIO_DIR / "manifest.csv", newline="", encoding="utf-8") as fh:
        return [Clip(AUDIO_DIR / row["file"], row["label"], row["kind"]) for row in csv.DictReader(fh)]


@pytest.fixture(scope="session")
def clips() -> list[Clip]:
    return load_clips()


@pytest.fixture(scope="session")
def bird_clips(clips) -> list[Clip]:
    return [c for c in clips if c.kind == "bird" and c.path.suffix == ".ogg"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, dropped cleanly at the end.

    A worker thread of this process (a thread pool of the code under test) can still hold a
    connection checked out of psycopg's pool when the session ends, and closing the pool does not
    close checked-out connections, so PostgreSQL would refuse the DROP ("being accessed by other
    users") and leave the database behind. The pool is closed first (so it cannot reconnect),
    then every session still on the test database is ended: the database belongs to this run
    (runs side by side need their own ``DAWN_TEST_DB_NAME`` anyway, see ``scripts/test.sh``).
    """
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]
        connection.close()
        connection.close_pool()   # a no-op without a pool
        with connection._nodb_cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = %s AND pid <> pg_backend_pid()", [name])
