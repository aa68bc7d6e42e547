"""A model's table as a relation for SQL written in another app: a projection built from the model's metadata.

An app publishes the columns other apps' SQL may read (its ``sql_relations`` module); :func:`projection_sql`
turns them into a parenthesised ``SELECT``, each column under the field's attribute name, for
``FROM {relation} alias``. A plain projection (no join, aggregate or ``LIMIT``) is pulled up by PostgreSQL into
the outer query and planned as the table itself.
"""
from __future__ import annotations

from django.db import models


def _column(model: type[models.Model], attname: str) -> str:
    """``column`` or ``column AS attname`` for ``model``'s concrete field with attribute name ``attname``."""
    field = next((f for f in model._meta.concrete_fields if f.attname == attname), None)
    if field is None:
        raise ValueError(f"{model.__name__} has no column with attribute name {attname!r}")
    return field.column if field.column == attname else f"{field.column} AS {attname}"


def projection_sql(model: type[models.Model], attnames: tuple[str, ...]) -> str:
    """``(SELECT <columns> FROM <table>)`` for ``model``: the fields named by ``attnames`` (attribute names,
    foreign keys as ``<field>_id``), in that order; ``ValueError`` for a name the model lacks."""
    return f"(SELECT {', '.join(_column(model, name) for name in attnames)} FROM {model._meta.db_table})"
