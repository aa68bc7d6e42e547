"""Model registry: registration, promotion, the API phones download from, and the analysis task's model."""
from __future__ import annotations

import hashlib

import pytest
from django.core.management import CommandError, call_command

from ml.runtime.classifier import DEFAULT_MODEL_PATH
from ml.runtime.model_format import ModelFormatError, load_model_file, save_model
from server.modelregistry import services
from server.modelregistry.models import ModelVersion
from server.recordings import tasks
from server.recordings.models import Recording

from .conftest import client_for, metadata, submit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    services.forget_cached_current()
    yield
    services.forget_cached_current()


def variant(tmp_path, version: str, temperature: float = 2.0):
    """A copy of the shipped model under another version (a different file and sha256)."""
    header, arrays = load_model_file(DEFAULT_MODEL_PATH)
    header = {**header, "model_version": version, "temperature": temperature}
    path = tmp_path / f"{version}.npz"
    save_model(path, header, arrays)
    return path


def test_registering_is_idempotent_and_stores_the_file(tmp_path):
    first = services.register_model_file(DEFAULT_MODEL_PATH, "birds", source="shipped")
    again = services.register_model_file(DEFAULT_MODEL_PATH, "birds", source="shipped")
    assert first.pk == again.pk and ModelVersion.objects.count() == 1
    data = DEFAULT_MODEL_PATH.read_bytes()
    assert first.sha256 == hashlib.sha256(data).hexdigest() and first.size_bytes == len(data)
    assert services.file_path(first).read_bytes() == data
    assert first.architecture == "phinet" and len(first.labels) == 33  # the field model: 32 labels + no_target
    assert not first.is_current


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04" + b"\0" * 64])
def test_a_corrupt_file_is_refused_and_nothing_is_recorded(tmp_path, content):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(content)
    with pytest.raises(ModelFormatError):
        services.register_model_file(bad, "birds")
    assert not ModelVersion.objects.exists()


def test_unknown_model_set_is_refused(tmp_path):
    with pytest.raises(ModelFormatError, match="model set"):
        services.register_model_file(DEFAULT_MODEL_PATH, "dragons")


def test_promotion_keeps_one_current_model_and_the_analysis_task_follows_it(tmp_path, settings):
    settings.CLASSIFIER_MODEL_PATH = None
    a = services.register_model_file(variant(tmp_path, "test-a"), "birds", make_current=True)
    assert tasks.analysis_classifier().version == "test-a"
    b = services.register_model_file(variant(tmp_path, "test-b", 3.0), "birds", parent=a)
    services.promote(b)
    assert list(ModelVersion.objects.filter(is_current=True).values_list("version", flat=True)) == ["test-b"]
    assert services.current_classifier("birds").version == "test-b"
    assert tasks.analysis_classifier().version == "test-b"
    assert services.current_version("urban") is None


def test_the_analysis_task_classifies_with_the_current_model(tmp_path, settings, api, catalogue, bird_clips):
    settings.CLASSIFIER_MODEL_PATH = None
    services.register_model_file(variant(tmp_path, "test-task"), "birds", make_current=True)
    response = submit(api, bird_clips[0].data, metadata())
    assert response.status_code == 201, response.content
    tasks.analyse_recording(response.json()["id"])
    rec = Recording.objects.get(pk=response.json()["id"])
    heard = rec.analysis["classification"]
    assert heard["answers"]["field"]["model_version"] == "test-task", (rec.reject_code, rec.analysis)
    assert heard["model_version"].split("+")[0] == "test-task"  # the verdict names the field model first


def test_without_a_registered_model_the_shipped_default_is_used(settings):
    settings.CLASSIFIER_MODEL_PATH = None
    assert tasks.analysis_classifier().version == load_model_file(DEFAULT_MODEL_PATH)[0]["model_version"]


def test_api_serves_the_current_model_and_its_bytes(tmp_path, player):
    api = client_for(None)
    assert api.get("/api/v1/models/current/?set=birds").json()["error"]["code"] == "no_current_model"
    assert api.get("/api/v1/models/current/?set=dragons").json()["error"]["code"] == "invalid_model_set"
    mv = services.register_model_file(variant(tmp_path, "test-api"), "birds", make_current=True)
    r = api.get("/api/v1/models/current/?set=birds")
    assert r.status_code == 200
    body = r.json()
    assert body["version"] == "test-api" and body["sha256"] == mv.sha256 and body["is_current"]
    dl = api.get(body["download_url"])
    content = b"".join(dl.streaming_content)
    assert dl.status_code == 200 and hashlib.sha256(content).hexdigest() == mv.sha256
    assert dl["ETag"] == f'"{mv.sha256}"'
    assert api.get(body["download_url"], HTTP_IF_NONE_MATCH=f'"{mv.sha256}"').status_code == 304
    assert api.get("/api/v1/models/no-such-version/download/").status_code == 404
    listed = api.get("/api/v1/models/?set=birds").json()
    assert [m["version"] for m in listed["results"]] == ["test-api"]


def test_register_model_command(tmp_path, capsys):
    call_command("register_model", str(DEFAULT_MODEL_PATH), "--set", "birds", "--source", "shipped",
                 "--if-none-current")
    mv = ModelVersion.objects.get()
    assert mv.is_current and mv.source == "shipped"
    other = variant(tmp_path, "test-cmd")
    call_command("register_model", str(other), "--set", "birds", "--if-none-current")
    assert ModelVersion.objects.get(version="test-cmd").is_current is False
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"junk")
    with pytest.raises(CommandError, match="bad.npz"):
        call_command("register_model", str(bad), "--set", "birds")
