"""What one upload may cost: a small FLAC that declares minutes of 192 kHz stereo is refused by its
header at the API and in the analysis worker; one within the limits is accepted."""
from __future__ import annotations

import tracemalloc

import pytest

from ml.runtime.classifier import DEFAULT_MODEL_PATH, load_classifier
from server.recordings.analysis import analyse_audio
from server.recordings.models import Recording

from ..ml.test_audio_bounded_decode import silent_flac
from .conftest import metadata, submit

pytestmark = pytest.mark.django_db


def media_files(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return silent_flac(299, 192_000, 2)


def test_the_upload_declaring_299_s_at_192_khz_stereo_is_refused(api, catalogue, media_root, bomb):
    response = submit(api, bomb, metadata(), filename="take.flac")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "audio_bad_sample_rate" and "96000" in error["message"]
    assert Recording.objects.count() == 0 and media_files(media_root) == []


def test_299_s_at_96_khz_stereo_is_within_the_limits(api, catalogue):
    response = submit(api, silent_flac(299, 96_000, 2), metadata(), filename="take.flac")
    assert response.status_code == 201, response.content
    rec = Recording.objects.get()
    assert (rec.sample_rate, rec.channels, round(rec.duration_s)) == (96_000, 2, 299)


def test_the_analysis_worker_refuses_it_before_decoding(settings, bomb):
    """A file stored before the limits (or by another path) meets the same bounded decoder in the worker."""
    model = load_classifier(DEFAULT_MODEL_PATH)   # load the model outside the measurement
    analyse_audio(silent_flac(1, 48_000, 1), (0.0, 0.5), None, model)
    tracemalloc.start()
    try:
        outcome = analyse_audio(bomb, (0.0, 3.0), None, model)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome.reject_code == "audio_bad_sample_rate"
    assert peak < 4 * 2**20, peak
