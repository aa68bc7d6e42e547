"""A bounded schemathesis run over the OpenAPI schema, in process against Django's WSGI handler.

Every operation of ``/api/schema/`` gets a few generated requests (valid and invalid data), once
anonymously and once as a signed-in player. Each answer must not be a 5xx, its status must be one
the schema documents for that operation, and its content type one the schema lists. The run uses the
test transaction (rolled back at the end), so it writes nothing that outlives the test.
"""
from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from schemathesis import GenerationMode
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, status_code_conformance

from .conftest import api_token

EXAMPLES_PER_OPERATION = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]


@pytest.fixture
def app():
    """Django's WSGI handler for schemathesis' in-process transport.

    Django's handler closes the database connection after each request unless autocommit is on;
    inside the test transaction that would lose it, so (as Django's test client does) the
    connection-closing signal handlers are detached while the run lasts."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


BOUNDED = settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                   suppress_health_check=list(HealthCheck))


def run_schema(app, auth: Callable[[], dict[str, str]]) -> tuple[list[str], dict[str, set[int]]]:
    """Every operation with a few generated cases: the failures as ``"METHOD /path: message"`` lines,
    and the statuses each operation answered. ``auth()`` gives each case its headers (a fresh token
    each time, since one of the operations is logout).
    (schemathesis' pytest integration does not run under pytest 9, so the operations are driven here
    through their hypothesis strategies.)"""
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app)
    failures: list[str] = []
    statuses: dict[str, set[int]] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50, "the schema lost its operations"
    for operation in operations:
        @BOUNDED
        @given(case=operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE))
        def check(case):
            headers = auth()
            response = case.call(headers=headers)
            statuses.setdefault(case.operation.label, set()).add(response.status_code)
            case.validate_response(response, checks=CHECKS, headers=headers)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected: one run reports every operation
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")
    assert len(statuses) == len(operations), "some operations were never called"
    return failures, statuses


def test_anonymous_requests_follow_the_schema(app, catalogue):
    failures, statuses = run_schema(app, dict)
    assert not failures, "\n\n".join(failures)
    assert statuses["GET /api/v1/auth/me/"] == {401}


def test_player_requests_follow_the_schema(app, catalogue, player):
    failures, statuses = run_schema(app, lambda: {"Authorization": f"Token {api_token(player)}"})
    assert not failures, "\n\n".join(failures)
    assert 200 in statuses["GET /api/v1/auth/me/"]  # the token works: the run is not 401s throughout


def test_schema_documents_errors_and_real_shapes(client, db):
    spec = client.get("/api/schema/?format=json").json()
    schemas, paths = spec["components"]["schemas"], spec["paths"]
    assert schemas["ModelVersion"]["properties"]["parent"]["nullable"] is True
    page = schemas["PaginatedObservationList"]
    assert "features" in page["required"] and "results" not in page["required"] and "results" not in page["properties"]
    export = paths["/api/v1/map/export.{suffix}"]["get"]["responses"]["200"]["content"]
    assert {"text/csv", "application/geo+json", "application/zip"} <= set(export)
    error_ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in paths.items():
        for method, operation in operations.items():
            codes = {c for c in operation["responses"] if c.startswith("4")}
            assert {"400", "401", "403"} <= codes, (method, path)
            for code in codes:
                assert operation["responses"][code]["content"]["application/json"]["schema"] == error_ref
    assert set(schemas["Error"]["properties"]["error"]["required"]) == {"code", "message", "fields"}
