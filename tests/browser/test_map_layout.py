"""The map a researcher recognises, in a real browser at desktop (1400×900) and phone (412×915) sizes: the
offline basemap labels towns, the legend and the obscured cells render, the species page charts a year of
weeks (zero weeks included) and the years with axes, Reset closes it, a popup fits the phone's screen, and
the admin draws a quest's area with no request leaving the machine. Screenshots: tests/artifacts/."""
from __future__ import annotations

import pytest
from server.accounts.models import Role
from server.game.models import Quest
from server.observations.models import Observation
from tests.server.conftest import make_user

from .conftest import ARTIFACTS, WAIT_MS, click_observation, import_demo_map

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420, func_only=True), pytest.mark.django_db]
PASSWORD = "correct horse battery"
DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 412, "height": 915}


@pytest.fixture(scope="module")
def live(services, django_db_blocker) -> str:
    with django_db_blocker.unblock():
        import_demo_map()
        make_user("warden", Role.ADMIN)
    return services.web()


def new_page(browser, size: dict, offline_log: list | None = None):
    """A page of the given size; with ``offline_log``, every request to another host is refused and logged."""
    context = browser.new_context(viewport=size)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    if offline_log is not None:
        def gate(route):
            host = route.request.url.split("/")[2] if "://" in route.request.url else ""
            if host.split(":")[0] in ("127.0.0.1", "localhost") or not route.request.url.startswith("http"):
                route.continue_()
            else:
                offline_log.append(route.request.url)
                route.abort()
        context.route("**/*", gate)
    return page


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"webmap-{name}.png"))


def open_map(page, base: str) -> None:
    page.goto(base + "/map/")
    page.wait_for_function("() => document.body.dataset.mapReady === '1'")
    page.wait_for_function("() => window.dawnMap.map.loaded()")


def inside(box: dict, outer: dict) -> bool:
    return (box["x"] >= outer["x"] - 0.5 and box["y"] >= outer["y"] - 0.5
            and box["x"] + box["width"] <= outer["x"] + outer["width"] + 0.5
            and box["y"] + box["height"] <= outer["y"] + outer["height"] + 0.5)


@pytest.mark.parametrize("size,name", [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_first_view_shows_the_island_with_towns_legend_and_obscured_cells(live, browser, size, name):
    offline: list[str] = []
    page = new_page(browser, size, offline)
    open_map(page, live)
    # the whole demo region is in view: every observation's public point
    extent = page.evaluate("window.dawnMap.config.extent")
    bounds = page.evaluate("(() => { const b = window.dawnMap.map.getBounds(); "
                           "return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; })()")
    assert bounds[0] <= extent[0] and bounds[1] <= extent[1] and bounds[2] >= extent[2] and bounds[3] >= extent[3]
    # towns are labelled (the symbol layer has rendered names; San Juan is the largest)
    page.wait_for_function("() => window.dawnMap.map.queryRenderedFeatures({layers: ['place-labels']}).length >= 3")
    towns = page.evaluate("window.dawnMap.map.queryRenderedFeatures({layers: ['place-labels']}).map(f => f.properties.name)")
    assert "San Juan" in towns, towns
    # obscured observations are cells at this zoom too, and every one of them is in a cell
    hidden = set(Observation.objects.filter(obscured=True).values_list("pk", flat=True))
    assert hidden
    page.wait_for_function("() => window.dawnMap.map.queryRenderedFeatures({layers: ['obscured-cells']}).length > 0")
    in_cells = page.evaluate("""async () => [...new Set((await window.dawnMap.map.getSource('obscured-cells').getData())
        .features.flatMap(f => JSON.parse(f.properties.ids)))]""")
    assert set(in_cells) == hidden
    # and no circle stands for sensitive records alone (it would sit at their public points, looking exact)
    sensitive = [s["label"] for s in page.evaluate("window.dawnMap.config.species") if s["sensitive"]]
    assert sensitive
    lone = page.evaluate(f"""window.dawnMap.map.queryRenderedFeatures({{layers: ['clusters']}})
        .filter(f => f.properties.species_count === 1 && {sensitive!r}.includes(f.properties.species)).length""")
    assert lone == 0
    shot(page, f"8-first-view-{name}")
    # the legend: colours of the commonest species, cluster sizes, the obscured mark
    legend = page.locator("#legend")
    if not legend.evaluate("e => e.open"):
        assert name == "phone"  # folded on phones, one tap opens it
        page.locator("#legend summary").click()
    text = legend.inner_text()
    assert "Obscured" in text and "1,000" in text and "other species" in text
    assert legend.locator(".species-list li").count() == 16
    # the attribution is folded to its button: it covers neither the scale bar nor the map
    attribution = page.locator(".maplibregl-ctrl-attrib")
    assert "maplibregl-compact-show" not in (attribution.get_attribute("class") or "")
    scale, attrib = page.locator(".maplibregl-ctrl-scale").bounding_box(), attribution.bounding_box()
    assert scale["x"] + scale["width"] <= attrib["x"] or scale["y"] + scale["height"] <= attrib["y"]
    shot(page, f"8-legend-{name}")
    assert offline == [] and page.errors == []
    page.context.close()


@pytest.mark.parametrize("size,name", [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_species_page_charts_weeks_and_years_with_axes_and_reset_closes_it(live, browser, size, name):
    page = new_page(browser, size)
    open_map(page, live)
    page.get_by_label("Species", exact=True).select_option(["Bananaquit"])
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_function("() => document.querySelectorAll('#abundance rect').length === 53")
    bars = page.evaluate("[...document.querySelectorAll('#abundance rect')].map(r => [r.dataset.week, r.getAttribute('class')])")
    assert [int(w) for w, _ in bars] == list(range(1, 54))
    assert any(c == "bar zero" for _, c in bars) and any(c == "bar" for _, c in bars)
    ticks = page.evaluate("[...document.querySelectorAll('#abundance text.tick')].map(t => t.textContent)")
    assert "0%" in ticks and "Jan" in ticks and "Dec" in ticks
    assert page.evaluate("[...document.querySelectorAll('#abundance text.axis-title')].map(t => t.textContent)") == [
        "% of observations", "Week of the year (ISO), all years pooled"]
    # per year: consecutive years, the empty ones drawn at zero
    years = page.evaluate("[...document.querySelectorAll('#per-year circle')].map(c => Number(c.dataset.year))")
    assert years == list(range(years[0], years[-1] + 1)) and len(years) > 1
    assert page.locator("#per-year circle.zero").count() > 0
    # label sizes are readable: at least 9 CSS px once the chart is laid out
    assert page.evaluate("Math.min(...[...document.querySelectorAll('#abundance text')].map(t => t.getBoundingClientRect().height))") >= 9
    assert page.evaluate("async () => (await window.dawnMap.map.getSource('species-grid').getData()).features.length") > 0
    assert "not a bird's route" in page.locator("#route-summary").inner_text()
    assert page.evaluate("""async () => (await window.dawnMap.map.getSource('route').getData()).features
        .filter(f => f.geometry.type === 'Point').length""") == 8
    page.locator("#species-page").scroll_into_view_if_needed()
    shot(page, f"9-species-{name}")
    page.get_by_role("button", name="Reset", exact=True).click()
    page.wait_for_function("() => document.getElementById('species-page').hidden")
    assert page.evaluate("async () => (await window.dawnMap.map.getSource('species-grid').getData()).features.length") == 0
    assert page.errors == []
    page.context.close()


def test_popup_fits_the_phone_screen(live, browser):
    page = new_page(browser, PHONE)
    open_map(page, live)
    warbler = Observation.objects.get(source_id="173620")
    click_observation(page, warbler)  # tapped on the map (chosen from the list: others share its locality)
    page.wait_for_function("() => document.querySelector('.popup-body img') && document.querySelector('.popup-body img').complete")
    page.wait_for_timeout(300)
    box = page.locator(".maplibregl-popup").bounding_box()
    canvas = page.locator("#map").bounding_box()
    assert inside(box, {"x": 0, "y": 0, **PHONE}) and inside(box, canvas), (box, canvas)
    # the player is not under the attribution or another control
    audio = page.locator(".popup-body audio")
    audio.scroll_into_view_if_needed()
    a = audio.bounding_box()
    top = page.evaluate(f"document.elementFromPoint({a['x'] + a['width'] / 2}, {a['y'] + a['height'] / 2}).tagName")
    assert top == "AUDIO"
    shot(page, "10-popup-phone")
    assert page.errors == []
    page.context.close()


def overlaps(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


@pytest.mark.parametrize("size,name", [(DESKTOP, "1400"), ({"width": 1280, "height": 860}, "1280"), (PHONE, "412")])
def test_a_popup_is_fully_visible_and_never_over_the_open_legend(live, browser, size, name):
    """The popup lies inside the map and the viewport; where it would sit over the open legend, the legend folds
    while the popup is open and opens again when it closes."""
    page = new_page(browser, size)
    open_map(page, live)
    legend_open = page.evaluate("document.getElementById('legend').open")
    assert legend_open is (size["width"] > 700)  # open on wide screens, folded on phones
    warbler = Observation.objects.get(source_id="173620")
    click_observation(page, warbler)
    page.wait_for_function("() => document.querySelector('.popup-body img') && document.querySelector('.popup-body img').complete")
    page.wait_for_timeout(300)
    box = page.locator(".maplibregl-popup").bounding_box()
    canvas = page.locator("#map").bounding_box()
    assert inside(box, {"x": 0, "y": 0, **size}) and inside(box, canvas), (box, canvas)
    legend = page.locator("#legend").bounding_box()
    assert not overlaps(box, legend), (box, legend)
    page.screenshot(path=str(ARTIFACTS / f"webmap-popup-legend-{name}.png"))
    folded = legend_open and not page.evaluate("document.getElementById('legend').open")
    page.locator(".maplibregl-popup-close-button").click()
    assert page.evaluate("document.getElementById('legend').open") is legend_open  # as it was before
    if folded:
        print(f"{name}: the legend folded under the popup")
    assert page.errors == []
    page.context.close()


def test_admin_draws_a_quest_area_offline_and_the_slug_fills_in(live, browser):
    offline: list[str] = []
    page = new_page(browser, DESKTOP, offline)
    page.goto(live + "/admin/login/?next=/admin/game/quest/add/")
    page.locator("#id_username").fill("warden")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_url("**/admin/game/quest/add/")
    page.locator("#id_title").fill("Tody count at Cayey")
    page.locator("#id_description").click()
    assert page.locator("#id_slug").input_value() == "tody-count-at-cayey"
    page.wait_for_function("() => window.dawnAreaWidgets && window.dawnAreaWidgets.length === 1")
    # the offline basemap drew: the land source has features and the canvas has pixels
    page.wait_for_function("""() => window.dawnAreaWidgets[0].map.getLayers().item(0).getLayers().item(0)
        .getSource().getFeatures().length > 100""")
    page.wait_for_timeout(500)
    area = page.locator(".dj_map")
    area.scroll_into_view_if_needed()
    box = area.bounding_box()
    assert box["height"] >= 300
    # draw a triangle: three clicks, then a click on the first corner closes it
    corners = [(0.4, 0.4), (0.6, 0.4), (0.5, 0.6), (0.4, 0.4)]
    for fx, fy in corners:
        page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
        page.wait_for_timeout(150)
    value = page.locator("textarea[name=area]").input_value()
    assert '"MultiPolygon"' in value, value
    shot(page, "11-admin-quest-area")
    for field, text in (("#id_starts_at_0", "2026-01-01"), ("#id_starts_at_1", "00:00:00"),
                        ("#id_ends_at_0", "2026-12-31"), ("#id_ends_at_1", "00:00:00")):
        page.locator(field).fill(text)
    page.locator("input[name=_save]").click()
    page.wait_for_url("**/admin/game/quest/")
    quest = Quest.objects.get(slug="tody-count-at-cayey")
    assert quest.area is not None and quest.area.geom_type == "MultiPolygon" and quest.area.area > 0
    assert offline == [], offline
    assert page.errors == []
    page.context.close()
