"""The Content-Security-Policy in a real browser: the web map, Swagger UI and the admin work under it.

Chromium reports every blocked script, style, worker, image or connection as a
``securitypolicyviolation`` event; each page is loaded and used, and must raise none.
"""
from __future__ import annotations

import pytest

from server.species.catalogue import load_catalogue
from tests.server.conftest import make_user

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300, func_only=True), pytest.mark.django_db]
RECORD_VIOLATIONS = """window.cspViolations = [];
document.addEventListener('securitypolicyviolation',
    e => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));"""


@pytest.fixture(scope="module")
def live(services, django_db_blocker) -> str:
    with django_db_blocker.unblock():
        load_catalogue()
        warden = make_user("warden", "admin")
        warden.is_superuser = True  # the changelist below needs the model permissions
        warden.save()
    return services.web()


@pytest.fixture
def csp_page(page):
    page.add_init_script(RECORD_VIOLATIONS)
    return page


def violations(page) -> list[str]:
    return page.evaluate("window.cspViolations")


def test_web_map_runs_under_the_policy(live, csp_page):
    csp_page.goto(live + "/map/")
    # predicates as functions: a string expression would be eval'ed in the page, which the policy forbids
    csp_page.wait_for_function("() => document.body.dataset.mapReady === '1'")
    csp_page.wait_for_function("() => window.dawnMap.map.loaded()")  # MapLibre's blob: workers have run
    assert violations(csp_page) == [] and csp_page.errors == []


def test_swagger_ui_renders_under_the_policy(live, csp_page):
    csp_page.goto(live + "/api/docs/")
    csp_page.wait_for_selector(".swagger-ui .info .title")
    csp_page.wait_for_selector("text=/api/v1/observations/")
    assert violations(csp_page) == [] and csp_page.errors == []


def test_admin_signs_in_under_the_policy(live, csp_page):
    csp_page.goto(live + "/admin/login/")
    csp_page.fill("#id_username", "warden")
    csp_page.fill("#id_password", "correct horse battery")
    csp_page.click("input[type=submit]")
    csp_page.wait_for_selector("#site-name")
    csp_page.goto(live + "/admin/species/species/")
    csp_page.wait_for_selector("#result_list")
    assert violations(csp_page) == [] and csp_page.errors == []
