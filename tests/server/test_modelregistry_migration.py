"""modelregistry 0002 (issue 25, one model set) applied by Django's migration executor: birds rows
become field rows (the current one stays current), urban rows are kept as history, never current."""
from __future__ import annotations

import hashlib
import importlib

import pytest

from server.modelregistry import services
from server.modelregistry.models import ModelVersion
from tests.server.migration_steps import migrate, state_at

BEFORE = [("modelregistry", "0001_initial")]
AFTER = [("modelregistry", "0002_one_field_model_set")]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def before():
    """The registry table as it was before 0002, back at the latest state afterwards."""
    yield from state_at(BEFORE)


def add(model, version: str, model_set: str, is_current: bool = False):
    """A row of ``model`` (historical or today's: the column takes any string) in ``model_set``."""
    return model.objects.create(model_set=model_set, version=version, file=f"models/{version}.npz",
                                sha256=hashlib.sha256(version.encode()).hexdigest(), size_bytes=1,
                                architecture="phinet", is_current=is_current)


def test_birds_and_urban_rows_become_field_rows_with_the_birds_current_model_current(before):
    old = before.get_model("modelregistry", "ModelVersion")
    add(old, "birds-old", "birds")
    add(old, "birds-now", "birds", is_current=True)
    add(old, "urban-old", "urban")
    add(old, "urban-now", "urban", is_current=True)

    new = migrate(AFTER).get_model("modelregistry", "ModelVersion")
    assert dict(new.objects.values_list("version", "model_set")) == {
        v: "field" for v in ("birds-old", "birds-now", "urban-old", "urban-now")}
    assert list(new.objects.filter(is_current=True).values_list("version", flat=True)) == ["birds-now"]
    assert new._meta.get_field("model_set").default == "field"

    back = migrate(BEFORE).get_model("modelregistry", "ModelVersion")
    assert set(back.objects.values_list("model_set", flat=True)) == {"birds"}
    assert list(back.objects.filter(is_current=True).values_list("version", flat=True)) == ["birds-now"]


# --- its mapping on today's table (no schema change: fast) -----------------------------------------

MIGRATION = importlib.import_module("server.modelregistry.migrations.0002_one_field_model_set")


@pytest.mark.django_db
def test_the_migration_makes_the_birds_current_model_the_field_one_and_keeps_urban_history():
    add(ModelVersion, "birds-old", "birds")
    add(ModelVersion, "birds-now", "birds", is_current=True)
    add(ModelVersion, "urban-old", "urban")
    add(ModelVersion, "urban-now", "urban", is_current=True)
    MIGRATION.remap(ModelVersion.objects, MIGRATION.FORWARD)
    rows = dict(ModelVersion.objects.values_list("version", "model_set"))
    assert rows == {v: "field" for v in ("birds-old", "birds-now", "urban-old", "urban-now")}
    assert services.current_version().version == "birds-now"
    assert list(ModelVersion.objects.filter(is_current=True).values_list("version", flat=True)) == ["birds-now"]
    MIGRATION.remap(ModelVersion.objects, MIGRATION.REVERSE)
    assert set(ModelVersion.objects.values_list("model_set", flat=True)) == {"birds"}
    assert list(ModelVersion.objects.filter(is_current=True).values_list("version", flat=True)) == ["birds-now"]


@pytest.mark.django_db
def test_the_migration_leaves_no_current_model_when_only_urban_had_one():
    add(ModelVersion, "urban-now", "urban", is_current=True)
    MIGRATION.remap(ModelVersion.objects, MIGRATION.FORWARD)
    assert services.current_version() is None
    assert ModelVersion.objects.get().model_set == "field"
