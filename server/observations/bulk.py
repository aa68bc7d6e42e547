"""Observations in bulk, for the apps that aggregate many of them (the soundscapes' spec build).

:func:`window_rows` streams a time window's observations that are not ``casual`` (casual ones have poor
GPS or a doubtful identification), at their *public* position (obscured for sensitive species), as one
numpy structured array. The rows leave PostgreSQL through one binary ``COPY`` (fixed 66-byte records
parsed by numpy, no per-row Python); ``docs/performance.md`` (*Soundscape build*) has the benchmark
that keeps this SQL.
"""
from __future__ import annotations

from datetime import datetime

import numpy as np
from django.db import connection

from .models import Observation, Status

ROWS_SQL = """COPY (
  SELECT o.species_id::int4, ST_Y(o.public_location)::float8, ST_X(o.public_location)::float8,
         coalesce(o.confidence, -1)::float8,
         coalesce(o.recording_id, '00000000-0000-0000-0000-000000000000'::uuid)
  FROM {table} o
  WHERE o.observed_at >= {start} AND o.observed_at < {end} AND o.status <> {casual} {bbox}
) TO STDOUT (FORMAT binary)"""
BBOX = "AND o.public_location && ST_MakeEnvelope({min_lng}, {min_lat}, {max_lng}, {max_lat}, 4326)"
# species, lat, lng, confidence (-1: none), recording id (16 zero bytes: none); the rest is COPY framing
RECORD = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("species", ">i4"), ("l2", ">i4"), ("lat", ">f8"),
                   ("l3", ">i4"), ("lng", ">f8"), ("l4", ">i4"), ("conf", ">f8"), ("l5", ">i4"), ("rec", "V16")])
HEADER, TRAILER = 19, 2


def window_rows(start: datetime, end: datetime,
                bbox: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """The non-casual observations made in [``start``, ``end``), optionally with their public position in a
    (min_lat, min_lng, max_lat, max_lng) box, as a structured array (fields ``species``, ``lat``, ``lng``,
    ``conf``, ``rec``: see :data:`RECORD`)."""
    from psycopg import sql

    values = {"start": sql.Literal(start), "end": sql.Literal(end),
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
