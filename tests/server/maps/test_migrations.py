"""The map summary's migrations hold frozen SQL; the functions they left in the database are the ones
:mod:`server.maps.journal` generates, so the live module describes the live schema."""
from __future__ import annotations

import re

import pytest
from django.db import connection

from server.maps import journal

pytestmark = pytest.mark.django_db

FUNCTION = re.compile(r"CREATE OR REPLACE FUNCTION (\w+)\(.*?\$fn\$(.*?)\$fn\$", re.S)


def generated_bodies(sql: str) -> dict[str, str]:
    """Function name → body (the text between the ``$fn$`` quotes) of every function ``sql`` creates."""
    return {name: body for name, body in FUNCTION.findall(sql)}


def installed_bodies(names: list[str]) -> dict[str, str]:
    with connection.cursor() as cur:
        cur.execute("SELECT proname, prosrc FROM pg_proc WHERE proname = ANY(%s)", [names])
        return dict(cur.fetchall())


def test_generated_bodies_reads_every_function():
    bodies = generated_bodies(journal.journal_functions_sql())
    assert list(bodies) == list(journal.TRIGGER_FUNCTIONS)
    assert all("RETURN NULL;" in body for body in bodies.values())


@pytest.mark.parametrize("sql", [journal.refresh_function_sql, journal.journal_functions_sql])
def test_the_migrated_functions_are_the_ones_journal_generates(sql):
    expected = generated_bodies(sql())
    assert expected and installed_bodies(list(expected)) == expected


def test_0007_moves_obscured_observations_out_of_the_clusters_and_back(varied):
    """Migration 0007's SQL, backwards then forwards, on live data: its reverse counts obscured observations in the
    clusters again (0006's triggers), and its forward withdraws them through the journal, leaving exactly what a
    rebuild computes now."""
    from importlib import import_module

    from server.maps import refresh, summary

    from .summary_rows import assert_equals_rebuild, table

    m0007 = import_module("server.maps.migrations.0007_tilecell_unobscured")
    m0006 = import_module("server.maps.migrations.0006_tilecell_kind")
    obscured = sum(obs.obscured for obs in varied)
    assert obscured == 1

    def clustered() -> int:
        refresh.drain()
        return sum(v[0] for k, v in table(summary.SPECIES_TABLE).items() if k[0] == summary.MIN_LEVEL)

    assert clustered() == len(varied) - obscured
    with connection.cursor() as cur:
        cur.execute(m0007.LOCK_SQL + m0006.JOURNAL_FUNCTIONS_SQL + m0007.RESTORE_OBSCURED_SQL)
    assert clustered() == len(varied)
    with connection.cursor() as cur:
        cur.execute(m0007.LOCK_SQL + m0007.JOURNAL_FUNCTIONS_SQL + m0007.WITHDRAW_OBSCURED_SQL)
    assert clustered() == len(varied) - obscured
    assert_equals_rebuild()
