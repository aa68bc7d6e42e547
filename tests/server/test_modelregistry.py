"""Model registry: registration, promotion, the API phones download from, and the analysis task's model."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from ml.runtime.classifier import DEFAULT_MODEL_PATH, MODELS_DIR
from ml.runtime.model_format import ModelFormatError, load_model_file, save_model
from server.modelregistry import services
from server.platform import storage as files
from server.modelregistry.models import ModelVersion
from server.recordings import tasks
from server.recordings.models import Recording

from .conftest import client_for, metadata, submit

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
BIRDS_MODEL, URBAN_MODEL = MODELS_DIR / "birds.npz", MODELS_DIR / "urban.npz"   # headers name birds / urban


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
    first = services.register_model_file(DEFAULT_MODEL_PATH, "field", source="shipped")
    again = services.register_model_file(DEFAULT_MODEL_PATH, "field", source="shipped")
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
        services.register_model_file(bad, "field")
    assert not ModelVersion.objects.exists()


def test_unknown_model_set_is_refused(tmp_path):
    with pytest.raises(ModelFormatError, match="model set"):
        services.register_model_file(DEFAULT_MODEL_PATH, "dragons")
    assert not ModelVersion.objects.exists()


def test_every_file_joins_the_field_set_and_birds_is_its_old_name(tmp_path):
    assert load_model_file(BIRDS_MODEL)[0]["model_set"] == "birds"   # a header naming the old set
    assert services.register_model_file(BIRDS_MODEL).model_set == "field"
    assert services.register_model_file(variant(tmp_path, "test-alias"), "birds").model_set == "field"
    assert services.register_model_file(DEFAULT_MODEL_PATH).model_set == "field"   # no header set, none given


@pytest.mark.parametrize("how", ["header", "argument"])
def test_a_file_of_the_retired_urban_set_is_refused_and_nothing_is_stored(media_root, how):
    path, requested = (URBAN_MODEL, None) if how == "header" else (DEFAULT_MODEL_PATH, "urban")
    with pytest.raises(ModelFormatError, match="urban set is retired: the field model covers city sounds"):
        services.register_model_file(path, requested)
    with pytest.raises(ModelFormatError, match="urban set is retired"):
        services.register_model_file(URBAN_MODEL, "field")  # the header's set counts too
    assert not ModelVersion.objects.exists()
    assert not files.exists(services.stored_path(hashlib.sha256(path.read_bytes()).hexdigest()))
    assert not any(Path(media_root).rglob("*.npz"))


def test_promotion_keeps_one_current_model_and_the_analysis_task_follows_it(tmp_path, settings):
    settings.CLASSIFIER_MODEL_PATH = None
    a = services.register_model_file(variant(tmp_path, "test-a"), "field", make_current=True)
    assert tasks.analysis_classifier().version == "test-a"
    b = services.register_model_file(variant(tmp_path, "test-b", 3.0), "field", parent=a)
    services.promote(b)
    assert list(ModelVersion.objects.filter(is_current=True).values_list("version", flat=True)) == ["test-b"]
    assert services.current_classifier().version == "test-b" == services.current_version().version
    assert tasks.analysis_classifier().version == "test-b"


def test_the_analysis_task_classifies_with_the_current_model(tmp_path, settings, api, catalogue, bird_clips):
    settings.CLASSIFIER_MODEL_PATH = None
    services.register_model_file(variant(tmp_path, "test-task"), make_current=True)
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
    assert api.get("/api/v1/models/current/").json()["error"]["code"] == "no_current_model"
    mv = services.register_model_file(variant(tmp_path, "test-api"), "field", make_current=True)
    r = api.get("/api/v1/models/current/?set=field")
    assert r.status_code == 200
    body = r.json()
    assert body["version"] == "test-api" and body["sha256"] == mv.sha256 and body["is_current"]
    assert body["model_set"] == "field"
    dl = api.get(body["download_url"])
    content = b"".join(dl.streaming_content)
    assert dl.status_code == 200 and hashlib.sha256(content).hexdigest() == mv.sha256
    assert dl["ETag"] == f'"{mv.sha256}"'
    assert api.get(body["download_url"], HTTP_IF_NONE_MATCH=f'"{mv.sha256}"').status_code == 304
    assert api.get("/api/v1/models/no-such-version/download/").status_code == 404
    listed = api.get("/api/v1/models/?set=field").json()
    assert [m["version"] for m in listed["results"]] == ["test-api"]


@pytest.mark.parametrize("asked", ["", "?set=field", "?set=birds", "?set=urban"])
def test_old_app_versions_asking_for_a_set_before_issue_25_get_the_field_model(tmp_path, asked):
    api = client_for(None)
    mv = services.register_model_file(variant(tmp_path, "test-legacy"), make_current=True)
    services.register_model_file(variant(tmp_path, "test-older"))
    r = api.get(f"/api/v1/models/current/{asked}")
    assert r.status_code == 200 and r.json()["version"] == "test-legacy" and r["ETag"] == f'"{mv.sha256}"'
    listed = api.get(f"/api/v1/models/{asked}").json()["results"]
    assert sorted(m["version"] for m in listed) == ["test-legacy", "test-older"]


@pytest.mark.parametrize("asked", ["dragons", "Field", "", "field ", "birds,urban"])
def test_an_unknown_set_is_400_invalid_model_set(tmp_path, asked):
    api = client_for(None)
    services.register_model_file(variant(tmp_path, "test-unknown"), make_current=True)
    for url in ("/api/v1/models/current/", "/api/v1/models/"):
        r = api.get(url, {"set": asked})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_model_set", (url, r.content)
        assert r.json()["error"]["message"].endswith("use 'field'."), r.content  # the set's name, not the enum's


def test_register_model_command(tmp_path, capsys):
    call_command("register_model", str(DEFAULT_MODEL_PATH), "--set", "field", "--source", "shipped",
                 "--if-none-current")
    mv = ModelVersion.objects.get()
    assert mv.is_current and mv.source == "shipped" and mv.model_set == "field"
    other = variant(tmp_path, "test-cmd")
    call_command("register_model", str(other), "--set", "birds", "--if-none-current")  # birds: the old name
    assert ModelVersion.objects.get(version="test-cmd").is_current is False
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"junk")
    with pytest.raises(CommandError, match="bad.npz") as exc:
        call_command("register_model", str(bad), "--set", "field")
    assert exc.value.returncode == 2


@pytest.mark.parametrize("args", [[str(URBAN_MODEL)], ["PLACEHOLDER", str(URBAN_MODEL)],
                                  ["PLACEHOLDER", "--set", "urban"]])
def test_register_model_refuses_the_urban_set_and_registers_nothing(tmp_path, media_root, args):
    args = [str(variant(tmp_path, "test-first")) if a == "PLACEHOLDER" else a for a in args]
    with pytest.raises(CommandError, match="urban set is retired: the field model covers city sounds") as exc:
        call_command("register_model", *args, "--current")
    assert exc.value.returncode == 2
    assert not ModelVersion.objects.exists() and not any(Path(media_root).rglob("*.npz"))


def test_register_model_exits_with_status_2_on_the_urban_set(tmp_path):
    """The exit status a shell sees (``call_command`` raises instead of exiting)."""
    done = subprocess.run([sys.executable, "manage.py", "register_model", str(URBAN_MODEL)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "the urban set is retired: the field model covers city sounds" in done.stderr


def test_the_admin_promotes_exactly_one_version(tmp_path, admin_user, client):
    a = services.register_model_file(variant(tmp_path, "test-adm-a"), make_current=True)
    b = services.register_model_file(variant(tmp_path, "test-adm-b"))
    admin_user.is_superuser = True  # the admin role alone holds no model permissions
    admin_user.save()
    client.force_login(admin_user)
    url = "/admin/modelregistry/modelversion/"
    assert client.get(url, {"is_current__exact": "1"}).status_code == 200
    both = client.post(url, {"action": "promote_selected", "_selected_action": [a.pk, b.pk]}, follow=True)
    assert "Select exactly one version" in both.content.decode()
    assert services.current_version().pk == a.pk
    client.post(url, {"action": "promote_selected", "_selected_action": [b.pk]}, follow=True)
    assert services.current_version().pk == b.pk
    assert list(ModelVersion.objects.filter(is_current=True).values_list("version", flat=True)) == ["test-adm-b"]
