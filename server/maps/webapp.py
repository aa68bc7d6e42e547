"""Serve the built researchers' map (``webmap/dist/index.html``) at ``/map/``."""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from server.common.errors import json_error

DIST_DIR = settings.BASE_DIR / "webmap" / "dist"


def webmap_index(request: HttpRequest) -> HttpResponse:
    """The single-page app; its assets are static files under ``/static/webmap/``."""
    index = DIST_DIR / "index.html"
    if not index.is_file():
        return json_error("webmap_not_built",
                          "The web map is not built; run scripts/build_webmap.sh (make run does).", 503)
    response = HttpResponse(index.read_bytes(), content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response
