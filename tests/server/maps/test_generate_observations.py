"""The benchmarks' loader: its SQL copies real (xeno-canto) observations into app ones, obscuring sensitive species,
and the summary journal sees every row it writes."""
from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from server.maps import refresh
from server.maps.management.commands.generate_observations import insert_sql
from server.observations.models import Observation

from .summary_rows import assert_equals_rebuild

pytestmark = pytest.mark.django_db


@pytest.fixture
def copied(make_obs):
    """Three imported observations to copy, one of a sensitive species (Puerto Rican Amazon)."""
    return [make_obs("Bananaquit", -65.78, 18.30, source="xeno-canto", source_id="1"),
            make_obs("Puerto Rican Tody", -66.60, 18.20, source="xeno-canto", source_id="2", sound_type="call"),
            make_obs("Puerto Rican Amazon", -65.80, 18.32, source="xeno-canto", source_id="3")]


def test_the_loader_copies_imported_observations(copied):
    with connection.cursor() as cur:
        cur.execute("SELECT setseed(0.3)")
        cur.execute(insert_sql(), {"start": 0, "stop": 40, "tag": "t", "source": "app"})
    made = list(Observation.objects.filter(source="app").select_related("species"))
    assert len(made) == 40
    assert {o.species.label for o in made} <= {o.species.label for o in copied}
    assert {o.recordist for o in made} == {"Test Recordist"}
    for obs in made:
        assert 0.15 <= obs.confidence <= 1 and obs.status in {"research", "needs_id", "casual"}
        assert 2016 <= obs.observed_at.year <= 2025 and obs.georeference_remarks == "synthetic (benchmark)"
        assert obs.obscured == obs.species.sensitive
        if obs.obscured:  # a point of the 0.2° cell, never the true one
            assert obs.public_location != obs.location
            assert int(obs.public_location.x // 0.2) == int(obs.location.x // 0.2)
            assert int(obs.public_location.y // 0.2) == int(obs.location.y // 0.2)
        else:
            assert obs.public_location == obs.location
    assert any(o.obscured for o in made)
    refresh.drain()
    assert_equals_rebuild()


def test_the_loader_needs_imported_observations_to_copy(make_obs):
    make_obs("Bananaquit")  # an app observation: nothing to copy
    with pytest.raises(CommandError, match="no demo observations"):
        call_command("generate_observations", count=5)
