"""Property-based tests (hypothesis) of the query filters and the upload metadata.

Whatever the text (NUL characters, lone surrogates, deep nesting, UTC offsets far beyond ±24 h,
numbers beyond float or 64-bit range, booleans where numbers belong), a parser either returns a
valid value or raises the API's error, and over HTTP the answer is a 4xx in the JSON error
contract or a success, never a 5xx. Example counts and deadlines keep the module well under a minute.
"""
from __future__ import annotations

import json
from datetime import timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from server.common.errors import ApiError, api_exception_handler
from server.maps.filters import parse_map_filters
from server.observations.filters import parse_instant
from server.recordings.views import parse_metadata

from .conftest import metadata, session_token
from .test_api_errors import assert_error

PURE = settings(max_examples=200, deadline=None)
HTTP = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])

# odd UTC offsets: hours far past ±24, minutes past 59, and the extremes of the calendar
offsets = st.builds(lambda sign, h, m: f"{sign}{h:02d}:{m:02d}", st.sampled_from("+-"),
                    st.integers(0, 99), st.integers(0, 99)) | st.sampled_from(["Z", "", "+24:00", "-23:59"])
instants = st.builds(lambda y, mo, d, hh, mm, off: f"{y:04d}-{mo:02d}-{d:02d}T{hh:02d}:{mm:02d}:00{off}",
                     st.integers(1, 9999), st.integers(1, 13), st.integers(1, 32), st.integers(0, 24),
                     st.integers(0, 60), offsets)
hostile_text = st.text(alphabet=st.sampled_from(["\x00", "\ud800", "\udfff", "a", "1", ",", "-", ":", "T", " ",
                                                 "é", "+"]), max_size=30)
url_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)  # what a URL can carry
filter_values = instants | hostile_text | url_text | st.dates().map(str)


def refused_with_contract(exc: Exception) -> None:
    """An exception from a parser must be one the API answers as a 4xx in the error contract."""
    assert isinstance(exc, (ApiError, ValidationError)), repr(exc)
    response = api_exception_handler(exc, {})
    assert 400 <= response.status_code < 500
    assert set(response.data["error"]) == {"code", "message", "fields"}


@PURE
@given(raw=filter_values, end_of_day=st.booleans())
def test_parse_instant_returns_utc_or_invalid_filter(raw, end_of_day):
    try:
        value = parse_instant(raw, "date_from", end_of_day)
    except ApiError as exc:
        assert exc.error_code == "invalid_filter" and exc.status_code == 400
        return
    assert value.tzinfo is not None and value.utcoffset().total_seconds() == 0
    assert "\x00" not in raw


@PURE
@given(params=st.dictionaries(st.sampled_from(["date_from", "date_to", "time_from", "time_to", "grade",
                                               "min_confidence", "type", "source"]), filter_values, max_size=5))
def test_map_filters_parse_or_refuse(params):
    try:
        filters = parse_map_filters(params)
    except ApiError as exc:
        assert exc.error_code == "invalid_filter"
        return
    json.dumps(filters.to_json())  # what export jobs store
    for name in ("date_from", "date_to"):
        value = getattr(filters, name)
        assert value is None or value.utcoffset().total_seconds() == 0


@HTTP
@given(params=st.dictionaries(st.sampled_from(["species", "source", "status", "date_from", "date_to", "bbox"]),
                              filter_values.filter(lambda s: "\ud800" not in s and "\udfff" not in s), max_size=4),
       route=st.sampled_from(["/api/v1/observations/", "/api/v1/map/tiles/3/2/3.mvt", "/api/v1/map/export.csv",
                              "/api/v1/map/species/Puerto Rican Tody/route/"]),
       anonymous=st.booleans())
def test_filtered_routes_never_fail_over_http(researcher_api, client, catalogue, params, route, anonymous):
    response = (client if anonymous else researcher_api).get(route, params)
    if response.status_code >= 400:
        assert_error(response)
    else:
        assert response.status_code == 200


# JSON values as a hostile client might send them: deep, odd strings, odd numbers, booleans
leaves = (st.none() | st.booleans() | st.integers(-(2 ** 70), 2 ** 70) | st.floats(allow_nan=False, allow_infinity=False)
          | hostile_text | st.sampled_from(["1e400", "-1e999", "NaN", "Infinity"]))
json_values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(hostile_text, inner, max_size=3), max_leaves=12)
FIELDS = ["idempotency_key", "recorded_at", "location", "location.lat", "location.lng", "location.accuracy_m",
          "segment.start_s", "segment.end_s", "identification.label", "identification.confidence", "device",
          "device.model", "session_token"]


def with_value(field: str, value) -> dict:
    meta = metadata()
    *parents, leaf = field.split(".")
    target = meta
    for name in parents:
        target = target[name]
    target[leaf] = value
    return meta


def as_text(meta: dict) -> str:
    """JSON text; the sampled strings "1e400", "NaN", ... become bare number literals."""
    text = json.dumps(meta)
    for literal in ("1e400", "-1e999", "NaN", "Infinity"):
        text = text.replace(f'"{literal}"', literal)
    return text


@PURE
@given(field=st.sampled_from(FIELDS), value=json_values, depth=st.sampled_from([0, 0, 0, 40, 5000]))
def test_metadata_parses_or_is_refused_with_a_code(field, value, depth):
    text = as_text(with_value(field, value))
    deep = bool(depth) and '"device": {' in text
    if deep:
        text = text.replace('"device": {', '"device": {"deep": ' + "[" * depth + "]" * depth + ", ", 1)
    try:
        meta = parse_metadata(text)
    except Exception as exc:  # noqa: BLE001 - the property is about which exceptions escape
        refused_with_contract(exc)
        return
    assert not deep
    loc = meta["location"]
    assert all(type(loc[k]) is float for k in ("lat", "lng", "accuracy_m"))
    assert isinstance(meta["idempotency_key"], str) and meta["recorded_at"].tzinfo == timezone.utc
    for key, item in meta["device"].items():
        assert "\x00" not in key and (not isinstance(item, int) or -(2 ** 63) <= item < 2 ** 63)


@HTTP
@given(field=st.sampled_from(FIELDS), value=json_values)
def test_metadata_over_http_is_accepted_or_a_contract_error(api, catalogue, bird_clips, field, value):
    from django.core.files.uploadedfile import SimpleUploadedFile

    meta = {**with_value(field, value), "session_token": session_token(api)}
    upload = SimpleUploadedFile("take.ogg", bird_clips[0].data, content_type="application/octet-stream")
    response = api.post("/api/v1/recordings/", {"audio": upload, "metadata": as_text(meta)}, format="multipart")
    if response.status_code >= 400:
        assert_error(response)
    else:
        assert response.status_code in (200, 201), response.content


@pytest.fixture
def researcher_api(researcher):
    from .conftest import client_for

    return client_for(researcher)

