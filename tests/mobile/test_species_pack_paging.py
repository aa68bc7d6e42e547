"""The species pack spans several pages: the phone follows ``next`` to the end, installs the whole list
at once, and keeps the previous pack when a page is missing, damaged, or the pages fall short of
``count``; the location/date prior reorders identification."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from mobile.api import ApiClient
from mobile.controller import FieldClient
from mobile.identify import identify
from mobile.modelstore import BUNDLED_SPECIES, REGIONS, ModelDownloadError, ModelStore
from ml.runtime.classifier import MODELS_DIR, load_classifier
from ml.runtime.prior import SpeciesPrior
from mobile.services.microphone import FileMicrophone

from .conftest import WARBLER

CATALOGUE = [{"id": i, "label": f"species_{i:03d}", "kind": "bird" if i < 75 else "city",
              "common_name": f"Species {i}", "scientific_name": f"Genus epithet{i}", "description": "d",
              "band_low_hz": 1000, "band_high_hz": 8000} for i in range(85)]
PAGE = 50


def serve_catalogue(server, entries=CATALOGUE, *, broken_page: int | None = None, count: int | None = None,
                    next_host: str | None = None):
    def species(handler):
        page = int(parse_qs(urlsplit(handler.path).query).get("page", ["1"])[0])
        if page == broken_page:
            return 500, {"error": {"code": "server_error", "message": "boom"}}
        chunk = entries[(page - 1) * PAGE: page * PAGE]
        more = page * PAGE < len(entries)
        host = next_host or server.url
        return 200, {"count": len(entries) if count is None else count,
                     "next": f"{host}/api/v1/species/?page={page + 1}" if more else None,
                     "previous": None, "results": chunk}
    server.routes[("GET", "/api/v1/species/")] = species


def test_every_page_is_followed_and_installed_at_once(tmp_path, fake_server):
    serve_catalogue(fake_server)
    store = ModelStore(tmp_path)
    assert store.update_species_pack(ApiClient(fake_server.url, token="t"), REGIONS[0]) == 85
    pack = store.species_pack()
    assert len(pack) == 85 and pack["species_084"]["kind"] == "city"
    assert pack["species_060"]["scientific_name"] == "Genus epithet60"
    assert pack["species_001"]["band_hz"] == [1000, 8000]   # the server's band fields, in the app's form
    pages = [r for r in fake_server.requests if r[1] == "/api/v1/species/"]
    assert len(pages) == 2 and all(r[2] == "Token t" for r in pages)


def test_next_links_naming_another_host_are_asked_of_our_server(tmp_path, fake_server):
    serve_catalogue(fake_server, next_host="http://attacker.invalid:1")
    store = ModelStore(tmp_path)
    assert store.update_species_pack(ApiClient(fake_server.url, token="t"), REGIONS[0]) == 85


@pytest.mark.parametrize("case", ["page_fails", "short_of_count"])
def test_a_truncated_pack_keeps_the_previous_one(tmp_path, fake_server, case):
    store = ModelStore(tmp_path)
    serve_catalogue(fake_server, CATALOGUE[:60])
    store.update_species_pack(ApiClient(fake_server.url), REGIONS[0])
    before = (tmp_path / "species.json").read_bytes()
    if case == "page_fails":
        serve_catalogue(fake_server, broken_page=2)
        with pytest.raises(Exception) as exc:
            store.update_species_pack(ApiClient(fake_server.url), REGIONS[0])
        assert getattr(exc.value, "code", "") == "server_error"
    else:
        serve_catalogue(fake_server, count=120)
        with pytest.raises(ModelDownloadError) as exc:
            store.update_species_pack(ApiClient(fake_server.url), REGIONS[0])
        assert exc.value.code == "species_pack_truncated" and "85 of 120" in exc.value.message
    assert (tmp_path / "species.json").read_bytes() == before and len(store.species_pack()) == 60


def test_setup_reports_a_truncated_pack_in_words_and_keeps_the_old_one(tmp_path, fake_server, services):
    serve_catalogue(fake_server, count=99)
    client = FieldClient(tmp_path / "app", fake_server.url, services)
    try:
        lines = client.choose_region(REGIONS[0])
    finally:
        client.close()
    text = " ".join(lines)
    assert "incomplete (85 of 99)" in text and "the bundled list is used" in text
    assert not (tmp_path / "app" / "models" / "species.json").exists()
    bundled = {e["label"] for e in json.loads(BUNDLED_SPECIES.read_text(encoding="utf-8"))}
    assert set(client.models.species_pack()) == bundled   # the pack shipped with the app


def feature(label, lat, lng, day="2026-04-10"):
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lng, lat]},
            "properties": {"species": label, "observed_at": f"{day}T06:00:00Z"}}


def test_the_prior_is_downloaded_with_paging_and_reorders_identification(tmp_path, fake_server):
    # a model whose top two labels on this clip lie within the prior's factor of ten (the default field model is
    # too sure of the warbler for a prior to overturn it): the test is about the prior's download and use
    clf = load_classifier(MODELS_DIR / "baseline.npz")
    mic = FileMicrophone(WARBLER)
    x, sr = mic.samples[: 3 * mic.sample_rate], mic.sample_rate
    plain = identify(clf, x, sr)
    ranked = [plain.label] + [lab for lab, _ in plain.alternatives]
    top, runner_up = ranked[0], ranked[1]
    lat, lng = REGIONS[0].center

    def observations(handler):
        page = int(parse_qs(urlsplit(handler.path).query).get("page", ["1"])[0])
        feats = [feature(runner_up, lat + 0.001 * i, lng, ) for i in range(20)] if page == 1 else \
            [feature(top, 17.9, -67.9, "2026-10-01")]   # the model's favourite: far away, months off
        return 200, {"type": "FeatureCollection", "count": 21,
                     "next": f"{fake_server.url}/api/v1/observations/?page=2" if page == 1 else None,
                     "features": feats + [{"type": "Feature", "geometry": None, "properties": {}}]}
    fake_server.routes[("GET", "/api/v1/observations/")] = observations
    store = ModelStore(tmp_path)
    assert store.update_prior(ApiClient(fake_server.url), REGIONS[0]) == 21
    prior = store.prior()
    assert isinstance(prior, SpeciesPrior)
    from datetime import date

    weights = prior.weights(lat, lng, date(2026, 4, 12))
    assert weights[runner_up] == pytest.approx(1.0) and weights[top] < 0.1
    with_prior = identify(clf, x, sr, prior_weights=weights)
    assert with_prior.label == runner_up or (with_prior.label == "unknown"
                                             and with_prior.alternatives[0][0] == runner_up)
    assert json.loads((tmp_path / "prior.json").read_text())[0]["species"] == runner_up
