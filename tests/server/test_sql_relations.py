"""The relations the observations and species apps publish for other apps' SQL: projections built from the
models' metadata, which read exactly what the tables hold."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from django.contrib.gis.geos import Point
from django.db import connection

from server.common.model_relation import projection_sql
from server.observations.models import Observation
from server.observations.services import build_observation
from server.observations.sql_relations import READ_COLUMNS, observation_rows, observation_table
from server.species.models import Species
from server.species.sql_relations import species_rows, species_table


def test_a_projection_names_the_columns_by_attribute_in_order():
    assert projection_sql(Observation, ("species_id", "id")) == "(SELECT species_id, id FROM observations_observation)"
    with pytest.raises(ValueError, match="'species'"):
        projection_sql(Observation, ("species",))  # the field's name, not its attribute name


def test_the_published_names_are_the_models_tables():
    assert observation_table() == Observation._meta.db_table
    assert species_table() == Species._meta.db_table


def observe(label: str) -> Observation:
    obs = build_observation(species=Species.objects.get(label=label), location=Point(-65.8, 18.3, srid=4326),
                            seed=label, observed_at=datetime(2024, 5, 1, tzinfo=timezone.utc))
    obs.save()
    return obs


def test_the_relations_read_what_the_tables_hold(catalogue):
    made = [observe("Bananaquit"), observe("Puerto Rican Amazon")]  # the second a sensitive species
    with connection.cursor() as cur:
        cur.execute(f"SELECT {', '.join(READ_COLUMNS)} FROM {observation_rows()} o ORDER BY id")
        rows = cur.fetchall()
        cur.execute(f"SELECT s.label, s.sensitive FROM {species_rows()} s WHERE s.id = ANY(%s) ORDER BY s.label",
                    [[o.species_id for o in made]])
        species = cur.fetchall()
    assert [r[0] for r in rows] == [o.pk for o in made]
    assert [r[READ_COLUMNS.index("obscured")] for r in rows] == [False, True]
    assert species == [("Bananaquit", False), ("Puerto Rican Amazon", True)]
