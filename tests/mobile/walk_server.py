"""The API answers the UI walk needs once it goes online, in the server's shapes (see the views named
per route): observations around the player (one obscured as its cell), a quest area, an observation's
detail with its public clip, the soundscape spec and a day's mix, the identification queue with
identifications and quality votes that add XP to the profile, and the player's recordings."""
from __future__ import annotations

import json
from pathlib import Path

from tests.mobile.fakeserver import FakeServer

ROOT = Path(__file__).resolve().parents[2]
CLIP = (ROOT / "fixtures/audio/XC173620_adelaides_warbler_24k.wav").read_bytes()
CLIP_PLAYS: list[str] = []  # paths of clips served (public clips, mixes, identification audio)


def fake_api(lat: float, lng: float) -> FakeServer:
    server = FakeServer()
    state = {"xp": 340}
    url = server.url

    def clip(h):
        CLIP_PLAYS.append(h.path)
        return 200, CLIP, {"Content-Type": "audio/wav"}

    def point(i, dlat, dlng, species, recordist="", cell=None):
        props = {"id": i, "species": species, "recordist": recordist}
        if cell:
            props["cell"] = cell
        return {"type": "Feature", "id": i, "geometry": {"type": "Point", "coordinates": [lng + dlng, lat + dlat]},
                "properties": props}

    observations = {"type": "FeatureCollection", "features": [  # server/observations/views.py (GeoJSON)
        point(7, 0.004, 0.003, "Bananaquit"), point(8, -0.003, -0.004, "Adelaide's Warbler", "robin"),
        point(9, 0.006, -0.006, "Puerto Rican Tody"),
        point(10, 0.1, 0.1, "Puerto Rican Parrot", cell=[lng - 0.1, lat - 0.1, lng + 0.1, lat + 0.1])]}
    area = {"type": "MultiPolygon", "coordinates": [[[[lng - 0.01, lat - 0.008], [lng + 0.012, lat - 0.008],
                                                      [lng + 0.012, lat + 0.01], [lng - 0.01, lat + 0.01],
                                                      [lng - 0.01, lat - 0.008]]]]}
    quests = [{"id": 1, "title": "Dawn chorus week", "target_count": 10, "area": json.dumps(area),
               "progress": {"count": 6, "completed": False}}]
    detail = {  # server/maps/detail.py observation_detail
        "id": 7, "species": {"label": "Bananaquit", "common_name": "Bananaquit", "scientific_name": "Coereba flaveola",
                             "sensitive": False},
        "geometry": {"type": "Point", "coordinates": [lng + 0.003, lat + 0.004]}, "cell": None, "obscured": False,
        "locality": "El Yunque", "observed_at": "2026-12-05T10:31:00Z", "date_precision": "second",
        "grade": "research", "confidence": 0.91, "recordist": "coqui_fan", "audio_url": f"{url}/clips/abc.ogg"}
    spec = {"window": "2026-12-05", "radius_m": 500,  # server/soundscapes/views.py SoundscapeView
            "cells": [{"cell": "882a100d2dfffff", "etag": "e", "sources": []}]}
    queue = {"results": [  # server/game/views/community.py IdentifyQueueView
        {"observation": 41, "species": "Bananaquit", "status": "needs_id", "obscured": False, "lat": lat + 0.01,
         "lng": lng, "observed_at": "2026-12-04T09:00:00Z", "audio_url": f"{url}/api/v1/game/identify/41/audio/"},
        {"observation": 42, "species": "Puerto Rican Tody", "status": "needs_id", "obscured": False,
         "lat": lat, "lng": lng + 0.01, "observed_at": "2026-12-03T08:00:00Z",
         "audio_url": f"{url}/api/v1/game/identify/42/audio/"}]}

    def profile(_h):
        return 200, {"player": 1, "name": "robin", "xp": state["xp"], "level": 3, "title": "Song Sleuth",
                     "next_level_xp": 600, "unlocked_scenarios": ["quiz", "hunt", "timetravel"], "team": None,
                     "badges": [], "streaks": {"daily_recording": 4}}

    def earn(points, body):
        def handler(_h):
            state["xp"] += points
            return 201, body
        return handler

    grade = {"status": "needs_id", "community_taxon": None, "agreeing": 1, "identifications": 1}
    server.routes.update({
        ("GET", "/api/v1/observations/"): lambda h: (200, observations),
        ("GET", "/api/v1/game/quests/"): lambda h: (200, quests),
        ("GET", "/api/v1/map/observations/7/"): lambda h: (200, detail),
        ("GET", "/clips/abc.ogg"): clip,
        ("GET", "/api/v1/soundscapes/"): lambda h: (200, spec),
        ("GET", "/api/v1/soundscapes/cells/882a100d2dfffff/mix/"): clip,
        ("GET", "/api/v1/game/identify/"): lambda h: (200, queue),
        ("GET", "/api/v1/game/identify/41/audio/"): clip,
        ("POST", "/api/v1/observations/41/identifications/"): earn(10, {"id": 1, "species": "Bananaquit",
                                                                         "kind": "agree", "grade": grade}),
        ("POST", "/api/v1/observations/41/quality/"): earn(2, {"grade": grade}),
        ("GET", "/api/v1/game/profile/"): profile,
        ("GET", "/api/v1/recordings/"): lambda h: (200, {"count": 0, "next": None, "results": []}),
    })
    return server
