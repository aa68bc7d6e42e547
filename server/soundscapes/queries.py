"""The database side of a spec build: a window's observations grouped by cell.

The observations come from ``server.observations.bulk.window_rows`` (non-casual, at their public
position) and are grouped by :func:`specbuild.group_observations`, because PostgreSQL has no H3.
"""
from __future__ import annotations

import numpy as np

from server.observations.bulk import window_rows
from server.species.lookup import labels_of

from .cells import SOURCE_GRID_DEG, cell_of_square
from .specbuild import CellGroups, group_observations
from .windows import Window


def grouped_by_cell(window: Window, bbox: tuple[float, float, float, float] | None = None,
                    only: set[str] | None = None) -> dict[str, CellGroups]:
    """Each cell's largest (species, square) groups; optionally inside a (min_lat, min_lng,
    max_lat, max_lng) box and only for some cells."""
    rows = window_rows(window.start, window.end, bbox)
    if rows.size == 0:
        return {}
    labels = labels_of(np.unique(rows["species"]).tolist())
    cells = group_observations(rows["species"].astype(np.int64), rows["lat"].astype(np.float64),
                               rows["lng"].astype(np.float64), rows["conf"].astype(np.float64),
                               np.ascontiguousarray(rows["rec"]).view("V16"), labels, SOURCE_GRID_DEG,
                               cell_of_square)
    if only is not None:
        cells = {c: v for c, v in cells.items() if c in only}
    return cells
