"""Browser tests: a live uvicorn (and Celery worker) on free ports against the test database,
driven by Debian's chromium through Playwright. Screenshots go to tests/artifacts/."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from django.conf import settings as dj_settings
from django.db import connection

from server.platform import redis as platform_redis

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
WAIT_MS = 90_000  # Playwright's default wait: generous, because the machine may be heavily loaded
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(scope="session", autouse=True)
def built_webmap():
    """The built app (scripts/build_webmap.sh; a no-op when nothing changed)."""
    subprocess.run(["bash", str(ROOT / "scripts" / "build_webmap.sh")], check=True)


class Services:
    def __init__(self, env: dict, tmp: Path):
        self.env, self.tmp, self.procs = env, tmp, []
        self.base_url = ""

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "wb")
        p = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(p)
        return p

    def web(self) -> str:
        port = free_port()
        self.start("web", [sys.executable, "-m", "uvicorn", "server.asgi:application", "--host", "127.0.0.1",
                           "--port", str(port), "--no-access-log", "--lifespan", "off"])
        self.base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(self.base_url + "/healthz", timeout=10).ok:
                    return self.base_url
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("uvicorn did not start: " + (self.tmp / "web.log").read_text()[-2000:])

    def worker(self) -> None:
        self.start("worker", [sys.executable, "-m", "celery", "-A", "server", "worker", "--pool=solo",
                              "-Q", self.env["DAWN_CELERY_QUEUE"], "-n", f"map-{uuid.uuid4().hex[:6]}@%h",
                              "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat"])

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def services(django_db_setup, django_db_blocker, tmp_path_factory):
    """One live uvicorn (+ worker on demand) per test module over committed data; the module's data
    is flushed at its end (the summary table empties with it, by its TRUNCATE trigger)."""
    from django.core.management import call_command

    from django.test import override_settings

    tmp = tmp_path_factory.mktemp("live")
    media = tmp / "media"
    # through override_settings, so that the file store forgets the folder an earlier module's writes cached
    media_root = override_settings(MEDIA_ROOT=media)
    media_root.enable()
    queue = dj_settings.CELERY_TASK_DEFAULT_QUEUE
    broker = platform_redis.client(dj_settings.CELERY_BROKER_URL)
    broker.delete(queue, "unacked", "unacked_index", "unacked_mutex")
    env = {**os.environ, "DATABASE_URL": database_url(), "MEDIA_ROOT": str(media), "REDIS_URL": dj_settings.REDIS_URL,
           "CELERY_BROKER_URL": dj_settings.CELERY_BROKER_URL, "DAWN_CELERY_QUEUE": queue, "PYTHONUNBUFFERED": "1",
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver"}
    from server.maps import generation

    with django_db_blocker.unblock():
        generation.bump()  # no tile cached by an earlier module may be reused
        svc = Services(env, tmp)
        try:
            yield svc
        finally:
            svc.stop()
            broker.delete(queue, "unacked", "unacked_index", "unacked_mutex")
            call_command("flush", interactive=False, verbosity=0)
            generation.bump()
            media_root.disable()


@pytest.fixture(scope="module")
def browser():
    """One chromium per module. Playwright's sync API runs an event loop in this thread, so Django
    must be told that ORM calls from the test bodies are not made from inside that loop."""
    from playwright.sync_api import sync_playwright

    old = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield b
            b.close()
    finally:
        if old is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = old


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    context.set_default_timeout(WAIT_MS)
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    yield pg
    context.close()


def shot(page, name: str) -> Path:
    path = ARTIFACTS / f"webmap-{name}.png"
    page.screenshot(path=str(path))
    return path


def click_observation(page, obs) -> None:
    """Zoom the map to ``obs``'s public point, click it as a user would (choosing it from the list when
    several recordings share the spot) and wait for its popup."""
    lng, lat = obs.public_location.x, obs.public_location.y
    page.evaluate(f"window.dawnMap.map.jumpTo({{center: [{lng}, {lat}], zoom: 16}})")
    page.wait_for_function(f"""() => window.dawnMap.map.loaded() && window.dawnMap.map
        .queryRenderedFeatures({{layers: ['points']}}).some(f => f.properties.id === {obs.pk})""")
    xy = page.evaluate(f"(() => {{ const p = window.dawnMap.map.project([{lng}, {lat}]); "
                       f"const r = window.dawnMap.map.getCanvas().getBoundingClientRect(); "
                       f"return [r.left + p.x, r.top + p.y]; }})()")
    page.mouse.click(*xy)
    if page.locator(".picks").count():
        page.locator(f".pick[data-id='{obs.pk}']").click()
    page.locator(f".popup-body[data-observation='{obs.pk}']").wait_for()


def import_demo_map() -> None:
    """The catalogue and the demo observations with the map summary rebuilt once (470 single-row saves skip its
    per-statement trigger; exact either way), and the public clip of XC173620 (Adelaide's Warbler, whose
    audio ships in fixtures/audio) that popups play. Call inside ``django_db_blocker.unblock()``."""
    from server.maps import summary
    from server.maps.public_clip_backfill import backfill
    from server.observations.demo_import import FIXTURE_OBSERVATIONS, import_observations
    from server.observations.models import Observation
    from server.species.catalogue import load_catalogue

    load_catalogue()
    with connection.cursor() as cur:
        cur.execute("ALTER TABLE observations_observation DISABLE TRIGGER maps_tilecell_ins")
    try:
        import_observations(FIXTURE_OBSERVATIONS)
    finally:
        with connection.cursor() as cur:
            cur.execute("ALTER TABLE observations_observation ENABLE TRIGGER maps_tilecell_ins")
    summary.rebuild()
    backfill(Observation.objects.filter(source_id="173620"))
