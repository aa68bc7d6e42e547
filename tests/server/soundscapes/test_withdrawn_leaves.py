"""A withdrawn (deleted) observation leaves the soundscapes at once: its cell is stale, the next read and
the rebuild task leave it out, the clip cut from its recording is gone (404), and so is the cell's mix of
that day."""
from __future__ import annotations

import pytest

from server.observations.models import Observation
from server.platform import storage as files
from server.soundscapes.cells import cell_of
from server.soundscapes.models import CellMix, CellSpec, Clip
from server.soundscapes.tasks import rebuild_live
from tests.server.test_record_terms import observed, upload

from .conftest import add_obs

pytestmark = pytest.mark.django_db


def recording_clips(spec: dict) -> list[dict]:
    return [s for s in spec["sources"] if s.get("clip") and Clip.objects.filter(
        sha256=s["clip"]["sha256"], kind=Clip.Kind.RECORDING).exists()]


def test_a_withdrawn_observation_leaves_its_cells_soundscape_clip_and_mix(api, catalogue,
                                                                       django_capture_on_commit_callbacks):
    obs = observed(upload(api))
    cell = cell_of(obs.public_location.y, obs.public_location.x)
    add_obs("Bananaquit", obs.public_location.y, obs.public_location.x, when=obs.observed_at)  # stays in the cell
    day = obs.observed_at.date()
    spec = api.get(f"/api/v1/soundscapes/cells/{cell}/", {"date": day.isoformat()}).json()
    assert "sources" in spec, spec
    (source,) = recording_clips(spec)       # the player's own take plays in its cell
    clip = Clip.objects.get(sha256=source["clip"]["sha256"])
    assert clip.recording_id == obs.recording_id and files.exists(clip.path)
    files.put("soundscapes/mixes/test-mix.ogg", b"OggS-mix")
    CellMix.objects.create(cell=cell, day=day, sha256="f" * 64, path="soundscapes/mixes/test-mix.ogg", clip_set="x",
                           n_clips=1, duration_s=60.0, loudness_lufs=-16.0, built_at=obs.observed_at)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/recordings/{obs.recording_id}/withdraw/")
    assert response.status_code == 200 and response.json()["observation_removed"] == obs.pk
    assert not Observation.objects.filter(pk=obs.pk).exists()
    assert CellSpec.objects.get(window="live", cell=cell).stale
    assert CellSpec.objects.get(window=day.isoformat(), cell=cell).stale
    assert not Clip.objects.filter(pk=clip.pk).exists() and not files.exists(clip.path)
    assert api.get(source["clip"]["url"]).status_code == 404
    assert not CellMix.objects.filter(cell=cell, day=day).exists()
    assert not files.exists("soundscapes/mixes/test-mix.ogg")

    after = api.get(f"/api/v1/soundscapes/cells/{cell}/", {"date": day.isoformat()}).json()
    assert recording_clips(after) == [] and [s["species"] for s in after["sources"]] == ["Bananaquit"]
    rebuild_live()
    live = CellSpec.objects.filter(window="live", cell=cell).first()
    assert live is not None and not live.stale
    assert all(s.get("clip", {}).get("sha256") != clip.sha256 for s in live.spec["sources"])
    assert recording_clips(api.get(f"/api/v1/soundscapes/cells/{cell}/").json()) == []
