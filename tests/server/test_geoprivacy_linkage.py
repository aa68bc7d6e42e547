"""The geoprivacy rules: pure helpers (cell, coarse date, coarse filter bounds) and the linkage rule that
obscures the same recordist's observations within 24 hours of a sensitive one."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest
from django.contrib.gis.geos import Point

from server.accounts.models import Role
from server.observations.demo_import import FIXTURE_OBSERVATIONS, import_observations
from server.observations.geoprivacy import (cell_bounds, coarse_date, coarse_from, coarse_instant, coarse_until,
                                            midnight_within, obscure)
from server.observations.models import Observation
from server.observations.services import build_observation
from server.species.models import Species

from .conftest import make_user

T = datetime(2024, 5, 1, 10, 17, 42, tzinfo=timezone.utc)


def test_cell_bounds_hold_the_point_and_its_obscured_twin():
    west, south, east, north = cell_bounds(18.27391, -65.83717)
    assert (west, south, east, north) == (-66.0, 18.2, -65.8, 18.4)
    lat, lng = obscure(18.27391, -65.83717, "seed")
    assert cell_bounds(lat, lng) == (west, south, east, north)
    assert cell_bounds(-0.05, -0.05) == (-0.2, -0.2, 0.0, 0.0)


def test_coarse_date_keeps_the_day_at_most():
    assert coarse_date(T, "second") == coarse_date(T, "minute") == coarse_date(T, "day") == "2024-05-01"
    assert coarse_date(T, "month") == "2024-05" and coarse_date(T, "year") == "2024"
    assert coarse_date(datetime(2024, 5, 1, 23, 30, tzinfo=timezone(timedelta(hours=-4))), "minute") == "2024-05-02"
    assert coarse_instant(T) == datetime(2024, 5, 1, tzinfo=timezone.utc)


def test_coarse_filter_bounds_depend_on_the_day_only():
    midnight = datetime(2024, 5, 1, tzinfo=timezone.utc)
    assert coarse_from(midnight) == midnight and coarse_from(T) == midnight + timedelta(days=1)
    assert coarse_until(T) == coarse_until(midnight) == midnight + timedelta(days=1)
    assert midnight_within(time(0, 0), time(0, 0)) and midnight_within(time(22, 0), time(2, 0))
    assert not midnight_within(time(10, 17), time(10, 17, 59))


@pytest.fixture
def make(catalogue):
    def make(label: str, lng: float, lat: float, when: datetime, **fields) -> Observation:
        obs = build_observation(species=Species.objects.get(label=label), location=Point(lng, lat, srid=4326),
                                seed=f"t:{label}:{lng}:{when.isoformat()}", observed_at=when, **fields)
        obs.save()
        obs.refresh_from_db()
        return obs
    return make


def exact(obs: Observation) -> bool:
    obs.refresh_from_db()
    return not obs.obscured and obs.public_location.equals_exact(obs.location, 1e-12)


def test_a_sensitive_observation_obscures_the_same_players_earlier_and_later_ones(make, db):
    owner, other = make_user("owner", Role.PLAYER), make_user("other", Role.PLAYER)
    before = make("Bananaquit", -65.8369, 18.2741, T - timedelta(seconds=1), observer=owner, recordist="owner")
    far_in_time = make("Bananaquit", -65.8369, 18.2741, T - timedelta(hours=25), observer=owner, recordist="owner")
    someone_else = make("Bananaquit", -65.8368, 18.2741, T, observer=other, recordist="other")
    assert exact(before) and exact(far_in_time) and exact(someone_else)
    sensitive = make("Yellow-shouldered Blackbird", -65.83717, 18.27391, T, observer=owner, recordist="owner")
    after = make("Puerto Rican Tody", -65.8370, 18.2740, T + timedelta(hours=23), observer=owner, recordist="owner")
    assert sensitive.obscured
    for linked in (before, after):
        linked.refresh_from_db()
        assert linked.obscured and not linked.public_location.equals_exact(linked.location, 1e-3)
        assert cell_bounds(linked.public_location.y, linked.public_location.x) == \
            cell_bounds(linked.location.y, linked.location.x)
    assert exact(far_in_time) and exact(someone_else)


def test_imports_link_by_recordist_name_and_re_imports_keep_the_same_point(make, db):
    sensitive = make("Elfin Woods Warbler", -66.58263, 18.31846, T, recordist="Jane Q. Fieldhand",
                     source="xeno-canto", source_id="1")
    same_name = make("Bananaquit", -66.58231, 18.31869, T, recordist="Jane Q. Fieldhand", source="xeno-canto",
                     source_id="2")
    assert sensitive.obscured and same_name.obscured
    first = same_name.public_location
    fresh = build_observation(species=same_name.species, location=same_name.location, seed="re-import",
                              observed_at=T, recordist="Jane Q. Fieldhand", source="xeno-canto", source_id="2")
    fresh.pk, fresh.created_at = same_name.pk, same_name.created_at
    fresh.save()
    same_name.refresh_from_db()
    assert same_name.obscured and same_name.public_location.equals_exact(first, 1e-12)


def test_the_demo_data_has_no_exact_record_beside_a_sensitive_one(catalogue):
    """The attack of issue 24: a sensitive record's recordist and minute led to the same recordist's exact
    record made beside it. After the import none of the recordist's records within 24 hours is exact."""
    import_observations(FIXTURE_OBSERVATIONS)
    sensitive = list(Observation.objects.filter(species__sensitive=True))
    assert sensitive and all(o.obscured for o in sensitive)
    window = timedelta(hours=24)
    exposed = [o.pk for s in sensitive for o in Observation.objects.filter(
        recordist=s.recordist, observed_at__range=(s.observed_at - window, s.observed_at + window), obscured=False)]
    assert exposed == []
    partners = [o for s in sensitive for o in Observation.objects.filter(
        recordist=s.recordist, observed_at=s.observed_at, species__sensitive=False)]
    assert len(partners) >= 6 and all(o.obscured for o in partners)  # the fixture's same-minute pairs
