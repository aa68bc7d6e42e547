"""The map filters' digest (ETags, tile cache keys) and JSON form (export jobs)."""
from __future__ import annotations

from dataclasses import fields, replace
from datetime import datetime, time, timezone

from server.maps.filters import MapFilters, parse_map_filters

FULL = MapFilters(species_ids=(3, 7), date_from=datetime(2021, 4, 1, tzinfo=timezone.utc),
                  date_to=datetime(2021, 4, 30, 23, 59, 59, 999999, tzinfo=timezone.utc),
                  time_from=time(5, 30), time_to=time(9, 0), grades=("needs_id", "research"),
                  min_confidence=0.6, sound_types=("call", "song"), sources=("app",),
                  ratings=("A", "B"))
OTHER = {"species_ids": (3,), "date_from": datetime(2021, 4, 2, tzinfo=timezone.utc),
         "date_to": datetime(2021, 4, 29, tzinfo=timezone.utc), "time_from": time(5, 31), "time_to": time(9, 1),
         "grades": ("research",), "min_confidence": 0.61, "sound_types": ("song",), "sources": ("xeno-canto",),
         "ratings": ("A",)}


def test_every_filter_field_changes_the_digest():
    """Two different filters must never share an ETag or a cached tile."""
    assert {f.name for f in fields(MapFilters)} == set(OTHER)
    digests = {FULL.canonical()} | {replace(FULL, **{name: value}).canonical() for name, value in OTHER.items()}
    digests.add(MapFilters().canonical())
    assert len(digests) == len(OTHER) + 2


def test_the_digest_does_not_depend_on_how_the_query_spells_the_same_filters():
    a = parse_map_filters({"grade": "research,needs_id", "type": "Song,call", "date_from": "2021-04-01"})
    b = parse_map_filters({"type": "call,song", "date_from": "2021-04-01T00:00:00Z", "grade": "needs_id,research"})
    assert a.canonical() == b.canonical()
    assert a.canonical() != parse_map_filters({"grade": "research"}).canonical()


def test_json_form_round_trips_every_field():
    assert MapFilters.from_json(FULL.to_json()) == FULL
    assert MapFilters.from_json(MapFilters().to_json()) == MapFilters()
