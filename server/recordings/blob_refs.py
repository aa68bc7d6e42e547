"""Which stored audio files recordings reference, and the lock that keeps that answer true.

Invariant: a stored file under ``audio/`` that a committed ``Recording`` references (one of
:data:`REFERENCING_FIELDS`) is never deleted. Content addressing lets several rows share one file,
so writers and deleters of one path serialise on a transaction-level PostgreSQL advisory lock
keyed by that path:

* a writer takes the lock (in the statement that inserts or points its row at the path), writes
  the file and commits, holding the lock throughout;
* a deleter takes the lock, checks that no committed row references the path, unlinks it, and
  only then commits.

So a deleter either sees the writer's committed row, or deletes before the writer writes (and the
writer then writes the file again).
"""
from __future__ import annotations

import hashlib

from django.db import connection, transaction
from django.db.models import Q

from . import storage
from .models import Recording

LOCK_NAMESPACE = 0x626C6F62   # "blob": first key of the two-int4 advisory-lock key space
REFERENCING_FIELDS = ("audio_path",)   # every Recording field that holds a stored name under audio/


def lock_key(rel: str) -> tuple[int, int]:
    """The (namespace, key) pair of ``rel``'s advisory lock; different paths may share a key (harmless)."""
    return LOCK_NAMESPACE, int.from_bytes(hashlib.sha256(rel.encode()).digest()[:4], "big", signed=True)


def lock(rel: str) -> None:
    """Take ``rel``'s lock until the current transaction ends (call inside ``transaction.atomic``)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", list(lock_key(rel)))


def try_lock(rel: str) -> bool:
    """Take ``rel``'s lock until the current transaction ends, unless another transaction holds it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", list(lock_key(rel)))
        return bool(cursor.fetchone()[0])


def _references(paths) -> Q:
    query = Q()
    for name in REFERENCING_FIELDS:
        query |= Q(**{f"{name}__in": list(paths)})
    return query


def referenced(paths: list[str]) -> set[str]:
    """The members of ``paths`` that a committed recording (or this transaction) references."""
    if not paths:
        return set()
    found: set[str] = set()
    for row in Recording.objects.filter(_references(paths)).values_list(*REFERENCING_FIELDS):
        found.update(row)
    return found & set(paths)


def discard_unreferenced(rel: str) -> bool:
    """Delete ``rel`` unless a committed recording references it; True when it was deleted.

    Runs its own transaction (call it outside any other): a rolled-back writer's file goes, a
    file another committed row shares stays.
    """
    with transaction.atomic():
        lock(rel)
        if referenced([rel]):
            return False
        storage.delete_blob(rel)
        return True
