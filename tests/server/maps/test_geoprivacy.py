"""A player can never obtain the true coordinates of an obscured observation, through any endpoint.

The observation is a sensitive species (Puerto Rican Amazon). Every endpoint that shows positions is
asked by a player who does not own it; no number pair in any answer may lie near the true point.
A researcher, asked the same, does see the true point (so the probe can detect it).
"""
from __future__ import annotations

import csv
import io
import json
import re
import zipfile

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from server.asgi import application
from server.maps import live
from server.maps.tilemath import POINT_ZOOM, lnglat_to_tile

from ..conftest import api_token, client_for, ws_subprotocols
from .mvt import decode, tile_to_lnglat

pytestmark = pytest.mark.django_db(transaction=True)
TRUE_LNG, TRUE_LAT = -65.79071, 18.31234
NEAR = 0.002  # degrees; the obscuring cell is 0.2°


def numbers(text: str) -> list[float]:
    return [float(m) for m in re.findall(r"-?\d+\.\d+", text)]


def reveals_truth(values: list[float]) -> bool:
    """Does any number look like the true longitude while another looks like the true latitude?"""
    lng_hit = any(abs(v - TRUE_LNG) < NEAR for v in values)
    lat_hit = any(abs(v - TRUE_LAT) < NEAR for v in values)
    return lng_hit and lat_hit


def tile_points(client, lng: float, lat: float) -> list[tuple[float, float]]:
    t = lnglat_to_tile(lng, lat, POINT_ZOOM + 2)
    layers = decode(client.get(f"/api/v1/map/tiles/{t.z}/{t.x}/{t.y}.mvt").content)
    return [tile_to_lnglat(t.z, t.x, t.y, *f["points"][0]) for f in layers.get("points", [])]


def cluster_points(client) -> list[tuple[float, float]]:
    out = []
    for z in range(0, POINT_ZOOM):
        t = lnglat_to_tile(TRUE_LNG, TRUE_LAT, z)
        layers = decode(client.get(f"/api/v1/map/tiles/{t.z}/{t.x}/{t.y}.mvt").content)
        out += [tile_to_lnglat(t.z, t.x, t.y, *f["points"][0]) for f in layers.get("clusters", [])]
    return out


def everything_visible_to(client, obs, token: str | None) -> dict[str, list[float]]:
    """Every coordinate-bearing answer, as lists of numbers, keyed by endpoint."""
    found: dict[str, list[float]] = {}
    pub = obs.public_location
    found["tiles (points, true tile)"] = [c for p in tile_points(client, TRUE_LNG, TRUE_LAT) for c in p]
    found["tiles (points, public tile)"] = [c for p in tile_points(client, pub.x, pub.y) for c in p]
    found["tiles (clusters)"] = [c for p in cluster_points(client) for c in p]
    found["geojson list"] = numbers(client.get("/api/v1/observations/?bbox=-67.5,17.8,-65.2,18.6").content.decode())
    found["geojson detail"] = numbers(client.get(f"/api/v1/observations/{obs.pk}/").content.decode())
    found["map detail"] = numbers(client.get(f"/api/v1/map/observations/{obs.pk}/").content.decode())
    found["route"] = numbers(client.get("/api/v1/map/species/Puerto Rican Amazon/route/").content.decode())
    found["export csv"] = numbers(client.get("/api/v1/map/export.csv").content.decode())
    found["export geojson"] = numbers(client.get("/api/v1/map/export.geojson").content.decode())
    dwca = client.get("/api/v1/map/export.zip")
    if dwca.status_code == 200:
        with zipfile.ZipFile(io.BytesIO(dwca.content)) as zf:
            found["export dwca"] = numbers(zf.read("occurrence.txt").decode() + zf.read("eml.xml").decode())
    soundscape = client.get(f"/api/v1/soundscapes/?lat={TRUE_LAT}&lng={TRUE_LNG}&radius=5000")
    if soundscape.status_code == 200:  # served once the soundscape app exists
        found["soundscape"] = numbers(soundscape.content.decode())
    found["websocket"] = websocket_numbers(obs, token)
    return found


def websocket_numbers(obs, token: str | None) -> list[float]:
    async def scenario() -> list[float]:
        comm = WebsocketCommunicator(application, "/ws/map/", headers=[(b"origin", b"http://127.0.0.1")],
                                     subprotocols=ws_subprotocols(token) if token else None)
        assert (await comm.connect())[0]
        await comm.receive_json_from()
        await comm.send_json_to({"type": "subscribe", "bbox": [-67.5, 17.8, -65.2, 18.6]})
        assert (await comm.receive_json_from(timeout=5))["type"] == "subscribed"
        from channels.db import database_sync_to_async
        await database_sync_to_async(live.publish)(obs, "observation.created")
        if await comm.receive_nothing(timeout=1):  # obscured: only researchers and the owner get pushes
            await comm.disconnect()
            return []
        message = await comm.receive_json_from(timeout=5)
        await comm.disconnect()
        assert message["type"] == "observation.created"
        return numbers(json.dumps(message))

    return async_to_sync(scenario)()


def test_player_never_sees_true_coordinates_anywhere(make_obs, player, other_player, researcher):
    obs = make_obs("Puerto Rican Amazon", TRUE_LNG, TRUE_LAT, observer=other_player, locality="Secret roost")
    assert obs.obscured and abs(obs.public_location.x - TRUE_LNG) > NEAR * 2
    assert abs(obs.public_location.y - TRUE_LAT) > NEAR * 2  # this seed's obscured point is far enough to tell
    leaks = {name: True for name, values in
             everything_visible_to(client_for(player), obs, api_token(player)).items()
             if reveals_truth(values)}
    assert leaks == {}
    anon = everything_visible_to(client_for(None), obs, None)
    assert not any(reveals_truth(v) for v in anon.values())
    assert b"Secret roost" not in client_for(player).get(f"/api/v1/map/observations/{obs.pk}/").content


def test_researcher_and_owner_see_the_true_point_in_detail_tiles_and_websocket(make_obs, other_player, researcher):
    obs = make_obs("Puerto Rican Amazon", TRUE_LNG, TRUE_LAT, observer=other_player)
    for user in (researcher, other_player):
        client = client_for(user)
        detail = client.get(f"/api/v1/map/observations/{obs.pk}/").json()
        assert detail["geometry"]["coordinates"] == pytest.approx([TRUE_LNG, TRUE_LAT])
        assert any(abs(x - TRUE_LNG) < 1e-4 and abs(y - TRUE_LAT) < 1e-4
                   for x, y in tile_points(client, TRUE_LNG, TRUE_LAT))
        assert reveals_truth(websocket_numbers(obs, api_token(user)))


def test_exports_hold_generalised_coordinates_even_for_researchers(make_obs, researcher):
    obs = make_obs("Puerto Rican Amazon", TRUE_LNG, TRUE_LAT)
    rows = list(csv.DictReader(io.StringIO(client_for(researcher).get("/api/v1/map/export.csv").content.decode())))
    (row,) = [r for r in rows if r["occurrenceID"] == f"dawnchorus:obs:{obs.pk}"]
    assert float(row["decimalLongitude"]) == pytest.approx(obs.public_location.x, abs=1e-5)
    assert row["dataGeneralizations"] and row["informationWithheld"] and row["locality"] == ""
