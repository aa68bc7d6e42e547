"""Deployment settings and browser security headers (issue 24, findings 4 and 11).

pytest-django forces ``DEBUG = False`` for tests, so the deployed value of DEBUG is checked by
importing the settings module in a fresh interpreter with the environment ``make run`` gives it.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = ("import json, server.settings as s; print(json.dumps({'debug': s.DEBUG, 'key': s.SECRET_KEY, "
         "'hsts': s.SECURE_HSTS_SECONDS}))")


def deployed_settings(tmp_path: Path, **extra: str) -> dict:
    """server.settings as a fresh process sees it: the caller's environment without any DJANGO_* variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(DAWN_SECRET_KEY_FILE=str(tmp_path / "var" / "secret_key"), **extra)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_make_run_starts_without_debug_and_with_a_generated_secret(tmp_path):
    first = deployed_settings(tmp_path)
    assert first["debug"] is False and first["hsts"] == 365 * 86400
    key_file = tmp_path / "var" / "secret_key"
    assert key_file.read_text().strip() == first["key"] and len(first["key"]) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert deployed_settings(tmp_path)["key"] == first["key"]  # generated once, then reused
    for script in ("scripts/run.sh", "scripts/services.py", "scripts/bootstrap.sh", "Makefile"):
        assert "DJANGO_DEBUG" not in (ROOT / script).read_text(), script


def test_debug_only_when_asked(tmp_path):
    asked = deployed_settings(tmp_path, DJANGO_DEBUG="1", DJANGO_SECRET_KEY="from-the-environment")
    assert asked == {"debug": True, "key": "from-the-environment", "hsts": 0}
    assert deployed_settings(tmp_path, DJANGO_DEBUG="0")["debug"] is False


def test_an_empty_key_file_is_an_error_not_a_key(tmp_path):
    from server.common.secret_key import load_or_create

    path = tmp_path / "secret_key"
    path.write_text("\n")
    with pytest.raises(RuntimeError):
        load_or_create(path)


def csp(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in (part.strip() for part in header.split(";")) if d}


@pytest.mark.parametrize("url", ["/map/", "/admin/login/", "/api/docs/", "/api/v1/species/"])
def test_pages_send_a_content_security_policy(client, db, url):
    response = client.get(url)
    assert response.status_code == 200, url
    policy = csp(response)
    assert policy["script-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["default-src"] == ["'self'"]
    assert "blob:" in policy["worker-src"]  # MapLibre's workers


def test_swagger_ui_page_has_no_inline_script(client, db):
    html = client.get("/api/docs/").content.decode()
    assert "<script>" not in html and "script=" in html  # the split view's init script is a file


def test_hsts_on_https_responses(client, db, settings):
    assert settings.SECURE_HSTS_SECONDS == 365 * 86400
    assert client.get("/healthz", secure=True)["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in client.get("/healthz")  # browsers ignore it over plain HTTP
