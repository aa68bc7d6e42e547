"""Run Django migrations forward or back inside a test, through the migration executor."""
from __future__ import annotations

from collections.abc import Iterator

from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets: list[tuple[str, str]]) -> Apps:
    """Migrate to ``targets``; the apps registry of that state (historical models)."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


def state_at(targets: list[tuple[str, str]]) -> Iterator[Apps]:
    """For a fixture (``yield from``): the apps registry at ``targets``; afterwards the database is migrated
    back to the latest state, so later tests see the current schema."""
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    yield migrate(targets)
    migrate(latest)
