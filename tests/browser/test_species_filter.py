"""The species filter in a real browser: grouped by what was identified, soundscapes left out, and
filtering by an amphibian or by an unidentified animal draws their records."""
from __future__ import annotations

import pytest

from .conftest import import_demo_map, shot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def live(services, django_db_blocker):
    with django_db_blocker.unblock():
        import_demo_map()
    return services.web()


def test_species_filter_groups_entries_and_filters_by_them(live, page):
    page.goto(live + "/map/")
    page.wait_for_function("() => document.body.dataset.mapReady === '1'")
    groups = page.eval_on_selector_all("#f-species optgroup", "els => els.map(g => g.label)")
    assert groups == ["Birds", "Amphibians", "Identified above species"], groups   # the demo has no city sounds
    options = page.eval_on_selector_all(
        "#f-species optgroup", "els => Object.fromEntries(els.map(g => [g.label, [...g.children].map(o => o.textContent)]))")
    assert "Puerto Rican Coqui (Eleutherodactylus coqui)" in options["Amphibians"]
    assert options["Identified above species"] == ["Unidentified animal (kingdom Animalia)"]
    assert not any("Soundscape" in text for texts in options.values() for text in texts)
    assert all("(" in text for text in options["Birds"])
    page.select_option("#f-species", "Identity unknown")
    with page.expect_request(lambda r: "/api/v1/map/tiles/" in r.url and "species=Identity+unknown" in r.url):
        page.get_by_role("button", name="Apply filters").click()
    page.wait_for_function("() => window.dawnMap.map.loaded()")
    page.wait_for_timeout(500)
    page.locator("#f-species").scroll_into_view_if_needed()
    shot(page, "species-filter")
    assert page.errors == []
