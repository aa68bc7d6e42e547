"""Every output a player or an anonymous visitor can reach keeps obscured observations obscured.

The scene: a sensitive observation recorded in the app (Yellow-shouldered Blackbird, with a
recording), the same player's ordinary observation 30 m away at the same second (saved *before*
it: the linkage rule obscures it afterwards), a sensitive xeno-canto import whose source page
shows exact coordinates, and the same recordist's ordinary import at the same second (saved
*after* it). Each has a known true point and a known time.

As an anonymous visitor and as a level-8 player who owns none of them, the test walks every
endpoint and websocket message that shows observations: the GeoJSON list and detail, the map's
detail, vector tiles (clusters and points, through Django's view and through the public fast
path, decoded back to lng/lat), species routes, abundance, frequency, grid and Time travel preview, the
obscured cells, the CSV, GeoJSON and DwC-A
exports, soundscape specs, the quiz, the treasure hunt, time travel, adoption, the
identification queue, and both live feeds (``/ws/map/`` and ``/ws/v1/events/``). No answer may
hold a true point (a longitude and a latitude near it, in any number formatting), the time of
day, the recordist or the xeno-canto page. Then the adoption and the quiz's "nearby" choice are
used as oracles in a bounded binary search: they locate the published point, never the bird.
"""
from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import re
import secrets
import uuid
import zipfile
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.gis.geos import Point
from rest_framework.throttling import ScopedRateThrottle

from server.accounts.models import Role
from server.asgi import application
from server.game.geo import haversine_m
from server.game.ledger import award
from server.game.scenarios import quiz
from server.maps import live
from server.maps.tilemath import POINT_ZOOM, lnglat_to_tile
from server.observations.geoprivacy import cell_bounds
from server.observations.models import Observation
from server.observations.services import build_observation
from server.maps.public_tiles import public_tile_router
from server.recordings import storage
from server.recordings.events import RecordingAnalysed, decided_observation, dispatch
from server.recordings.models import Recording, Status
from server.species.models import Species

from tests.server.asgi_http import asgi_get as asgi_request

from .conftest import api_token, client_for, make_user, ws_subprotocols
from .maps.mvt import decode, tile_to_lnglat

pytestmark = pytest.mark.django_db(transaction=True)

BLACKBIRD, WARBLER, ORDINARY, DECOY = ("Yellow-shouldered Blackbird", "Elfin Woods Warbler", "Bananaquit",
                                       "Puerto Rican Tody")
OWNER, IMPORTED_RECORDIST = "nightjar_owner", "Jane Q. Fieldhand"
NEAR_DEG = 0.0005                       # ~50 m: a number this close to a true coordinate gives it away
BBOX = "-68,17,-64,19"
DAY = (datetime.now(timezone.utc) - timedelta(days=1)).date()
WHEN = datetime(DAY.year, DAY.month, DAY.day, 10, 17, 42, tzinfo=timezone.utc)         # app pair
WHEN_IMPORT = datetime(2021, 3, 9, 7, 53, 19, tzinfo=timezone.utc)                      # import pair
TRUE = {"sensitive": (-65.83717, 18.27391), "linked": (-65.83690, 18.27409),
        "imported": (-66.58263, 18.31846), "imported_linked": (-66.58231, 18.31869)}
SECRETS = [":17:42", ":53:19", str(int(WHEN.timestamp())), str(int(WHEN_IMPORT.timestamp())), OWNER,
           "Fieldhand", "990001", "990002", "back yard", "roost 3", "km 16.2"]


# --- what counts as a leak ------------------------------------------------------------------------------

NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def leaks(text: str) -> list[str]:
    """What ``text`` gives away: a true point (both coordinates present), the time, a name or a link."""
    values = [float(m) for m in NUMBER.findall(text)]
    found = [f"{name} point" for name, (lng, lat) in TRUE.items()
             if any(abs(v - lng) < NEAR_DEG for v in values) and any(abs(v - lat) < NEAR_DEG for v in values)]
    return found + [s for s in SECRETS if s in text]


def tile_text(content: bytes, z: int, x: int, y: int) -> str:
    """A decoded MVT tile as JSON: every feature's properties and its points back in lng/lat."""
    layers = decode(content) if content else {}
    return json.dumps({name: [{"properties": f["properties"],
                               "lnglat": [tile_to_lnglat(z, x, y, px, py, f["extent"]) for px, py in f["points"]]}
                              for f in features] for name, features in layers.items()})


# --- the scene -----------------------------------------------------------------------------------------

def recording_for(owner, clip, at: Point, when: datetime) -> Recording:
    _, rel = storage.store_blob(clip.data, "ogg")
    return Recording.objects.create(
        owner=owner, idempotency_key=uuid.uuid4().hex, audio_sha256=uuid.uuid4().hex + uuid.uuid4().hex,
        audio_path=rel, audio_format="ogg", audio_bytes=len(clip.data), sample_rate=48000, channels=1,
        duration_s=6.0, recorded_at=when, location=at, accuracy_m=8.0, segment_start_s=0.0, segment_end_s=3.0,
        status=Status.ACCEPTED)


def give_public_clip(obs: Observation) -> None:
    """The quiz and the identification queue offer only observations with a public clip."""
    if "public_clip_token" in {f.name for f in Observation._meta.get_fields()}:
        Observation.objects.filter(pk=obs.pk).update(public_clip_token=secrets.token_urlsafe(24))


def observation(label: str, lng: float, lat: float, seed: str, **fields) -> Observation:
    obs = build_observation(species=Species.objects.get(label=label), location=Point(lng, lat, srid=4326),
                            seed=seed, **fields)
    obs.save()
    return obs


@pytest.fixture
def scene(catalogue, bird_clips, player, settings, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "quiz": "10000/hour",
                                                               "game_write": "10000/hour", "identification": "10000/hour"})
    owner, keeper = make_user(OWNER, Role.PLAYER), make_user("decoy_keeper", Role.PLAYER)
    award(player.pk, "quest_step", "surface-xp", 100_000)           # every scenario unlocked
    clip = bird_clips[0]
    decoy_at = Point(-67.10, 18.00, srid=4326)                      # 130 km west: never "near" the bird
    decoy_rec = recording_for(keeper, clip, decoy_at, WHEN - timedelta(hours=3, minutes=4, seconds=5))
    decoy = observation(DECOY, -67.10, 18.00, "surface:D", recording=decoy_rec, observer=keeper,
                        recordist=keeper.username, observed_at=decoy_rec.recorded_at, status="needs_id",
                        confidence=0.9)
    give_public_clip(decoy)                                         # the smaller id: see quiz_oracle
    linked = observation(ORDINARY, *TRUE["linked"], "surface:L", observer=owner, recordist=OWNER,
                         observed_at=WHEN, status="needs_id", confidence=0.9, locality="Owner's back yard")
    at = Point(*TRUE["sensitive"], srid=4326)
    rec = recording_for(owner, clip, at, WHEN)
    sensitive = observation(BLACKBIRD, *TRUE["sensitive"], "surface:S", recording=rec, observer=owner,
                            recordist=OWNER, observed_at=WHEN, status="needs_id", confidence=0.9,
                            locality="Boquerón mangrove, roost 3")
    give_public_clip(sensitive)
    imported = observation(WARBLER, *TRUE["imported"], "surface:X", source="xeno-canto", source_id="990001",
                           source_url="https://xeno-canto.org/990001", recordist=IMPORTED_RECORDIST,
                           observed_at=WHEN_IMPORT, date_precision="minute", status="research",
                           locality="Maricao, km 16.2")
    imported_linked = observation(ORDINARY, *TRUE["imported_linked"], "surface:XL", source="xeno-canto",
                                  source_id="990002", source_url="https://xeno-canto.org/990002",
                                  recordist=IMPORTED_RECORDIST, observed_at=WHEN_IMPORT,
                                  date_precision="minute", status="research")
    sentinel = observation(ORDINARY, -66.20, 18.10, "surface:C", observer=keeper, recordist=keeper.username,
                           observed_at=WHEN - timedelta(hours=2, minutes=1, seconds=1), status="needs_id")
    hidden = {"sensitive": sensitive, "linked": linked, "imported": imported, "imported_linked": imported_linked}
    for name, obs in hidden.items():
        obs.refresh_from_db()
        assert obs.obscured, f"{name} must be obscured (sensitive, or linked to a sensitive one)"
        shown = obs.public_location
        assert leaks(json.dumps([shown.x, shown.y])) == [], f"{name}: this seed's public point is too close"
    return SimpleNamespace(hidden=hidden, sensitive_rec=rec, decoy=decoy, decoy_rec=decoy_rec, sentinel=sentinel,
                           owner=owner, player=player)


# --- walking every output ------------------------------------------------------------------------------

def tiles_to_fetch(scene) -> list[tuple[int, int, int]]:
    """Every tile, at every zoom up to two past the point zoom, that holds a true or a public point."""
    points = list(TRUE.values()) + [(o.public_location.x, o.public_location.y) for o in scene.hidden.values()]
    wanted = {(t.z, t.x, t.y) for lng, lat in points for z in range(0, POINT_ZOOM + 3)
              for t in [lnglat_to_tile(lng, lat, z)]}
    return sorted(wanted)


async def asgi_get(app, path: str) -> tuple[int, bytes]:
    status, _, body = await asgi_request(app, path)
    return status, body


def fast_path_tiles(tiles) -> dict[str, str]:
    """The anonymous tiles as the public fast path (server/maps/public_tiles.py) answers them."""
    router = public_tile_router(application.application_mapping["http"].fallback)

    async def go() -> dict[str, str]:
        out = {}
        try:
            for z, x, y in tiles:
                status, body = await asgi_get(router, f"/api/v1/map/tiles/{z}/{x}/{y}.mvt")
                assert status == 200, (z, x, y, status)
                out[f"fast tile {z}/{x}/{y}"] = tile_text(body, z, x, y)
        finally:
            await router.aclose()
        return out

    return asyncio.run(go())


def http_answers(client, scene, as_player: bool) -> dict[str, str]:
    """Every HTTP answer about observations that ``client`` can get, as text."""
    out: dict[str, str] = {}

    def get(name: str, url: str, **params) -> dict | list | None:
        response = client.get(url, params)
        out[name] = response.content.decode(errors="replace")
        return response.json() if response["Content-Type"].startswith("application/json") else None

    get("geojson list", "/api/v1/observations/", bbox=BBOX, page_size=1000)
    for name, obs in scene.hidden.items():
        get(f"geojson detail {name}", f"/api/v1/observations/{obs.pk}/")
        get(f"map detail {name}", f"/api/v1/map/observations/{obs.pk}/")
    for z, x, y in tiles_to_fetch(scene):
        response = client.get(f"/api/v1/map/tiles/{z}/{x}/{y}.mvt")
        assert response.status_code == 200, (z, x, y, response.content[:200])
        out[f"tile {z}/{x}/{y}"] = tile_text(response.content, z, x, y)
    for label in (BLACKBIRD, WARBLER, ORDINARY):
        get(f"route {label}", f"/api/v1/map/species/{label}/route/")
        get(f"abundance {label}", f"/api/v1/map/species/{label}/abundance/", interval="day")
        get(f"frequency {label}", f"/api/v1/map/species/{label}/frequency/")
        get(f"grid {label}", f"/api/v1/map/species/{label}/grid/")
        get(f"time travel preview {label}", f"/api/v1/map/species/{label}/timetravel/")
    get("obscured cells", "/api/v1/map/obscured-cells/")
    out.update(export_answers(client))
    for name, obs in scene.hidden.items():
        for where, (lng, lat) in (("true", TRUE[name]), ("public", (obs.public_location.x, obs.public_location.y))):
            get(f"soundscape {name} {where}", "/api/v1/soundscapes/", lat=lat, lng=lng, radius=2000,
                date=obs.observed_at.date().isoformat())
    if not as_player:
        return out
    out.update(game_answers(client, scene))
    return out


def export_answers(client) -> dict[str, str]:
    """CSV, GeoJSON and (researchers only) the Darwin Core Archive: shared data, obscured for everyone."""
    out = {"export csv": client.get("/api/v1/map/export.csv").content.decode(),
           "export geojson": client.get("/api/v1/map/export.geojson").content.decode()}
    archive = client.get("/api/v1/map/export.zip")
    if archive.status_code == 200:
        with zipfile.ZipFile(io.BytesIO(archive.content)) as zf:
            for member in zf.namelist():
                out[f"export dwca {member}"] = zf.read(member).decode()
    return out


def game_answers(client, scene) -> dict[str, str]:
    """The scenarios and the identification game, played by a player who owns none of the observations."""
    out: dict[str, str] = {}

    def keep(name: str, response) -> dict:
        assert response.status_code < 400, (name, response.status_code, response.content[:300])
        out[name] = response.content.decode()
        return response.json()

    start = keep("quiz start", client.post("/api/v1/game/quiz/"))
    question = start["question"]
    for i in range(3):
        if question is None:
            break
        answer = keep(f"quiz answer {i}", client.post(f"/api/v1/game/quiz/{start['session']}/answer/",
                                                      {"question": question["id"], "choice": question["choices"][0]},
                                                      format="json"))
        question = answer["next_question"]
    hunt = keep("hunt start", client.post("/api/v1/game/hunts/", {"species": BLACKBIRD, "minutes": 60}, format="json"))
    keep("hunt detail", client.get(f"/api/v1/game/hunts/{hunt['id']}/"))
    for label in (BLACKBIRD, WARBLER):
        route = keep(f"time travel {label}", client.get(f"/api/v1/game/timetravel/{label}/"))
        first = route["waypoints"][0]
        keep(f"time travel check-in {label}",
             client.post(f"/api/v1/game/timetravel/{label}/checkin/",
                         {"lat": first["lat"], "lng": first["lng"], "accuracy_m": 5}, format="json"))
    shown = scene.hidden["sensitive"].public_location
    keep("adoption", client.post("/api/v1/game/adoptions/", {"species": BLACKBIRD, "lat": shown.y, "lng": shown.x},
                                 format="json"))
    keep("adoptions", client.get("/api/v1/game/adoptions/"))
    keep("identify queue", client.get("/api/v1/game/identify/"))
    for name, obs in scene.hidden.items():
        keep(f"identifications {name}", client.get(f"/api/v1/observations/{obs.pk}/identifications/"))
    return out


async def collect_until(comm: WebsocketCommunicator, sentinel_id: int | None, id_of) -> list[dict]:
    """Messages until the sentinel's arrives (None: none awaited), then whatever else comes within half a
    second."""
    got: list[dict] = []
    while sentinel_id is not None and not any(id_of(m) == sentinel_id for m in got):
        got.append(await comm.receive_json_from(timeout=10))
    while not await comm.receive_nothing(timeout=0.5):
        got.append(await comm.receive_json_from(timeout=1))
    return got


def analysed(rec: Recording, obs: Observation) -> RecordingAnalysed:
    """The domain event analysis sends for ``rec`` accepted as ``obs``."""
    return RecordingAnalysed(recording_id=str(rec.pk), owner_id=rec.owner_id, status=Status.ACCEPTED,
                             reject_code="", reject_reason="", replay=False, observation=decided_observation(obs))


def websocket_answers(scene, tokens: dict[str, str | None]) -> dict[str, dict[str, str]]:
    """Both live feeds for each client (``{who: token or None}``, on one event loop), with every hidden
    observation pushed as created and as changed, the analysis events of the two app recordings (through
    every subscriber: the owner's stream, the live map, the game), then a sentinel; ``{who: {feed: messages as
    text}}``. Neither client owns a recording here: their own streams stay silent."""
    async def open_feeds(token: str | None) -> tuple[WebsocketCommunicator, WebsocketCommunicator]:
        origin = [(b"origin", b"http://127.0.0.1")]
        protocols = ws_subprotocols(token) if token else None
        map_ws = WebsocketCommunicator(application, "/ws/map/", headers=origin, subprotocols=protocols)
        events_ws = WebsocketCommunicator(application, "/ws/v1/events/", headers=origin, subprotocols=protocols)
        for comm in (map_ws, events_ws):
            assert (await comm.connect())[0]
            assert (await comm.receive_json_from(timeout=10))["type"] == "hello"
        await map_ws.send_json_to({"type": "subscribe", "bbox": [float(v) for v in BBOX.split(",")]})
        assert (await map_ws.receive_json_from(timeout=10))["type"] == "subscribed"
        return map_ws, events_ws

    def push() -> None:
        for obs in scene.hidden.values():
            live.publish(obs, "observation.created")
            live.publish(obs, "observation.changed")
        dispatch(analysed(scene.sensitive_rec, scene.hidden["sensitive"]))
        dispatch(analysed(scene.decoy_rec, scene.decoy))
        live.publish(scene.sentinel, "observation.created")

    async def scenario() -> dict[str, dict[str, str]]:
        feeds = {who: await open_feeds(token) for who, token in tokens.items()}
        await asyncio.sleep(0.3)  # let the group joins settle
        await database_sync_to_async(push)()
        out = {}
        for who, (map_ws, events_ws) in feeds.items():
            on_map = await collect_until(map_ws, scene.sentinel.pk, lambda m: m.get("observation", {}).get("id"))
            on_events = await collect_until(events_ws, None, lambda m: m)
            out[who] = {"ws map": json.dumps(on_map), "ws events": json.dumps(on_events)}
            for comm in (map_ws, events_ws):
                await comm.disconnect()
        return out

    return async_to_sync(scenario)()


def test_no_reachable_output_reveals_a_true_point_time_recordist_or_source_page(scene, player, researcher):
    anonymous = http_answers(client_for(None), scene, as_player=False)
    researchers_exports = export_answers(client_for(researcher))
    assert "export dwca occurrence.txt" in researchers_exports
    anonymous.update({f"researcher's {name}": text for name, text in researchers_exports.items()})
    anonymous.update(fast_path_tiles(tiles_to_fetch(scene)))
    as_player = http_answers(client_for(player), scene, as_player=True)
    feeds = websocket_answers(scene, {"anonymous": None, "player": api_token(player)})
    anonymous.update(feeds["anonymous"])
    as_player.update(feeds["player"])
    assert len(anonymous) > 100 and len(as_player) > 100 and "adoption" in as_player
    found = {f"{who}: {name}": leaked for who, answers in (("anonymous", anonymous), ("player", as_player))
             for name, text in answers.items() if (leaked := leaks(text))}
    assert found == {}
    # the obscured ones are still there, as their cell and their date
    detail = client_for(None).get(f"/api/v1/map/observations/{scene.hidden['sensitive'].pk}/").json()
    shown = scene.hidden["sensitive"].public_location
    assert detail["obscured"] is True and detail["cell"] == list(cell_bounds(shown.y, shown.x))
    assert detail["observed_at"] == DAY.isoformat() and detail["date_precision"] == "day"
    assert detail["recordist"] == "" and detail["source_url"] == "" and detail["locality"] == ""
    # lists are ordered by the published time: the blackbird (10:17, published as midnight) comes after
    # the decoy recorded at 07:13 the same day, as if it had no time
    queue = [r["observation"] for r in json.loads(as_player["identify queue"])["results"]]
    assert queue.index(scene.decoy.pk) < queue.index(scene.hidden["sensitive"].pk)
    route = [f["properties"].get("id") for f in json.loads(anonymous[f"route {ORDINARY}"])["features"]]
    assert route.index(scene.hidden["linked"].pk) < route.index(scene.sentinel.pk)  # 10:17 → midnight < 08:16
    rows = list(csv.DictReader(io.StringIO(as_player["export csv"])))
    imported = next(r for r in rows if r["occurrenceID"] == f"dawnchorus:obs:{scene.hidden['imported'].pk}")
    assert imported["eventDate"] == "2021-03-09" and imported["eventTime"] == ""
    assert "xeno-canto" not in imported["references"] + imported["associatedMedia"]


def test_the_probes_see_the_truth_where_it_is_allowed(scene, researcher):
    """The same walk finds the true point, the time and the recordist for a researcher (the probes work)."""
    client = client_for(researcher)
    text = client.get(f"/api/v1/map/observations/{scene.hidden['sensitive'].pk}/").content.decode()
    assert {"sensitive point", ":17:42", OWNER} <= set(leaks(text))
    t = lnglat_to_tile(*TRUE["sensitive"], POINT_ZOOM + 2)
    tile = client.get(f"/api/v1/map/tiles/{t.z}/{t.x}/{t.y}.mvt").content
    assert "sensitive point" in leaks(tile_text(tile, t.z, t.x, t.y))


# --- oracles -------------------------------------------------------------------------------------------

M_PER_DEG = 111_320.0


def locate(near, radius_m: float, guess: tuple[float, float], cell: tuple[float, float, float, float]):
    """A bounded search for the centre of the disc where ``near(lng, lat)`` holds (radius ``radius_m``):
    scan the published cell (and a radius around it) from the published point outwards in half-radius
    steps, then bisect the disc's edge east, west, north and south of the first point found (30 steps
    each). Returns (lng, lat, probes)."""
    k = math.cos(math.radians((cell[1] + cell[3]) / 2))

    def moved(p: tuple[float, float], east_m: float, north_m: float) -> tuple[float, float]:
        return p[0] + east_m / (M_PER_DEG * k), p[1] + north_m / M_PER_DEG

    step = radius_m / 2
    columns = int((cell[2] - cell[0]) * M_PER_DEG * k / step) + 5
    rows = int((cell[3] - cell[1]) * M_PER_DEG / step) + 5
    corner = moved((cell[0], cell[1]), -2 * step, -2 * step)
    grid = [moved(corner, i * step, j * step) for i in range(columns) for j in range(rows)]
    grid.sort(key=lambda p: ((p[0] - guess[0]) * k) ** 2 + (p[1] - guess[1]) ** 2)
    probes = 0
    for start in [guess] + grid:
        probes += 1
        if near(*start):
            break
    else:
        raise AssertionError("nothing is near anywhere around the cell")

    def edge(east: float, north: float) -> float:
        nonlocal probes
        lo, hi = 0.0, 3.0 * radius_m
        for _ in range(30):
            mid = (lo + hi) / 2
            probes += 1
            if near(*moved(start, east * mid, north * mid)):
                lo = mid
            else:
                hi = mid
        return lo

    e, w, n, s = edge(1, 0), edge(-1, 0), edge(0, 1), edge(0, -1)
    lng, lat = moved(start, (e - w) / 2, (n - s) / 2)
    return lng, lat, probes


def adoption_oracle(client):
    """Near ⇔ the adoption passes the 5 km test (201, or 409 once adopted); far ⇔ 400 species_not_near."""
    def near(lng: float, lat: float) -> bool:
        response = client.post("/api/v1/game/adoptions/", {"species": BLACKBIRD, "lat": lat, "lng": lng},
                               format="json")
        assert response.status_code in (201, 400, 409), response.content[:300]
        return response.status_code != 400
    return near


def quiz_oracle(client, player):
    """Near ⇔ the quiz's first question is the blackbird's recording when the player last recorded here.

    The far pool holds the decoy and the blackbird; the server picks at random, and an attacker would
    repeat a probe to average that out. Here the choice is the smallest id (the decoy's), which makes one
    probe enough and changes nothing about which pool the server draws from."""
    counter = {"t": datetime.now(timezone.utc) - timedelta(hours=1)}

    def near(lng: float, lat: float) -> bool:
        counter["t"] += timedelta(seconds=1)
        Recording.objects.create(owner=player, idempotency_key=uuid.uuid4().hex, audio_sha256=uuid.uuid4().hex * 2,
                                 audio_path="audio/none.ogg", audio_format="ogg", audio_bytes=1, sample_rate=48000,
                                 channels=1, duration_s=1.0, recorded_at=counter["t"],
                                 location=Point(lng, lat, srid=4326), accuracy_m=5.0, segment_start_s=0.0,
                                 segment_end_s=1.0, status=Status.REJECTED)
        start = client.post("/api/v1/game/quiz/")
        assert start.status_code == 201, start.content[:300]
        question = start.json()["question"]
        answer = client.post(f"/api/v1/game/quiz/{start.json()['session']}/answer/",
                             {"question": question["id"], "choice": question["choices"][0]}, format="json")
        return answer.json()["correct_choice"] == BLACKBIRD
    return near


class SmallestIdFirst:
    """A stand-in for the quiz's ``random`` module whose choice is the smallest id (see quiz_oracle)."""

    class Random:
        def choice(self, seq):
            return min(seq)

        def shuffle(self, seq) -> None:
            seq.sort()


@pytest.mark.parametrize("oracle,radius_m", [("adoption", 5_000.0), ("quiz", 30_000.0)])
def test_distance_oracles_locate_the_published_point_never_the_bird(scene, player, monkeypatch, oracle, radius_m):
    monkeypatch.setattr(quiz, "random", SmallestIdFirst)
    client = client_for(player)
    near = adoption_oracle(client) if oracle == "adoption" else quiz_oracle(client, player)
    shown = scene.hidden["sensitive"].public_location
    lng, lat, probes = locate(near, radius_m, (shown.x, shown.y), cell_bounds(shown.y, shown.x))
    assert probes <= 1_000
    true_lng, true_lat = TRUE["sensitive"]
    assert haversine_m(true_lat, true_lng, shown.y, shown.x) > 5_000       # the seed's point is far from the bird
    assert haversine_m(lat, lng, shown.y, shown.x) < radius_m / 50         # what it finds is the published point
    assert haversine_m(lat, lng, true_lat, true_lng) > 4_000               # and not the bird


# --- time filters -----------------------------------------------------------------------------------------

def hidden_seen(client, scene, query: dict[str, str]) -> dict[str, set]:
    """Which hidden observations each filtered output holds (tiles: ids, or cluster counts)."""
    ids = {obs.pk for obs in scene.hidden.values()}
    seen: dict[str, set] = {}
    if "time_from" not in query:  # the GeoJSON list filters dates only
        body = client.get("/api/v1/observations/", {"bbox": BBOX, **query}).json()
        seen["list"] = {f["id"] for f in body["features"]} & ids
    for label in (BLACKBIRD, ORDINARY):
        route = client.get(f"/api/v1/map/species/{label}/route/", query).json()
        seen[f"route {label}"] = {f["properties"].get("id") for f in route["features"]} & ids
        seen[f"abundance {label}"] = {client.get(f"/api/v1/map/species/{label}/abundance/", query).json()["total"]}
    rows = csv.DictReader(io.StringIO(client.get("/api/v1/map/export.csv", query).content.decode()))
    seen["export"] = {int(r["occurrenceID"].rsplit(":", 1)[1]) for r in rows} & ids
    encoded = "&".join(f"{k}={v}" for k, v in query.items())
    for name in ("sensitive", "linked"):
        shown = scene.hidden[name].public_location
        for z in (10, POINT_ZOOM):
            t = lnglat_to_tile(shown.x, shown.y, z)
            layers = decode(client.get(f"/api/v1/map/tiles/{t.z}/{t.x}/{t.y}.mvt?{encoded}").content)
            seen[f"tile {z} {name}"] = ({f["properties"]["count"] for f in layers.get("clusters", [])}
                                        | ({f["properties"]["id"] for f in layers.get("points", [])} & ids))
    return seen


def test_time_filters_answer_for_the_date_not_the_time(scene, player):
    """A date-time range or a time-of-day filter around the true time finds an obscured observation exactly
    when the same filter an hour later does: the filters see its date, never its time."""
    day = DAY.isoformat()
    around = {"date_from": f"{day}T10:17:00Z", "date_to": f"{day}T10:17:59Z"}
    later = {"date_from": f"{day}T11:17:00Z", "date_to": f"{day}T11:17:59Z"}
    for client in (client_for(None), client_for(player)):
        assert hidden_seen(client, scene, around) == hidden_seen(client, scene, later)
        assert hidden_seen(client, scene, {"time_from": "10:17", "time_to": "10:17"}) == \
            hidden_seen(client, scene, {"time_from": "11:17", "time_to": "11:17"})
        whole_day = hidden_seen(client, scene, {"date_from": day, "date_to": day})
        assert {scene.hidden["sensitive"].pk, scene.hidden["linked"].pk} <= whole_day["export"]
