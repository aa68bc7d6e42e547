"""Model instances from raw SQL rows (the award path reads several tables in one query)."""
from __future__ import annotations

from django.db import connection
from django.db.models import Model


def from_row(model: type[Model], values: dict) -> Model:
    """An instance of ``model`` as if loaded from the database; fields not in ``values`` load on access."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(connection.alias, names, [values[n] for n in names])
