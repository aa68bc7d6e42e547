"""Media and sessions in a real browser (Debian chromium via Playwright) against a live server: the
popup's audio knows its duration and seeks (the clip answers byte ranges with 206), a researcher who
signed in on the map opens the popup's "Recording" link signed in (a session cookie, no token in the
page), and the popup names the record's licence as the exports do."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from server.accounts.models import Role
from server.observations.models import Observation
from server.recordings.tasks import analyse_recording
from server.species.catalogue import load_catalogue
from tests.server.conftest import api_token, make_user, metadata

from .conftest import WAIT_MS, click_observation, shot

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420, func_only=True), pytest.mark.django_db]
PASSWORD = "correct horse battery"  # make_user's
WARBLER = Path(__file__).resolve().parents[2] / "fixtures" / "audio" / "XC173620_adelaides_warbler.ogg"


@pytest.fixture(scope="module")
def live(services, django_db_blocker) -> tuple[str, Observation]:
    """A live server over one player's analysed upload (CC BY 4.0, rated B) and a researcher."""
    with django_db_blocker.unblock():
        load_catalogue()
        player = make_user("wren", Role.PLAYER)
        make_user("dr_ornis", Role.RESEARCHER)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(player)}")
        meta = metadata(identification={"label": "Adelaide's Warbler", "confidence": 0.9, "model_version": "t"},
                        segment={"start_s": 0.5, "end_s": 5.5}, license="cc-by-4.0", rating="B",
                        session_token=client.post("/api/v1/recordings/session-token/").json()["token"])
        from django.core.files.uploadedfile import SimpleUploadedFile

        created = client.post("/api/v1/recordings/", {"metadata": json.dumps(meta), "audio": SimpleUploadedFile(
            "take.ogg", WARBLER.read_bytes(), content_type="audio/ogg")}, format="multipart")
        assert created.status_code == 201, created.content
        analyse_recording(created.json()["id"])
        obs = Observation.objects.get(recording_id=created.json()["id"])
        assert obs.public_clip_token and obs.license.endswith("/by/4.0/")
    return services.web(), obs


def open_map(page, base_url: str) -> None:
    page.goto(base_url + "/map/")
    page.wait_for_function("() => document.body.dataset.mapReady === '1'")
    page.wait_for_function("() => window.dawnMap.map.loaded()")


def test_popup_audio_knows_its_duration_and_seeks(live, page):
    base, obs = live
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if "/api/v1/clips/" in r.url else None)
    open_map(page, base)
    page.get_by_label("B", exact=True).check()  # the panel's sound-quality filter
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_function("() => window.dawnMap.tileQuery.includes('rating=B')")
    click_observation(page, obs)  # rated B: still on the map
    popup = page.locator(f".popup-body[data-observation='{obs.pk}']")
    assert "CC BY 4.0" in popup.inner_text()  # the record's licence, by name, as the CSV and archive carry
    assert "B" in popup.locator("dd", has_text="(A best").inner_text()
    page.wait_for_function("() => document.querySelector('.popup-body audio').readyState >= 1")
    duration = page.evaluate("document.querySelector('.popup-body audio').duration")
    assert duration == pytest.approx(5.0, abs=0.3)  # the marked segment: finite, known before playing
    assert page.evaluate("(() => { const s = document.querySelector('.popup-body audio').seekable; "
                         "return s.length ? s.end(0) : 0; })()") == pytest.approx(duration, abs=0.3)
    page.evaluate("""() => new Promise((resolve) => {
        const a = document.querySelector('.popup-body audio');
        a.addEventListener('seeked', resolve, { once: true });
        a.currentTime = a.duration * 0.7; })""")
    position = page.evaluate("document.querySelector('.popup-body audio').currentTime")
    assert position == pytest.approx(duration * 0.7, abs=0.3)
    page.evaluate("(() => { const a = document.querySelector('.popup-body audio'); a.muted = true; return a.play(); })()")
    page.wait_for_function(f"() => document.querySelector('.popup-body audio').currentTime > {position + 0.3}")
    assert 206 in statuses, statuses  # the browser asked for ranges and got them
    shot(page, "b1-popup-audio-seeked")
    assert page.errors == []


def test_recording_link_opens_for_a_signed_in_researcher(live, page):
    base, obs = live
    open_map(page, base)
    page.get_by_label("User").fill("dr_ornis")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function("() => document.getElementById('whoami').textContent.startsWith('dr_ornis')")
    page.wait_for_function("() => document.body.dataset.mapReady === '1'")
    assert "sessionid" not in page.evaluate("document.cookie")  # HttpOnly: no script can read it
    assert page.evaluate("Object.keys(localStorage).filter(k => /token/i.test(k))") == []
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["sessionid"]["httpOnly"] and cookies["sessionid"]["sameSite"] == "Lax"
    page.wait_for_function("() => document.body.dataset.liveAuthenticated === 'true'")  # socket: the cookie
    click_observation(page, obs)
    popup = page.locator(f".popup-body[data-observation='{obs.pk}']")
    popup.get_by_label("Rate the sound").select_option("A")  # a reviewer rates the recording
    popup.get_by_role("button", name="Save rating").click()
    page.wait_for_function("() => document.querySelector('.popup-body dd.rating').textContent === 'A'")
    obs.refresh_from_db()
    assert obs.rating == "A"
    link = page.locator(f".popup-body[data-observation='{obs.pk}'] a", has_text="Recording")
    with page.context.expect_page() as opened:
        link.click()
    tab = opened.value
    tab.set_default_timeout(WAIT_MS)
    tab.wait_for_load_state()
    text = tab.locator("body").inner_text()
    assert str(obs.recording_id) in text and "credentials were not provided" not in text
    assert tab.evaluate("fetch(location.href, {headers: {Accept: 'application/json'}}).then(r => r.status)") == 200
    shot(tab, "b2-recording-link-signed-in")
    tab.close()
    shot(page, "b3-researcher-popup")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_function("() => !document.getElementById('login-form').hidden")
    status = page.evaluate(f"fetch('/api/v1/recordings/{obs.recording_id}/').then(r => r.status)")
    assert status == 401  # the session ended
    assert page.errors == []
