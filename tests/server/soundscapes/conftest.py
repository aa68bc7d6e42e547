"""Helpers for soundscape tests: observations at chosen places and times."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from django.contrib.gis.geos import Point

from server.observations.models import Status
from server.observations.services import build_observation
from server.species.models import Species

# Parque Central, San Juan: a place with many finds
LAT, LNG = 18.3960, -66.0660


def add_obs(label: str, lat: float = LAT, lng: float = LNG, *, hours_ago: float = 1.0, when: datetime | None = None,
            status: str = Status.NEEDS_ID, recording=None, confidence: float | None = 0.8,
            seed: str | None = None):
    when = when or datetime.now(timezone.utc) - timedelta(hours=hours_ago)
    obs = build_observation(species=Species.objects.get(label=label), location=Point(lng, lat, srid=4326),
                            seed=seed or f"test:{uuid.uuid4()}", observed_at=when, status=status, recording=recording,
                            confidence=confidence)
    obs.save()
    return obs


@pytest.fixture
def spec_of(api):
    def get(cell: str, **params):
        resp = api.get(f"/api/v1/soundscapes/cells/{cell}/", params)
        assert resp.status_code == 200, resp.content
        return resp
    return get
