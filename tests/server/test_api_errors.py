"""Hostile input under /api/: a 4xx with the JSON error contract, never a 500 or an HTML page.

Each case reproduces one of issue 24's 500s or non-JSON errors (finding 4) and the type
confusions of finding 10. Django's test client re-raises an uncaught view exception, so on the
code before the fixes these tests fail with the exception itself.
"""
from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from server.recordings.models import Recording

from .conftest import client_for, metadata, session_token, submit

DATE_ROUTES = [
    "/api/v1/observations/",
    "/api/v1/map/tiles/3/2/3.mvt",
    "/api/v1/map/export.csv",
    "/api/v1/map/species/Puerto Rican Tody/abundance/",
    "/api/v1/map/species/Puerto Rican Tody/route/",
]


def assert_error(response, status: int | None = None, code: str | None = None) -> dict:
    """The JSON error contract: 4xx, application/json, ``{"error": {"code", "message", "fields"}}``."""
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    if status is not None:
        assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    error = json.loads(response.content)["error"]
    assert set(error) == {"code", "message", "fields"}
    if code is not None:
        assert error["code"] == code, error
    return error


@pytest.fixture
def researcher_api(researcher):
    return client_for(researcher)


@pytest.mark.parametrize("query", [
    "date_from=2020-01-01T00:00:00%2B99:00", "date_to=2020-01-01T00:00:00%2B99:00",
    "date_from=0001-01-01T00:00:00%2B23:00", "date_to=9999-12-31T23:59:59-23:00", "date_from=2020-02-30",
    "date_to=9999-12-31", "date_from=0001-01-01",
])
def test_observation_filters_refuse_odd_offsets(api, client, catalogue, query):
    assert_error(api.get(f"/api/v1/observations/?{query}"), 400, "invalid_filter")
    assert_error(client.get(f"/api/v1/observations/?{query}"), 400, "invalid_filter")  # coarse dates: anonymous


@pytest.mark.parametrize("route", DATE_ROUTES)
@pytest.mark.parametrize("query", ["date_from=2020-01-01T00:00:00%2B99:00", "date_to=2020-01-01T00:00:00-99:00"])
def test_map_filters_refuse_odd_offsets(researcher_api, catalogue, route, query):
    assert_error(researcher_api.get(f"{route}?{query}"), 400, "invalid_filter")


@pytest.mark.parametrize("url", [
    *[f"{route}?species=a%00b" for route in DATE_ROUTES], "/api/v1/observations/?source=a%00b",
    "/api/v1/observations/?status=a%00b", "/api/v1/recordings/?status=%00", "/api/v1/map/export.csv?type=%00",
    "/api/v1/map/species/a%00b/route/", "/api/v1/game/timetravel/%00/", "/api/v1/game/leaderboards/%00/",
])
def test_nul_anywhere_in_an_api_url_is_refused(researcher_api, catalogue, url):
    assert_error(researcher_api.get(url), 400, "malformed_request")


def test_query_string_over_the_limit_is_a_json_414(api, catalogue):
    from server.common.api_json_errors import MAX_QUERY_CHARS

    assert_error(api.get("/api/v1/observations/?species=" + "a" * MAX_QUERY_CHARS), 414, "query_too_long")
    assert api.get("/api/v1/observations/?species=" + "a" * 4000).status_code == 200


def test_path_parameters_out_of_range(researcher_api, catalogue):
    assert_error(researcher_api.get("/api/v1/soundscapes/cells/-1/"), 400, "invalid_cell")
    assert_error(researcher_api.get("/api/v1/soundscapes/cells/-1/mix/"), 400, "invalid_cell")
    assert_error(researcher_api.get("/api/v1/soundscapes/cells/" + "8" * 3000 + "/"), 400, "invalid_cell")


def test_lookups_refuse_nul_before_the_database(catalogue):
    """The lookups that take text from a URL, called directly (the URL guard answers first over HTTP)."""
    from server.common.errors import ApiError
    from server.game.views.common import species_or_400
    from server.maps.species_views import species_or_404

    with pytest.raises(ApiError) as exc:
        species_or_404("a\x00b")
    assert exc.value.error_code == "unknown_species"
    with pytest.raises(ApiError) as exc:
        species_or_400("\ud800")
    assert exc.value.error_code == "unknown_species"


def test_unknown_api_path_is_a_json_404(api, settings):
    assert_error(api.get("/api/v1/no-such-thing/"), 404, "not_found")
    assert_error(api.get("/api/no-such-thing"), 404, "not_found")


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("path", ["/api/v1/auth/login/", "/api/v1/auth/register/"])
@pytest.mark.parametrize("depth", [100_000, 200])
def test_deep_json_is_refused_before_any_view_logic(client, db, path, depth):
    response = client.post(path, '{"username": ' + deep(depth) + "}", content_type="application/json")
    assert_error(response, 400, "malformed_request")


@pytest.mark.parametrize("body", ['{"username": "a\\u0000b", "password": "x"}',
                                  '{"username": "\\ud800", "password": "x"}',
                                  '{"username\\u0000": "a", "password": "x"}',
                                  '{"username": "a", "password": "x", "n": 1e400}'])
def test_json_body_with_nul_surrogate_or_infinite_number(client, db, body):
    assert_error(client.post("/api/v1/auth/register/", body, content_type="application/json"),
                 400, "malformed_request")


def raw_submit(client, meta: dict, audio: bytes, replace: tuple[str, str] = ("", "")):
    """Submit ``meta`` (with a fresh session token) as JSON text, with ``replace`` applied to the text."""
    text = json.dumps({**meta, "session_token": session_token(client)})
    upload = SimpleUploadedFile("take.ogg", audio, content_type="application/octet-stream")
    return client.post("/api/v1/recordings/", {"audio": upload, "metadata": text.replace(*replace)},
                       format="multipart")


@pytest.mark.parametrize("change", [
    {"device": {"model": "Pixel\x008"}},
    {"device": {"mo\x00del": "Pixel 8"}},
    {"device": {"model": "\ud800"}},
    {"idempotency_key": "key-\x00-000001"},
])
def test_metadata_strings_with_nul_or_surrogates(api, catalogue, bird_clips, change):
    response = raw_submit(api, metadata(**change), bird_clips[0].data)
    assert_error(response, 400, "invalid_metadata")
    assert not Recording.objects.exists()


def test_deeply_nested_metadata(api, catalogue, bird_clips):
    response = raw_submit(api, metadata(device={}), bird_clips[0].data, ('"device": {}', '"device": ' + deep(100_000)))
    assert_error(response, 400, "invalid_metadata")
    assert not Recording.objects.exists()


def test_metadata_field_over_the_form_limit_is_a_json_413(api, catalogue, bird_clips):
    meta = metadata(device={"model": "x" * (1024 * 1024 + 10)})
    assert_error(raw_submit(api, meta, bird_clips[0].data), 413, "request_too_large")
    assert not Recording.objects.exists()


@pytest.mark.parametrize(("change", "code"), [
    ({"location": {"lat": True, "lng": -65.78, "accuracy_m": 8}}, "invalid_coordinates"),
    ({"location": {"lat": 18.3, "lng": False, "accuracy_m": 8}}, "invalid_coordinates"),
    ({"location": {"lat": "18.3", "lng": -65.78, "accuracy_m": 8}}, "invalid_coordinates"),
    ({"location": {"lat": 18.3, "lng": -65.78, "accuracy_m": True}}, "invalid_accuracy"),
    ({"segment": {"start_s": False, "end_s": 3.0}}, "invalid_segment"),
    ({"idempotency_key": 1234567890123}, "invalid_metadata"),
    ({"device": {"n": 10 ** 400}}, "invalid_metadata"),
    ({"device": {"n": 2 ** 63}}, "invalid_metadata"),
    ({"device": {"n": [1, 2]}}, "invalid_device"),
    ({"identification": {"label": 7, "confidence": 0.5, "model_version": "x"}}, "invalid_metadata"),
    ({"identification": {"label": "unknown", "confidence": True, "model_version": "x"}}, "invalid_metadata"),
])
def test_metadata_types_are_strict(api, catalogue, bird_clips, change, code):
    meta = metadata(**change)
    assert_error(submit(api, bird_clips[0].data, meta), 400, code)
    assert not Recording.objects.exists()


def test_metadata_huge_float_literal(api, catalogue, bird_clips):
    response = raw_submit(api, metadata(device={"n": 1.5}), bird_clips[0].data, ("1.5", "1e400"))
    assert_error(response, 400, "invalid_metadata")
    assert response.json()["error"]["fields"] == {"metadata.device.n": "number out of range"}


def test_valid_metadata_still_accepted(api, catalogue, bird_clips):
    meta = metadata(device={"model": "Pixel 8", "api": 34, "charging": True, "temp_c": 31.5})
    response = submit(api, bird_clips[0].data, meta)
    assert response.status_code == 201, response.content
    assert Recording.objects.get().device_info == {"model": "Pixel 8", "api": 34, "charging": True, "temp_c": 31.5}


@pytest.fixture
def debug_on(settings):
    """Django's debug mode as a developer turns it on (pytest-django turns it off for tests)."""
    settings.DEBUG = True


def test_debug_mode_404_under_api_is_json(api, debug_on):
    error = assert_error(api.get("/api/v1/no-such-thing/"), 404, "not_found")
    assert "urlpatterns" not in json.dumps(error) and "api/v1/" not in error["message"]


def test_uncaught_exception_under_api_is_a_bare_json_500(researcher, debug_on, monkeypatch):
    import server.soundscapes.views as views

    def explode(cell):
        raise RuntimeError("secret detail: postgres://postgres@127.0.0.1/dawnchorus")

    monkeypatch.setattr(views, "is_soundscape_cell", explode)
    client = client_for(researcher)
    client.raise_request_exception = False
    response = client.get("/api/v1/soundscapes/cells/882a1072b5fffff/")
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    assert response.json() == {"error": {"code": "server_error", "message": "Something went wrong on our side.",
                                         "fields": {}}}



def test_federated_update_parser_is_strict_too(api):
    response = api.post("/api/v1/fl/updates", '{"round": ' + deep(100_000) + "}", content_type="application/json")
    assert_error(response, 400, "malformed_request")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/ws/v1/events/", "/ws/map/"])
def test_websocket_deep_json_is_answered_and_the_socket_stays_open(path):
    from asgiref.sync import async_to_sync
    from channels.testing import WebsocketCommunicator

    from server.asgi import application

    async def scenario():
        comm = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://127.0.0.1")])
        connected, _ = await comm.connect()
        assert connected
        await comm.receive_json_from()  # the hello
        await comm.send_to(text_data=deep(100_000))
        refused = await comm.receive_json_from(timeout=5)
        assert refused["error"]["code"] in {"unsupported_message", "invalid_message"}
        await comm.send_json_to({"type": "ping"})
        assert (await comm.receive_json_from(timeout=5))["type"] == "pong"
        await comm.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize(("body", "code"), [
    ({"lat": True, "lng": -65.78, "species": "Bananaquit"}, "invalid_coordinates"),
    ({"lat": "18.3", "lng": -65.78, "species": "Bananaquit"}, "invalid_coordinates"),
    ({"lat": 18.3, "lng": -65.78, "accuracy_m": True, "species": "Bananaquit"}, "invalid_accuracy"),
])
def test_game_positions_are_json_numbers(researcher_api, catalogue, body, code):
    assert_error(researcher_api.post("/api/v1/game/adoptions/", body, format="json"), 400, code)
