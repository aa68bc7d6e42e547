"""Map test helpers: observations placed by hand (real catalogue species), tile fetch + decode."""
from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timezone

import pytest
from django.contrib.gis.geos import Point
from django.db import connection

from server.maps import generation
from server.observations.models import Observation
from server.observations.services import build_observation
from server.species.models import Species

from .mvt import decode


@pytest.fixture(autouse=True)
def fresh_generation(db):
    """Test transactions never commit, so bump the tile generation by hand around each test."""
    generation.bump()
    yield
    generation.bump()


@pytest.fixture
def make_obs(catalogue):
    counter = {"n": 0}

    def make(label: str = "Bananaquit", lng: float = -65.78, lat: float = 18.30, *, observer=None,
             when: datetime | None = None, obscured: bool | None = None, **fields) -> Observation:
        counter["n"] += 1
        species = Species.objects.get(label=label)
        fields.setdefault("status", "needs_id")
        fields.setdefault("confidence", 0.8)
        obs = build_observation(species=species, location=Point(lng, lat, srid=4326),
                                seed=f"test:{counter['n']}:{lng}:{lat}", observer=observer,
                                observed_at=when or datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc),
                                recordist=fields.pop("recordist", "Test Recordist"),
                                license=fields.pop("license", "https://creativecommons.org/licenses/by/4.0/"),
                                **fields)
        if obscured is not None and obscured and not obs.obscured:
            from server.observations.services import public_point
            shown, _ = public_point(obs.location, True, f"owner:{counter['n']}")
            obs.public_location, obs.obscured = shown, True
        obs.save()
        generation.bump()
        return obs

    return make


@pytest.fixture
def varied(make_obs):
    """Observations over two islands, three days, grades, types; one obscured (sensitive or owner's wish)."""
    def at(day: int, hour: int) -> datetime:
        return datetime(2024, 5, day, hour, 0, tzinfo=timezone.utc)
    spots = [(-65.78, 18.30), (-65.77, 18.31), (-66.60, 18.20), (-64.90, 18.34)]
    made = []
    for i in range(16):
        lng, lat = spots[i % 4]
        made.append(make_obs(["Bananaquit", "Puerto Rican Tody", "Bananaquit"][i % 3], lng + i * 0.0007, lat,
                             when=at(1 + i % 3, (5 * i) % 24), confidence=0.2 + 0.03 * i,
                             status=["needs_id", "research", "casual"][i % 3],
                             sound_type=["song", "Call", "song"][i % 3]))
    made.append(make_obs("Bananaquit", -65.95, 18.05, obscured=True, when=at(2, 0)))
    return made


def get_tile(client, z: int, x: int, y: int, query: str = "", **headers):
    url = f"/api/v1/map/tiles/{z}/{x}/{y}.mvt" + (f"?{query}" if query else "")
    return client.get(url, **headers)


def tile_layers(client, z: int, x: int, y: int, query: str = "") -> dict:
    response = get_tile(client, z, x, y, query)
    assert response.status_code == 200, response.content[:300]
    return decode(response.content)


async def until(predicate, seconds: float = 3.0) -> None:
    """Wait on the running loop until ``predicate()`` holds (fails the test after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


def index_scans(sql: str, args: list) -> list[tuple[str, str]]:
    """(index name, index condition) of every index scan in the plan of ``sql``."""
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (FORMAT JSON) " + sql, args)
        plan = cur.fetchone()[0]
    return _scans((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"])


def _scans(plan: dict) -> list[tuple[str, str]]:
    found = [(plan["Index Name"], plan.get("Index Cond", ""))] if "Index Name" in plan else []
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found
