"""The summary journal: a write only appends to it; the refresh task folds it in exactly and atomically, is
requested on commit (one at a time) and by beat; cached tiles follow a refresh."""
from __future__ import annotations

import time

import psycopg
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from rest_framework.test import APIClient

from server.celery import app as celery_app
from server.maps import generation, refresh, summary, tasks
from server.maps.tasks import refresh_summary
from server.maps.tilemath import lnglat_to_cell, lnglat_to_tile
from server.observations.models import Observation
from server.species.models import Species

from .conftest import tile_layers
from .summary_rows import assert_equals_rebuild, pending, snapshot

pytestmark = pytest.mark.django_db


def other_connection() -> psycopg.Connection:
    """A second database session (a worker elsewhere), outside the test's transaction."""
    db = connection.settings_dict
    return psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"] or None,
                           port=db["PORT"] or None, password=db["PASSWORD"] or None)


def clusters(z: int, lng: float = -65.78, lat: float = 18.30) -> list[dict]:
    t = lnglat_to_tile(lng, lat, z)
    return [f["properties"] for f in tile_layers(APIClient(), t.z, t.x, t.y).get("clusters", [])]


def test_a_write_only_appends_to_the_journal(varied, make_obs):
    refresh.drain()
    before = snapshot()
    obs = make_obs("Puerto Rican Tody", -65.78, 18.30)  # a new species in busy cells: their mix would change
    assert snapshot() == before  # no count, no finished cluster recomputed in the writing transaction
    [row] = pending()
    assert row[-1] == 1 and row[4:6] == lnglat_to_cell(-65.78, 18.30, summary.MAX_LEVEL)
    obs.confidence = 0.5
    obs.save(update_fields=["confidence"])  # not a summarised field: nothing
    obs.status = "research"
    obs.save(update_fields=["status"])
    obs.delete()
    assert [(r[2], r[-1]) for r in pending()] == [("needs_id", 1), ("needs_id", -1), ("research", 1),
                                                  ("research", -1)]
    assert snapshot() == before
    with connection.cursor() as cur:
        cur.execute("SELECT prosrc FROM pg_proc WHERE proname = 'maps_tilecell_on_insert'")
        source = cur.fetchone()[0]
    assert summary.PENDING_TABLE in source and summary.CELL_TABLE not in source


def test_the_refresh_task_gives_the_rows_of_a_rebuild(varied, make_obs, django_capture_on_commit_callbacks):
    refresh.drain()
    varied[3].delete()
    varied[4].species = Species.objects.get(label="Puerto Rican Tody")
    varied[4].save()
    for _ in range(3):
        make_obs("Puerto Rican Tody", -66.60, 18.20, status="research")
    journal = len(pending())
    gen = generation.current()
    with django_capture_on_commit_callbacks(execute=True):
        assert refresh_summary.apply().get() == journal
    assert pending() == [] and generation.current() > gen
    assert_equals_rebuild()


def test_a_refresh_interrupted_before_commit_leaves_the_journal(varied):
    before, journal = snapshot(), pending()
    with pytest.raises(RuntimeError), transaction.atomic():
        assert refresh.refresh_batch() == len(journal)
        assert pending() == [] and snapshot() != before
        raise RuntimeError("worker died")
    assert pending() == journal and snapshot() == before
    refresh.drain()
    assert_equals_rebuild()


@pytest.mark.django_db(transaction=True)
def test_a_refresh_whose_worker_dies_loses_nothing(varied):
    before, journal = snapshot(), pending()
    worker = other_connection()
    assert worker.execute("SELECT maps_tilecell_refresh(NULL)").fetchone()[0] == len(journal)  # not committed
    pid = worker.info.backend_pid
    with connection.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(100):
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
            if cur.fetchone()[0] == 0:
                break
            time.sleep(0.05)
    worker.close()
    assert pending() == journal and snapshot() == before
    assert refresh_summary.apply().get() == len(journal)
    assert_equals_rebuild()


def test_a_busy_refresh_lock_skips_the_task(varied):
    holder = other_connection()
    try:
        holder.execute("SELECT pg_advisory_lock(%s)", [summary.REFRESH_LOCK])
        assert refresh.refresh_batch(wait=False) is None
        shown = [obs for obs in varied if not obs.obscured]  # obscured observations are in no cluster
        assert refresh_summary.apply().get() == 0 and len(pending()) == len(shown)
        holder.execute("SELECT pg_advisory_unlock(%s)", [summary.REFRESH_LOCK])  # released now, not when the
    finally:                                                                     # server notices the close
        holder.close()
    assert refresh_summary.apply().get() == len(shown)


def test_one_refresh_request_is_queued_at_a_time(db, monkeypatch):
    sent = []
    monkeypatch.setattr(refresh_summary, "apply_async", lambda **kw: sent.append(kw))
    tasks.clear_request()
    tasks.request_refresh()
    tasks.request_refresh()
    assert len(sent) == 1 and sent[0]["countdown"] == tasks.REQUEST_DELAY_S
    tasks.clear_request()  # what a starting task does: later writes ask again
    tasks.request_refresh()
    assert len(sent) == 2
    tasks.clear_request()


def test_beat_refreshes_every_few_seconds():
    entry = settings.CELERY_BEAT_SCHEDULE["maps-refresh-summary"]
    assert entry["task"] == "maps.refresh_summary" and entry["schedule"] <= 10


@pytest.fixture
def eager_tasks():
    """Enqueued tasks run at once, in this process (as a worker would, a second later)."""
    was = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = was


@pytest.mark.django_db(transaction=True)
def test_live_tiles_reflect_a_new_observation_after_the_refresh(make_obs, eager_tasks):
    tasks.clear_request()
    first = make_obs("Bananaquit", -65.78, 18.30)
    assert pending() == []  # committed: the on-commit request ran the refresh
    assert [(c["count"], c["species"]) for c in clusters(9)] == [(1, "Bananaquit")]
    gen = generation.current()
    with transaction.atomic():
        make_obs("Puerto Rican Tody", -65.781, 18.301)
        make_obs("Puerto Rican Tody", -65.782, 18.302)
    assert pending() == [] and generation.current() > gen
    [cell] = clusters(9)
    assert (cell["count"], cell["species"], cell["species_count"]) == (3, "Puerto Rican Tody", 2)
    with connection.cursor() as cur:  # raw SQL sends no Django signal: no bump, no refresh request
        cur.execute("DELETE FROM observations_observation")
    assert len(pending()) == 3 and clusters(9)[0]["count"] == 3  # the cached tile of this generation
    assert refresh_summary.apply().get() == 3  # beat's run: folds the journal, bumps the generation
    assert clusters(9) == []


@pytest.mark.django_db(transaction=True)
def test_generated_observations_land_in_an_exact_and_vacuumed_summary(varied):
    """The benchmark's loader: realistic copies of the real (xeno-canto) observations, folded into the summary
    batch by batch, then the rewritten summary rows reclaimed (this machine's PostgreSQL has no autovacuum)."""
    def vacuums() -> dict[str, int]:
        with connection.cursor() as cur:
            cur.execute("SELECT relname, vacuum_count FROM pg_stat_user_tables WHERE relname = ANY(%s)",
                        [[*summary.SUMMARY_TABLES, "observations_observation"]])
            return dict(cur.fetchall())

    Observation.objects.filter(pk__in=[o.pk for o in varied[:4]]).update(source="xeno-canto")
    before = vacuums()
    call_command("generate_observations", "--count", "120", "--batch", "50")
    assert Observation.objects.filter(source="app").count() == len(varied) - 4 + 120
    assert pending() == []
    assert_equals_rebuild()
    after = vacuums()
    assert len(after) == len(summary.SUMMARY_TABLES) + 1
    assert all(after[name] > before.get(name, 0) for name in after)


@pytest.mark.parametrize("args,message", [
    (["--count", "0"], "need 1 <= count"), (["--count", "5", "--batch", "0"], "need 1 <= count"),
    (["--count", "5", "--seed", "2"], "-1 <= seed <= 1"), (["--count", "5"], "no demo observations to copy"),
])
def test_generate_observations_refuses_bad_arguments_and_writes_nothing(varied, args, message):
    if message != "no demo observations to copy":
        Observation.objects.filter(pk=varied[0].pk).update(source="xeno-canto")
    before, journal = Observation.objects.count(), pending()
    with pytest.raises(CommandError, match=message):
        call_command("generate_observations", *args)
    assert Observation.objects.count() == before and pending() == journal
