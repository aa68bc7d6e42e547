"""The database side of a spec build: stream a window's observations as numpy arrays.

Counted: observations that are not ``casual`` (casual ones have poor GPS or a doubtful
identification), at their *public* position (obscured for sensitive species), in a window.
The rows leave PostgreSQL through one binary ``COPY`` (fixed 66-byte records parsed by numpy,
no per-row Python), and are grouped by :func:`specbuild.group_observations`, because
PostgreSQL has no H3.
"""
from __future__ import annotations

import numpy as np
from django.db import connection

from server.observations.models import Observation, Status

from .cells import SOURCE_GRID_DEG, cell_of_square
from .specbuild import CellGroups, group_observations
from .windows import Window

ROWS_SQL = """COPY (
  SELECT o.species_id::int4, ST_Y(o.public_location)::float8, ST_X(o.public_location)::float8,
         coalesce(o.confidence, -1)::float8,
         coalesce(o.recording_id, '00000000-0000-0000-0000-000000000000'::uuid)
  FROM {table} o
  WHERE o.observed_at >= {start} AND o.observed_at < {end} AND o.status <> {casual} {bbox}
) TO STDOUT (FORMAT binary)"""
BBOX = "AND o.public_location && ST_MakeEnvelope({min_lng}, {min_lat}, {max_lng}, {max_lat}, 4326)"
RECORD = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("species", ">i4"), ("l2", ">i4"), ("lat", ">f8"),
                   ("l3", ">i4"), ("lng", ">f8"), ("l4", ">i4"), ("conf", ">f8"), ("l5", ">i4"), ("rec", "V16")])
HEADER, TRAILER = 19, 2


def window_rows(window: Window, bbox: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """The window's observations as a structured array (species, lat, lng, conf, rec)."""
    from psycopg import sql

    values = {"start": sql.Literal(window.start), "end": sql.Literal(window.end),
              "casual": sql.Literal(str(Status.CASUAL)), "table": sql.Identifier(Observation._meta.db_table)}
    box = sql.SQL("")
    if bbox is not None:
        box = sql.SQL(BBOX).format(min_lat=sql.Literal(float(bbox[0])), min_lng=sql.Literal(float(bbox[1])),
                                   max_lat=sql.Literal(float(bbox[2])), max_lng=sql.Literal(float(bbox[3])))
    query = sql.SQL(ROWS_SQL).format(bbox=box, **values)
    connection.ensure_connection()
    buf = bytearray()
    with connection.connection.cursor() as cur:
        with cur.copy(query) as copy:
            for chunk in copy:
                buf += chunk
    body = len(buf) - HEADER - TRAILER
    if body < 0 or body % RECORD.itemsize or not buf.startswith(b"PGCOPY\n\xff\r\n\x00"):
        raise RuntimeError("unexpected COPY output while reading observations")
    rows = np.frombuffer(bytes(buf), dtype=RECORD, offset=HEADER, count=body // RECORD.itemsize)
    if rows.size and not (np.all(rows["nf"] == 5) and np.all(rows["l5"] == 16)):
        raise RuntimeError("unexpected COPY record layout")
    return rows


def grouped_by_cell(window: Window, bbox: tuple[float, float, float, float] | None = None,
                    only: set[str] | None = None) -> dict[str, CellGroups]:
    """Each cell's largest (species, square) groups; optionally inside a (min_lat, min_lng,
    max_lat, max_lng) box and only for some cells."""
    from server.species.models import Species

    rows = window_rows(window, bbox)
    if rows.size == 0:
        return {}
    ids = np.unique(rows["species"]).tolist()
    labels = dict(Species.objects.filter(pk__in=ids).values_list("pk", "label"))
    cells = group_observations(rows["species"].astype(np.int64), rows["lat"].astype(np.float64),
                               rows["lng"].astype(np.float64), rows["conf"].astype(np.float64),
                               np.ascontiguousarray(rows["rec"]).view("V16"), labels, SOURCE_GRID_DEG,
                               cell_of_square)
    if only is not None:
        cells = {c: v for c, v in cells.items() if c in only}
    return cells
