"""Model download with hash check, species pack, and the API error contract, over real HTTP."""
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from mobile.api import ApiClient, ApiError
from mobile.modelstore import REGIONS, ModelDownloadError, ModelStore
from ml.runtime.classifier import DEFAULT_MODEL_PATH

MODEL = DEFAULT_MODEL_PATH.read_bytes()


def serve_model(server, data: bytes, sha: str | None = None, size: int | None = None):
    def current(h):
        server.asked_sets.append(parse_qs(urlsplit(h.path).query).get("set"))
        return 200, {"version": "field-phinet-2026.12-s20261206", "model_set": "field",
                     "sha256": sha or hashlib.sha256(data).hexdigest(), "size_bytes": len(data) if size is None else size,
                     "download_url": f"{server.url}/api/v1/models/v/download/"}

    server.asked_sets = []
    server.routes[("GET", "/api/v1/models/current/")] = current
    server.routes[("GET", "/api/v1/models/v/download/")] = lambda h: (200, data, {"Content-Type": "application/octet-stream"})


def test_download_verifies_the_hash_and_installs(tmp_path, fake_server):
    store = ModelStore(tmp_path)
    assert store.model_path() == DEFAULT_MODEL_PATH
    serve_model(fake_server, MODEL)
    info = store.update_model(ApiClient(fake_server.url, token="t"))
    assert fake_server.asked_sets == [["field"]]  # the server's one model set
    assert info["sha256"] == hashlib.sha256(MODEL).hexdigest() and info["model_set"] == "field"
    assert store.model_path().read_bytes() == MODEL and store.model_path() != DEFAULT_MODEL_PATH
    assert store.classifier().version == "field-phinet-2026.12-s20261206"
    n = len(fake_server.requests)
    store.update_model(ApiClient(fake_server.url, token="t"))  # unchanged: no second download
    assert len(fake_server.requests) == n + 1


@pytest.mark.parametrize("case", ["flipped_byte", "truncated", "longer", "not_a_model"])
def test_corrupt_downloads_are_refused_and_the_old_model_stays(tmp_path, fake_server, case):
    store = ModelStore(tmp_path)
    serve_model(fake_server, MODEL)
    store.update_model(ApiClient(fake_server.url))
    good = store.model_path()
    bad = bytearray(MODEL)
    bad[len(bad) // 2] ^= 0xFF
    if case == "flipped_byte":
        serve_model(fake_server, bytes(bad), sha=hashlib.sha256(b"something else").hexdigest())
    elif case == "truncated":
        serve_model(fake_server, MODEL[:1000], sha=hashlib.sha256(MODEL + b"v2").hexdigest(), size=len(MODEL))
    elif case == "longer":
        serve_model(fake_server, MODEL + b"extra", sha=hashlib.sha256(MODEL + b"extra").hexdigest(), size=len(MODEL))
    else:
        junk = b"PK\x03\x04 not really a model" * 10
        serve_model(fake_server, junk)
    with pytest.raises(ModelDownloadError) as exc:
        store.update_model(ApiClient(fake_server.url))
    assert exc.value.code == "model_corrupt"
    assert "previous model stays" in exc.value.message or "discarded" in exc.value.message
    assert store.model_path() == good and store.classifier().version == "field-phinet-2026.12-s20261206"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [good.name]


def test_no_model_on_server_falls_back_to_the_shipped_one(tmp_path, fake_server):
    store = ModelStore(tmp_path)
    with pytest.raises(ModelDownloadError) as exc:
        store.update_model(ApiClient(fake_server.url))
    assert exc.value.code == "no_model" and store.model_path() == DEFAULT_MODEL_PATH


def test_species_pack_download_and_bundled_fallback(tmp_path, fake_server):
    store = ModelStore(tmp_path)
    assert store.species_pack()["Bananaquit"]["scientific_name"] == "Coereba flaveola"  # bundled
    fake_server.routes[("GET", "/api/v1/species/")] = lambda h: (200, {"count": 1, "results": [
        {"label": "Bananaquit", "common_name": "Reinita", "description": "Pack entry", "band_hz": [2500, 11000]}]})
    assert store.update_species_pack(ApiClient(fake_server.url), REGIONS[0]) == 1
    assert store.species_pack()["Bananaquit"]["common_name"] == "Reinita" and store.region() == REGIONS[0]
    fake_server.routes[("GET", "/api/v1/species/")] = lambda h: (200, {"results": [{"no": "label"}]})
    with pytest.raises(ModelDownloadError):
        store.update_species_pack(ApiClient(fake_server.url), REGIONS[0])
    assert store.species_pack()["Bananaquit"]["common_name"] == "Reinita"


def test_api_errors_are_human_and_coded(fake_server):
    api = ApiClient(fake_server.url, token="t")
    fake_server.routes[("GET", "/api/v1/auth/me/")] = lambda h: (401, {"error": {"code": "authentication_failed",
                                                                                   "message": "Invalid token."}})
    with pytest.raises(ApiError) as exc:
        api.me()
    assert exc.value.code == "auth_required" and exc.value.auth_problem and not exc.value.retryable
    fake_server.routes[("GET", "/api/v1/auth/me/")] = lambda h: (500, b"Traceback...", {"Content-Type": "text/plain"})
    with pytest.raises(ApiError) as exc:
        api.me()
    assert exc.value.code == "server_error" and exc.value.retryable and "try again" in exc.value.message
    fake_server.routes[("GET", "/api/v1/auth/me/")] = lambda h: (200, b"{not json")
    with pytest.raises(ApiError) as exc:
        api.me()
    assert exc.value.code == "bad_response"
    api.connectivity.online = False
    with pytest.raises(ApiError) as exc:
        api.me()
    assert exc.value.code == "offline"
    dead = ApiClient("http://127.0.0.1:9", timeout_s=2)
    with pytest.raises(ApiError) as exc:
        dead.me()
    assert exc.value.code == "offline" and exc.value.retryable
