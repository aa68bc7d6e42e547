"""Test helpers: the map summary tables' rows, and a check that they equal a rebuild from scratch."""
from __future__ import annotations

import pytest
from django.db import connection

from server.maps import summary


def table(name: str = summary.TABLE) -> dict:
    """A count table's rows: key → (n, sx, sy)."""
    key = {summary.TABLE: summary.KEY, summary.KIND_TABLE: summary.KIND_KEY}.get(name, "level, cx, cy, species_id")
    with connection.cursor() as cur:
        cur.execute(f"SELECT {key}, n, sx, sy FROM {name}")
        return {r[:-3]: r[-3:] for r in cur.fetchall()}


def finished_cells() -> dict:
    """``maps_tilecell_mix``: (level, tx, ty, cx, cy) → (n, species_count, species, mix, sx, sy)."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT level, tx, ty, cx, cy, n, species_count, species, mix, sx, sy FROM {summary.CELL_TABLE}")
        return {r[:5]: r[5:] for r in cur.fetchall()}


def pending() -> list[tuple]:
    """The journal, oldest first: (species_id, day, status, sound_type, cx, cy, sgn)."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT species_id, day, status, sound_type, cx, cy, sgn FROM {summary.PENDING_TABLE} ORDER BY id")
        return cur.fetchall()


def snapshot() -> dict:
    """All four summary tables."""
    return {"full": table(summary.TABLE), "species": table(summary.SPECIES_TABLE), "kinds": table(summary.KIND_TABLE),
            "cells": finished_cells()}


def assert_same_rows(got: dict, want: dict) -> None:
    """Equal keys, counts, labels and mixes; coordinate sums equal up to float rounding."""
    for name in want:
        assert got[name].keys() == want[name].keys(), name
        for key, value in want[name].items():
            exact = 1 if name != "cells" else 4  # (n | n, species_count, species, mix), then sums
            assert got[name][key][:exact] == value[:exact], (name, key)
            assert got[name][key][exact:] == pytest.approx(value[exact:], abs=1e-3), (name, key)


def assert_equals_rebuild() -> None:
    """The maintained tables hold exactly what ``rebuild`` computes from observations."""
    maintained = snapshot()
    assert all(v[0] > 0 for v in maintained["full"].values())
    summary.rebuild()
    assert_same_rows(maintained, snapshot())
