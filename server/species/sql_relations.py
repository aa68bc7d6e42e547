"""The species catalogue as other apps' SQL may read it, built from the model's metadata.

:func:`species_rows` is a parenthesised ``SELECT`` of :data:`READ_COLUMNS` for ``JOIN {species_rows()} s``;
a plain projection, which PostgreSQL pulls up into the outer query (the same plan as the table). SQL whose text
is frozen in a migration (the map summary's refresh function joins the labels) names the table through
:func:`species_table`, which gives the very name that text holds.
"""
from __future__ import annotations

from functools import cache

from .models import Species

# The columns other apps' SQL may read, by the model's attribute names.
READ_COLUMNS = ("id", "label", "scientific_name", "sensitive")


def species_table() -> str:
    """The catalogue table's name, for SQL that must name the table itself; a read goes through
    :func:`species_rows`."""
    return Species._meta.db_table


def _column(attname: str) -> str:
    field = next(f for f in Species._meta.concrete_fields if f.attname == attname)
    return field.column if field.column == attname else f"{field.column} AS {attname}"


@cache
def species_rows() -> str:
    """Every species as a parenthesised ``SELECT`` of :data:`READ_COLUMNS`, for ``JOIN {species_rows()} alias``;
    built once per process."""
    return f"(SELECT {', '.join(map(_column, READ_COLUMNS))} FROM {species_table()})"
