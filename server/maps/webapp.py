"""Serve the built researchers' map (``webmap/dist/index.html``) at ``/map/`` and its review page
(``webmap/dist/review.html``) at ``/map/review/``."""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from server.common.errors import json_error

DIST_DIR = settings.BASE_DIR / "webmap" / "dist"


def built_page(name: str) -> HttpResponse:
    """One built HTML page of the web map (``webmap/dist/<name>``), or 503 ``webmap_not_built``."""
    page = DIST_DIR / name
    if not page.is_file():
        return json_error("webmap_not_built",
                          "The web map is not built; run scripts/build_webmap.sh (make run does).", 503)
    response = HttpResponse(page.read_bytes(), content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response


def webmap_index(request: HttpRequest) -> HttpResponse:
    """The map; its assets are static files under ``/static/webmap/``."""
    return built_page("index.html")


def webmap_review(request: HttpRequest) -> HttpResponse:
    """The researchers' review page (``webmap/review.html``); the API decides who may use it."""
    return built_page("review.html")
