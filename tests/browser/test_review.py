"""Curation in a real browser (Debian chromium via Playwright) against a live server: a researcher works
through the review queue (listens, sees the spectrogram, labels, propagates after a confirmation) and the
observation's species and grade change; a player's "Agree" in the map popup makes an observation research
grade and their data-quality vote is stored; both pages are looked at at 1400 and 412 px wide."""
from __future__ import annotations

import pytest

from server.accounts.models import Role
from server.game.ledger import award
from server.game.models import QualityVote, ReviewLabel, SpeciesChange
from server.observations.models import Observation
from server.species.catalogue import load_catalogue
from tests.conftest import load_clips
from tests.server.conftest import make_user
from tests.server.game.helpers import accept

from .conftest import ARTIFACTS, WAIT_MS, click_observation

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420, func_only=True), pytest.mark.django_db]
PASSWORD = "correct horse battery"
WIDE, PHONE = {"width": 1400, "height": 900}, {"width": 412, "height": 915}
LABEL = "Bananaquit"


@pytest.fixture(scope="module")
def live(services, django_db_blocker) -> dict:
    """Six accepted recordings by one player (none of them a Bananaquit, none sensitive), a researcher and
    a level-2 player; one live server for the module."""
    with django_db_blocker.unblock():
        load_catalogue()
        owner = make_user("robin", Role.PLAYER)
        make_user("dr_ornis", Role.RESEARCHER)
        jay = make_user("jay", Role.PLAYER)
        award(jay.pk, "quest_step", "test-xp", 60)   # level 2: may identify
        clips = [c for c in load_clips() if c.kind == "bird" and c.path.suffix == ".ogg"
                 and c.label not in (LABEL, "Puerto Rican Amazon")][:6]
        ids = [accept(owner, clip, lat=18.20 + 0.03 * i, lng=-66.40 + 0.05 * i).pk for i, clip in enumerate(clips)]
    return {"base": services.web(), "ids": ids}


def new_page(browser, viewport):
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return page


def sign_in(page, username: str) -> None:
    page.get_by_label("User").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function(f"() => document.getElementById('whoami').textContent.startsWith('{username}')")


def open_review(page, base: str, username: str) -> None:
    page.goto(base + "/map/review/")
    page.wait_for_function("() => document.body.dataset.reviewReady === '1'")
    sign_in(page, username)
    page.wait_for_function("() => document.body.dataset.reviewReady === '1'")


def test_a_researcher_reviews_a_recording_and_its_species_and_grade_change(live, browser):
    page = new_page(browser, WIDE)
    page.goto(live["base"] + "/map/")
    page.wait_for_function("() => document.body.dataset.mapReady === '1'")
    sign_in(page, "dr_ornis")
    review_link = page.get_by_role("link", name="Review queue")
    assert review_link.is_visible()
    review_link.click()
    page.wait_for_function("() => document.body.dataset.reviewReady === '1'")
    page.wait_for_function("() => document.querySelectorAll('#queue button').length > 0")
    queue = page.evaluate("window.dawnReview.queue")
    assert sorted(e["observation"] for e in queue) == sorted(live["ids"])
    first = queue[0]
    assert first["is_medoid"], "the queue opens with a medoid"
    page.wait_for_function("() => document.getElementById('item-audio').readyState >= 1")
    page.wait_for_function("() => document.getElementById('item-spectrogram').complete && "
                           "document.getElementById('item-spectrogram').naturalWidth > 50")
    page.evaluate("(() => { const a = document.getElementById('item-audio'); a.muted = true; return a.play(); })()")
    page.wait_for_function("() => document.getElementById('item-audio').currentTime > 0.3")
    before = Observation.objects.values("species__label", "status").get(pk=first["observation"])

    # an unknown taxon is refused and changes nothing
    page.get_by_label("Label (species)").fill("Dodo")
    page.get_by_role("button", name="Save label").click()
    page.wait_for_function("() => document.getElementById('label-status').textContent.includes('unknown_species')")
    assert Observation.objects.values("species__label", "status").get(pk=first["observation"]) == before
    assert not ReviewLabel.objects.exists()

    members = [e["observation"] for e in queue if e["medoid"] == first["observation"]
               and e["observation"] != first["observation"]]
    page.get_by_label("Label (species)").fill(LABEL)
    if members:
        page.locator("#label-propagate").check()
    page.get_by_role("button", name="Save label").click()
    if members:   # propagation asks first
        dialog = page.locator("#propagate-dialog")
        dialog.wait_for(state="visible")
        assert f"{len(members)} other recording" in dialog.inner_text() and LABEL in dialog.inner_text()
        page.screenshot(path=str(ARTIFACTS / "review-confirm-1400.png"))
        page.get_by_role("button", name="Label them all").click()
    page.wait_for_function("() => document.getElementById('label-status').textContent.startsWith('Labelled')")
    page.wait_for_function("() => document.querySelector('#item-history .review-note') !== null")
    page.screenshot(path=str(ARTIFACTS / "review-1400.png"), full_page=True)

    obs = Observation.objects.select_related("species").get(pk=first["observation"])
    assert (obs.species.label, obs.status) == (LABEL, "research")
    assert before["species__label"] != LABEL
    change = SpeciesChange.objects.get(observation=obs)
    assert (change.previous_species.label, change.cause) == (before["species__label"], "review")
    for member in members:
        assert Observation.objects.get(pk=member).species.label == LABEL
        assert ReviewLabel.objects.get(observation_id=member).propagated
    assert "Reviewed by dr_ornis" in page.locator("#item-history").inner_text()
    assert page.locator("#item-facts").inner_text().count(LABEL) == 1 and "research" in page.locator(
        "#item-facts").inner_text()
    next_button = page.get_by_role("button", name="Next recording")
    if len(members) + 1 < len(queue):
        next_button.click()
        page.wait_for_function(f"() => !document.getElementById('item-title').textContent.startsWith('#{obs.pk}:')")
        assert page.locator("#label-form").is_visible()
    assert page.errors == []
    page.context.close()

    phone = new_page(browser, PHONE)
    open_review(phone, live["base"], "dr_ornis")
    phone.wait_for_function("() => document.querySelectorAll('#queue button').length > 0")
    phone.wait_for_function("() => document.getElementById('item-spectrogram').complete")
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the review page is {overflow} px wider than a phone"
    phone.screenshot(path=str(ARTIFACTS / "review-412.png"), full_page=True)
    assert phone.errors == []
    phone.context.close()


@pytest.mark.parametrize("viewport, name", [(WIDE, "1400"), (PHONE, "412")])
def test_a_players_agreement_moves_an_observation_to_research_grade(live, browser, viewport, name):
    obs = (Observation.objects.select_related("species").filter(pk__in=live["ids"], status="needs_id")
           .exclude(review_label__isnull=False).order_by("pk").first())
    assert obs is not None
    page = new_page(browser, viewport)
    page.goto(live["base"] + "/map/")
    page.wait_for_function("() => document.body.dataset.mapReady === '1'")
    sign_in(page, "jay")
    page.wait_for_function("() => document.body.dataset.mapReady === '1'")
    assert not page.get_by_role("link", name="Review queue").is_visible()
    click_observation(page, obs)
    popup = page.locator(f".popup-body[data-observation='{obs.pk}']")
    popup.locator("summary").click()
    agree = popup.get_by_role("button", name=f"Agree: {obs.species.common_name}")
    agree.wait_for()
    agree.click()
    page.wait_for_function("() => document.querySelector('.community-status').textContent.startsWith('Saved')")
    assert "research" in popup.locator(".community-status").inner_text()
    assert "jay agrees" in popup.locator(".id-history").inner_text()
    obs.refresh_from_db()
    assert obs.status == "research"
    popup.locator("button.vote[data-metric='date'][data-agrees='true']").click()   # "Date is right: Yes"
    page.wait_for_function("() => document.querySelector('.community-status').textContent.startsWith('Vote saved')")
    assert QualityVote.objects.filter(observation=obs, voter__username="jay", metric="date", agrees=True).exists()
    assert popup.locator("button.vote[data-metric='date'][data-agrees='true']").is_disabled()
    box = page.locator(".maplibregl-popup").bounding_box()
    view = page.locator("#map").bounding_box()
    assert view["x"] - 1 <= box["x"] and box["x"] + box["width"] <= view["x"] + view["width"] + 1, (box, view)
    assert view["y"] - 1 <= box["y"] and box["y"] + box["height"] <= view["y"] + view["height"] + 1, (box, view)
    page.screenshot(path=str(ARTIFACTS / f"community-popup-{name}.png"))
    assert page.errors == []
    page.context.close()
