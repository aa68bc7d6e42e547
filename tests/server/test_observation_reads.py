"""The reads other apps make of observations through ``server.observations.services`` and ``bulk``."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import numpy as np
from django.contrib.gis.geos import Point, Polygon

from server.observations import services
from server.observations.bulk import window_rows
from server.observations.models import Source, Status
from server.species.lookup import labels_of
from server.species.models import Species

T0 = datetime(2026, 5, 1, 6, 0, tzinfo=timezone.utc)


def make(label: str, lng: float, lat: float, *, when: datetime = T0, status: str = Status.NEEDS_ID, **fields):
    obs = services.build_observation(species=Species.objects.get(label=label), location=Point(lng, lat, srid=4326),
                                     seed=f"t:{uuid.uuid4()}", observed_at=when, status=status, **fields)
    obs.save()
    return obs


def test_first_observed_at(catalogue):
    assert services.first_observed_at() is None
    make("Bananaquit", -66.0, 18.4, when=T0 + timedelta(days=2))
    make("Bananaquit", -66.0, 18.4, when=T0)
    assert services.first_observed_at() == T0


def test_xeno_canto_ids_put_those_in_the_area_first(catalogue):
    far = make("Bananaquit", -65.0, 18.0, source=Source.XENO_CANTO, source_id="100")
    near = make("Bananaquit", -66.0, 18.4, source=Source.XENO_CANTO, source_id="200")
    make("Bananaquit", -66.0, 18.4)  # the app's own: no xeno-canto id
    make("Puerto Rican Tody", -66.0, 18.4, source=Source.XENO_CANTO, source_id="300")
    area = Polygon.from_bbox((-66.1, 18.3, -65.9, 18.5))
    assert services.xeno_canto_ids("Bananaquit") == [far.source_id, near.source_id]
    assert services.xeno_canto_ids("Bananaquit", within=area) == ["200", "100", "200"]


def test_a_recording_without_an_observation_has_no_public_clip(db):
    assert services.recording_public_clip(uuid.uuid4()) is None


def test_window_rows_hold_the_public_position_of_non_casual_observations(catalogue):
    sensitive = Species.objects.filter(sensitive=True).first()
    shown = make(sensitive.label, -66.05, 18.39, confidence=0.7)
    make("Bananaquit", -66.0, 18.4, status=Status.CASUAL)
    make("Bananaquit", -66.0, 18.4, when=T0 - timedelta(days=1))  # before the window
    rows = window_rows(T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    assert rows.size == 1
    assert int(rows["species"][0]) == sensitive.pk
    assert (float(rows["lng"][0]), float(rows["lat"][0])) == (shown.public_location.x, shown.public_location.y)
    assert (float(rows["lng"][0]), float(rows["lat"][0])) != (-66.05, 18.39)
    assert np.isclose(float(rows["conf"][0]), 0.7) and bytes(rows["rec"][0]) == bytes(16)
    assert window_rows(T0 - timedelta(hours=1), T0 + timedelta(hours=1), bbox=(0.0, 0.0, 1.0, 1.0)).size == 0
    assert labels_of([sensitive.pk, 10 ** 9]) == {sensitive.pk: sensitive.label}
