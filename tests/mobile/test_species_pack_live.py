"""The species pack against the real server (uvicorn): the catalogue spans several pages of 50, and the
phone installs all of it — every bird of the model and every city sound, with scientific names."""
from __future__ import annotations

import pytest

from mobile.api import ApiClient
from mobile.modelstore import REGIONS, ModelStore
from ml.runtime.classifier import load_classifier
from tests.server.conftest import catalogue, media_root  # noqa: F401 - fixtures
from tests.server.test_workers import proc_env  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_the_whole_catalogue_reaches_the_phone(live_server_url, catalogue, tmp_path):  # noqa: F811
    from server.species.models import NAMED_CLASS_RANKS, Species

    for i in range(30):   # a catalogue beyond one page of 50, as the demo's (85 named classes)
        Species.objects.create(label=f"Test Warbler {i:02d}", common_name=f"Test Warbler {i:02d}",
                               scientific_name=f"Setophaga testii{i:02d}", band_low_hz=2000, band_high_hz=9000)
    named = Species.objects.filter(rank__in=NAMED_CLASS_RANKS)
    total = named.count()
    assert total > 50                                 # more than one page: the case that was cut short
    store = ModelStore(tmp_path)
    assert store.update_species_pack(ApiClient(live_server_url), REGIONS[0]) == total
    pack = store.species_pack()
    assert set(pack) == set(named.values_list("label", flat=True))
    assert {e["kind"] for e in pack.values()} >= {"bird", "urban"}
    assert pack["Test Warbler 29"]["band_hz"] == [2000, 9000] and pack["Test Warbler 29"]["scientific_name"]
    for path in ("fixtures/models/birds.npz", "fixtures/models/urban.npz"):
        labels = [lab for lab in load_classifier(path).labels if lab != "unknown"]
        assert [lab for lab in labels if lab not in pack] == [], path   # every class the models name
