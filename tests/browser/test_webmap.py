"""The researchers' map in a real browser (Debian chromium via Playwright) against a live server:
demo data loads, filters change what is shown, a popup plays audio, the DwC-A export downloads for a
researcher and is refused for a player, and a newly submitted recording appears live."""
from __future__ import annotations

import io
import json
import time
import zipfile

import pytest
import requests

from server.accounts.models import Role, User
from server.observations.geoprivacy import cell_bounds
from server.observations.models import Observation
from tests.conftest import load_clips
from tests.server.conftest import make_user, metadata

from .conftest import WAIT_MS, click_observation, import_demo_map, shot

# ``django_db`` makes pytest-django create the test database; each test body runs in a transaction that
# sees the module's committed data (and what the live server commits).
# Each test body has 420 s (the module's shared setup is not counted: func_only); the machine may be
# heavily loaded, so waits are generous but finite.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(420, func_only=True), pytest.mark.django_db]
PASSWORD = "correct horse battery"
# wait_for_function predicates are functions ("() => ..."): an expression string would be eval'ed in the
# page, which the Content-Security-Policy (script-src 'self') forbids.
RENDERED_COUNT = """() => window.dawnMap.map.queryRenderedFeatures({layers: ['clusters']})
    .reduce((n, f) => n + f.properties.count, 0)"""


@pytest.fixture(scope="module")
def live(services, django_db_blocker) -> str:
    """One import of the demo data, two users, a live server and a worker shared by the module's tests."""
    started = time.monotonic()
    with django_db_blocker.unblock():
        import_demo_map()  # the live test below still goes through the summary's trigger; the popup plays XC173620
        make_user("dr_ornis", Role.RESEARCHER)
        make_user("robin", Role.PLAYER)
    imported = time.monotonic()
    base = services.web()
    services.worker()
    print(f"setup: demo import {imported - started:.1f} s, live server {time.monotonic() - imported:.1f} s")
    return base


def open_map(page, base_url: str) -> None:
    page.goto(base_url + "/map/")
    page.wait_for_function("() => document.body.dataset.mapReady === '1'")
    page.wait_for_function("() => window.dawnMap.map.loaded()")


def sign_in(page, username: str) -> None:
    page.get_by_label("User").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function(f"() => document.getElementById('whoami').textContent.startsWith('{username}')")
    page.wait_for_function("() => document.body.dataset.mapReady === '1'")


def test_map_loads_filters_and_popup_plays_audio(live, page):
    base = live
    open_map(page, base)
    total = page.evaluate(RENDERED_COUNT)
    shown = Observation.objects.filter(obscured=False).count()  # obscured ones are drawn as cells, in no cluster
    assert 0.85 * shown <= total <= shown, (total, shown)  # around Puerto Rico (some may sit off-screen)
    shot(page, "1-loaded")
    page.get_by_label("Species", exact=True).select_option(["Bananaquit"])
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_function(f"() => ({RENDERED_COUNT})() < {total} && window.dawnMap.map.loaded()")
    bananaquits = Observation.objects.filter(species__label="Bananaquit", obscured=False).count()
    page.wait_for_function(f"() => ({RENDERED_COUNT})() === {bananaquits}")
    assert "species=Bananaquit" in page.evaluate("window.dawnMap.tileQuery")
    shot(page, "2-filtered")
    assert page.locator("#species-page").is_visible()  # one species chosen: its abundance and route
    page.wait_for_function("() => document.querySelectorAll('#abundance rect').length > 0")
    page.get_by_role("button", name="Reset", exact=True).click()
    page.wait_for_function(f"() => ({RENDERED_COUNT})() === {total}")

    warbler = Observation.objects.get(source_id="173620")  # its clip ships in fixtures/audio
    click_observation(page, warbler)   # several recordings share its locality: chosen from the list
    popup = page.locator(f".popup-body[data-observation='{warbler.pk}']")
    assert "Adelaide's Warbler" in popup.inner_text() and "Eric DeFonso" in popup.inner_text()
    page.wait_for_function("() => document.querySelector('.popup-body audio').readyState >= 1")
    page.wait_for_function("() => document.querySelector('.popup-body img').complete && "
                           "document.querySelector('.popup-body img').naturalWidth > 100")
    page.evaluate("(() => { const a = document.querySelector('.popup-body audio'); a.muted = true; return a.play(); })()")
    page.wait_for_function("() => document.querySelector('.popup-body audio').currentTime > 0.5")
    shot(page, "3-popup")
    assert page.errors == []


def test_an_obscured_observation_is_drawn_as_its_cell_not_a_point(live, page):
    """A sensitive species' observation shows as the dashed 0.2° cell around its published point; the
    points layer holds no point for it, and its popup gives the date only and no recordist."""
    hidden = Observation.objects.filter(obscured=True, species__sensitive=True).order_by("pk").first()
    lng, lat = hidden.public_location.x, hidden.public_location.y
    west, south, east, north = cell_bounds(lat, lng)
    open_map(page, live)
    page.evaluate(f"window.dawnMap.map.jumpTo({{center: [{lng}, {lat}], zoom: 16}})")
    page.wait_for_function(f"""() => window.dawnMap.map.loaded() && window.dawnMap.map
        .queryRenderedFeatures({{layers: ['obscured-cells']}})
        .some(f => JSON.parse(f.properties.ids).includes({hidden.pk}))""")
    cell = page.evaluate(f"""window.dawnMap.map.queryRenderedFeatures({{layers: ['obscured-cells']}})
        .find(f => JSON.parse(f.properties.ids).includes({hidden.pk})).properties""")
    assert [cell["west"], cell["south"], cell["east"], cell["north"]] == pytest.approx([west, south, east, north])
    assert not page.evaluate(f"window.dawnMap.map.queryRenderedFeatures({{layers: ['points']}})"
                             f".some(f => f.properties.id === {hidden.pk})")
    xy = page.evaluate("(() => { const r = window.dawnMap.map.getCanvas().getBoundingClientRect(); "
                       "return [r.left + r.width / 2, r.top + r.height / 2]; })()")
    page.mouse.click(*xy)
    if page.locator(".picks").count():
        page.locator(f".pick[data-id='{hidden.pk}']").click()
    popup = page.locator(f".popup-body[data-observation='{hidden.pk}']")
    popup.wait_for()
    assert "0.2° cell" in popup.inner_text() and "withheld" in popup.inner_text()
    shot(page, "7-obscured-cell")
    assert page.errors == []


def test_dwca_export_for_researcher_refused_for_player(live, page, browser):
    base = live
    open_map(page, base)
    assert not page.locator("#exports").is_visible()
    sign_in(page, "dr_ornis")
    assert page.locator("#exports").is_visible()
    # the live socket signs in with the session cookie (the page holds no token)
    page.wait_for_function("() => document.body.dataset.liveAuthenticated === 'true'")
    with page.expect_download() as info:
        page.get_by_role("button", name="Darwin Core Archive").click()
    data = open(info.value.path(), "rb").read()
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert {"meta.xml", "eml.xml", "occurrence.txt", "multimedia.txt"} <= set(zf.namelist())
    rows = zf.read("occurrence.txt").decode().strip().split("\n")
    # every record with a scientific name (a city sound or soundscape is no organism: no DwC occurrence)
    assert len(rows) == 1 + Observation.objects.exclude(species__scientific_name="").count()
    assert Observation.objects.exclude(species__scientific_name="").count() >= 400
    page.wait_for_function("() => document.getElementById('export-status').textContent.startsWith('Downloaded')")
    shot(page, "4-researcher-export")

    player_context = browser.new_context(viewport={"width": 390, "height": 780})  # phone width
    player_context.set_default_timeout(WAIT_MS)
    player_page = player_context.new_page()
    open_map(player_page, base)
    sign_in(player_page, "robin")
    assert not player_page.locator("#exports").is_visible()
    status = player_page.evaluate("async () => (await fetch('/api/v1/map/export.zip')).status")  # her session
    assert status == 403
    shot(player_page, "5-player-phone")
    player_page.context.close()


def test_new_recording_appears_live_without_reload(live, page):
    player = User.objects.get(username="robin")
    base = live
    open_map(page, base)
    page.wait_for_function("() => document.body.dataset.live === '1'")
    page.evaluate("window.__sameDocument = true")
    token = requests.post(base + "/api/v1/auth/login/", json={"username": player.username, "password": PASSWORD},
                          timeout=60).json()["token"]
    headers = {"Authorization": f"Token {token}"}
    clip = next(c for c in load_clips() if c.kind == "bird" and c.path.suffix == ".ogg")
    session = requests.post(base + "/api/v1/recordings/session-token/", headers=headers, timeout=60)
    meta = metadata(location={"lat": 18.30, "lng": -65.78, "accuracy_m": 8.0},
                    identification={"label": clip.label, "confidence": 0.9, "model_version": "phone"})
    if session.status_code == 201:
        meta["session_token"] = session.json()["token"]
    created = requests.post(base + "/api/v1/recordings/", headers=headers, timeout=120,
                            files={"audio": (clip.path.name, clip.data)}, data={"metadata": json.dumps(meta)})
    assert created.status_code == 201, created.text
    marker = page.locator(".live-marker")
    marker.first.wait_for(timeout=150_000)
    obs = Observation.objects.get(recording_id=created.json()["id"])
    assert page.locator(f"#live-list li[data-observation='{obs.pk}']").count() == 1
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    box = marker.first.bounding_box()
    where = page.evaluate(f"(() => {{ const p = window.dawnMap.map.project([{obs.public_location.x}, "
                          f"{obs.public_location.y}]); const r = window.dawnMap.map.getCanvas()"
                          f".getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }})()")
    assert abs(box["x"] + box["width"] / 2 - where[0]) < 15 and abs(box["y"] + box["height"] / 2 - where[1]) < 15
    shot(page, "6-live")


def test_a_token_left_by_an_older_build_is_dropped_and_the_map_works_signed_out(live, page):
    """The map signs in with a session cookie only: an API token an older build left in localStorage is
    removed on load, and the map starts signed out with an anonymous live socket."""
    page.goto(live + "/map/")
    page.evaluate("localStorage.setItem('dawn-chorus-token', 'dawn_' + '0'.repeat(64))")
    open_map(page, live)
    page.wait_for_function("() => document.body.dataset.liveAuthenticated === 'false'")
    assert page.evaluate("localStorage.getItem('dawn-chorus-token')") is None
    assert page.locator("#login-form").is_visible()
