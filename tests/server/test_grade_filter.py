"""One name for the quality-grade filter: ``grade=`` everywhere; the observation list's old ``status=``
works for one release as a deprecated alias (same results, ``Deprecation: true``, marked in the schema)."""
from __future__ import annotations

import pytest

from server.observations.demo_import import FIXTURE_OBSERVATIONS, import_observations
from server.observations.models import Observation, Status

from .conftest import client_for

pytestmark = pytest.mark.django_db
LIST = "/api/v1/observations/"


@pytest.fixture
def graded(catalogue):
    """The demo observations with three grades: 20 casual, 30 needs_id, the rest research."""
    import_observations(FIXTURE_OBSERVATIONS)
    Observation.objects.update(status=Status.RESEARCH)   # the import grades soundscapes and unknowns otherwise
    ids = list(Observation.objects.order_by("id").values_list("id", flat=True))
    Observation.objects.filter(id__in=ids[:20]).update(status=Status.CASUAL)
    Observation.objects.filter(id__in=ids[20:50]).update(status=Status.NEEDS_ID)
    return ids


def ids_for(client, query: str) -> list[int]:
    found, url = [], f"{LIST}?{query}&page_size=1000"
    while url:
        body = client.get(url).json()
        found += [f["id"] for f in body["features"]]
        url = body["next"]
    return sorted(found)


@pytest.mark.parametrize("grades, expected", [("casual", 20), ("needs_id", 30), ("casual,needs_id", 50),
                                              ("research", 420)])
def test_grade_and_its_deprecated_alias_status_give_the_same_results(graded, grades, expected):
    client = client_for(None)
    by_grade = ids_for(client, f"grade={grades}")
    assert len(by_grade) == expected
    assert by_grade == sorted(Observation.objects.filter(status__in=grades.split(",")).values_list("id", flat=True))
    assert ids_for(client, f"status={grades}") == by_grade
    assert ids_for(client, f"grade={grades}&status={','.join(reversed(grades.split(',')))}") == by_grade


@pytest.mark.parametrize("query", ["grade=casual&status=research", "grade=casual&status=casual,needs_id",
                                   "grade=legendary", "status=legendary", "grade=research&status=legendary"])
def test_conflicting_or_unknown_grades_are_invalid_filter(db, query):   # refused before any row is read
    response = client_for(None).get(f"{LIST}?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_filter"
    assert "Deprecation" not in response


def test_the_deprecation_header_appears_only_for_status(db):
    client = client_for(None)
    assert client.get(f"{LIST}?status=casual")["Deprecation"] == "true"
    assert client.get(f"{LIST}?grade=casual&status=casual")["Deprecation"] == "true"
    for query in ("grade=casual", "", "source=xeno-canto"):
        response = client.get(f"{LIST}?{query}")
        assert response.status_code == 200 and "Deprecation" not in response, query


def test_the_schema_names_grade_and_marks_status_deprecated(db):
    schema = client_for(None).get("/api/schema/?format=json").json()
    operation = schema["paths"][LIST]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert "grade" in params and not params["grade"].get("deprecated")
    assert params["status"]["deprecated"] is True and "grade" in params["status"]["description"]
    assert "Deprecation" in operation["responses"]["200"]["headers"]


def test_the_map_filters_by_grade_with_the_same_parser(db):
    client = client_for(None)
    bad = client.get("/api/v1/map/tiles/3/2/3.mvt?grade=legendary")
    assert bad.status_code == 400 and bad.json()["error"] == {
        "code": "invalid_filter", "message": "grade: unknown grade 'legendary'; use casual, needs_id, research.",
        "fields": {"grade": "legendary"}}
    listed = client.get(f"{LIST}?grade=legendary").json()["error"]
    assert (listed["message"], listed["fields"]) == (bad.json()["error"]["message"], {"grade": "legendary"})
