"""Insert a model row unless one of its unique constraints already holds its key (the ORM's form of
``INSERT … ON CONFLICT DO NOTHING`` for one row)."""
from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Model


def insert_once(row: Model, constraint: str) -> bool:
    """Insert ``row`` in a savepoint; False (nothing written, the transaction usable) when the unique
    ``constraint`` refused it because a row with its key exists, committed or being committed by a concurrent
    transaction (the insert waits for that one). Any other integrity error propagates."""
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError as exc:
        if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) != constraint:
            raise
        return False
    return True
