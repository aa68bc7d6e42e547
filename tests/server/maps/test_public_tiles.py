"""The public tile fast path (server/maps/public_tiles.py on server/platform/loop_routes.py) answers exactly as Django's TileView does,
and leaves to Django what it must not answer."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from django.conf import settings

from server.asgi import application
from server.maps.tilemath import POINT_ZOOM, lnglat_to_tile
from server.maps.public_tiles import public_tile_router
from server.platform.loop_routes import LoopRouter, has_credentials
from tests.server.asgi_http import PathRecorder
from tests.server.asgi_http import asgi_get as asgi_request
from tests.server.maps.conftest import until
from tests.server.maps.mvt import decode

pytestmark = pytest.mark.django_db(transaction=True)
IGNORED = {b"date", b"server"}
DJANGO_HTTP = application.application_mapping["http"].fallback  # the WSGI bridge behind the router


async def asgi_get(app, path: str, query: str = "", headers: list[tuple[bytes, bytes]] = (),
                   method: str = "GET") -> tuple[int, dict[bytes, bytes], bytes]:
    """The answer without the headers that differ between any two answers (``IGNORED``)."""
    status, response_headers, body = await asgi_request(app, path, query, headers, method)
    return status, {k: v for k, v in response_headers.items() if k not in IGNORED}, body


def one(router: LoopRouter, path: str, query: str = "", headers=(), method: str = "GET") -> tuple:
    """The router's answer (its pool and Redis client closed on the same loop)."""
    async def go():
        try:
            return await asgi_get(router, path, query, headers, method)
        finally:
            await router.aclose()
    return asyncio.run(go())


def both(router: LoopRouter, path: str, query: str = "", headers=()) -> tuple[tuple, tuple]:
    """The fast path's answer (which must not fall back) and Django's to one request."""
    fast = one(router, path, query, headers)
    assert router.fallback.paths == [], "the fast path handed the request to Django"
    return fast, asyncio.run(asgi_get(DJANGO_HTTP, path, query, headers))


@pytest.fixture
def router():
    return public_tile_router(PathRecorder())


@pytest.fixture
def spread(make_obs):
    when = [datetime(2024, 5, d, 6 + d, 0, tzinfo=timezone.utc) for d in (1, 2, 3)]
    made = [make_obs(label, -65.78 + i * 0.0004, 18.30 + i * 0.0003, when=when[i % 3],
                     status=("research" if i % 2 else "needs_id"), confidence=0.5 + i * 0.04)
            for i, label in enumerate(["Bananaquit", "Puerto Rican Tody", "Bananaquit", "Puerto Rican Tody",
                                       "Bananaquit", "Puerto Rican Tody"])]
    return made


@pytest.mark.parametrize("z, query", [
    (8, ""), (12, "grade=research"), (14, "date_from=2024-05-02&date_to=2024-05-03&time_from=07:30"),
    (POINT_ZOOM, ""), (POINT_ZOOM + 1, "min_confidence=0.6&grade=needs_id,research"),
])
def test_fast_path_answers_byte_for_byte_as_django(router, spread, z, query):
    t = lnglat_to_tile(-65.779, 18.301, z)
    path = f"/api/v1/map/tiles/{t.z}/{t.x}/{t.y}.mvt"
    fast, django = both(router, path, query)
    assert fast == django
    status, headers, body = fast
    assert status == 200 and headers[b"content-type"] == b"application/vnd.mapbox-vector-tile"
    layer = "points" if z >= POINT_ZOOM else "clusters"
    assert decode(body)[layer], "the tile holds the observations"


@pytest.mark.parametrize("path, query", [
    ("/api/v1/map/tiles/23/0/0.mvt", ""),          # outside the pyramid
    ("/api/v1/map/tiles/3/8/0.mvt", ""),
    ("/api/v1/map/tiles/3/0/0.mvt", "grade=wonderful"),
    ("/api/v1/map/tiles/3/0/0.mvt", "min_confidence=2"),
    ("/api/v1/map/tiles/3/0/0.mvt", "date_from=2024-05-03&date_to=2024-05-01"),
    ("/api/v1/map/tiles/3/0/0.mvt", "time_from=25:00"),
])
def test_fast_path_errors_match_django(router, db, path, query):
    fast, django = both(router, path, query)
    assert fast == django
    assert fast[0] == 400 and b'"code":' in fast[2]


def test_fast_path_revalidates_with_the_same_etag_as_django(router, spread):
    t = lnglat_to_tile(-65.779, 18.301, 10)
    path = f"/api/v1/map/tiles/{t.z}/{t.x}/{t.y}.mvt"
    fast, django = both(router, path)
    etag = fast[1][b"etag"]
    assert etag == django[1][b"etag"]
    fast304, django304 = both(router, path, headers=[(b"if-none-match", etag)])
    assert fast304 == django304 and fast304[0] == 304 and fast304[2] == b""


def test_fast_path_sees_new_data_after_the_generation_bump(router, spread, make_obs):
    t = lnglat_to_tile(-65.779, 18.301, 9)
    path = f"/api/v1/map/tiles/{t.z}/{t.x}/{t.y}.mvt"

    def count() -> int:
        return sum(f["properties"]["count"] for f in decode(one(router, path)[2])["clusters"])

    assert count() == len(spread)
    make_obs("Bananaquit", -65.7791, 18.3011)
    assert count() == len(spread) + 1


def test_a_running_fast_path_sees_new_data_as_soon_as_it_hears_the_bump(router, spread, make_obs):
    t = lnglat_to_tile(-65.779, 18.301, 9)
    path = f"/api/v1/map/tiles/{t.z}/{t.x}/{t.y}.mvt"

    async def count() -> int:
        return sum(f["properties"]["count"] for f in decode((await asgi_get(router, path))[2])["clusters"])

    async def go() -> tuple[int, int]:
        try:
            before = await count()  # starts the follower
            follower = router.routes[0].follower
            await until(lambda: follower.live)
            heard = follower.value
            await asyncio.to_thread(make_obs, "Bananaquit", -65.7791, 18.3011)  # commits, then bumps
            await until(lambda: follower.value > heard)
            return before, await count()
        finally:
            await router.aclose()

    assert asyncio.run(go()) == (len(spread), len(spread) + 1)


@pytest.mark.parametrize("path, query, headers, method", [
    ("/api/v1/map/tiles/16/20000/29000.mvt", "", [(b"authorization", b"Token abc")], "GET"),  # point tile, credentials
    ("/api/v1/map/tiles/17/40000/58000.mvt", "", [(b"cookie", b"a=1; sessionid=xyz")], "GET"),
    ("/api/v1/map/tiles/8/80/113.mvt", "species=Bananaquit", [], "GET"),  # needs the ORM
    ("/api/v1/map/tiles/8/80/113.mvt", "&".join(f"f{i}=1" for i in range(1001)), [], "GET"),  # too many fields
    ("/api/v1/map/tiles/8/80/113.mvt", "", [], "HEAD"),
    ("/api/v1/map/tiles/8/80/113.mvt", "", [], "POST"),
    ("/api/v1/map/tiles/8/80/113", "", [], "GET"),
    ("/api/v1/observations/", "", [], "GET"),
])
def test_what_the_fast_path_leaves_to_django(db, path, query, headers, method):
    recorder = PathRecorder()
    status, _, _ = one(public_tile_router(recorder), path, query, headers, method)
    assert status == 418 and recorder.paths == [path]


def test_cluster_tiles_stay_on_the_fast_path_with_credentials(db):
    recorder = PathRecorder()
    status, headers, _ = one(public_tile_router(recorder), "/api/v1/map/tiles/8/80/113.mvt",
                             headers=[(b"authorization", b"Token abc"), (b"cookie", b"sessionid=x")])
    assert status == 200 and recorder.paths == [] and headers[b"cache-control"] == b"public, max-age=60"


def test_credentials_are_an_authorization_header_or_the_session_cookie():
    session = settings.SESSION_COOKIE_NAME.encode()
    assert has_credentials([(b"Authorization", b"Token x")])
    assert has_credentials([(b"cookie", b"csrftoken=a; " + session + b"=b")])
    assert not has_credentials([(b"cookie", b"csrftoken=a; not" + session + b"=b")])
    assert not has_credentials([(b"accept", b"*/*")])
