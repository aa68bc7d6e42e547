"""The analysis task run in-process: outcomes, idempotency, duplicates, privacy, hostile files."""
from __future__ import annotations

import io
from datetime import timedelta

import numpy as np
import pytest
import soundfile as sf
from django.utils import timezone

from server.observations.models import Observation
from server.platform import redis as platform_redis
from server.platform import storage as files
from server.recordings import storage
from server.recordings.models import FingerprintHash, Recording, Status
from server.recordings.tasks import analyse_recording, sweep_stuck_recordings

from .conftest import client_for, metadata, submit

pytestmark = pytest.mark.django_db


def submitted(client, data: bytes, **overrides) -> Recording:
    response = submit(client, data, metadata(**overrides))
    assert response.status_code == 201, response.content
    return Recording.objects.get(pk=response.json()["id"])


def analysed(rec: Recording) -> Recording:
    analyse_recording(str(rec.pk))
    rec.refresh_from_db()
    return rec


def claim(label: str) -> dict:
    return {"identification": {"label": label, "confidence": 0.7, "model_version": "phone"}}


def test_bird_clip_becomes_an_observation(api, catalogue, bird_clips, player):
    clip = bird_clips[0]
    rec = analysed(submitted(api, clip.data, **claim(clip.label)))
    assert rec.status == Status.ACCEPTED, (rec.reject_code, rec.reject_reason, rec.analysis)
    obs = rec.observation
    assert obs.species.label == clip.label and obs.observer == player
    assert 0.0 <= obs.confidence <= 1.0 and obs.status in {"needs_id", "casual"}
    assert obs.location.equals(rec.location)
    assert rec.analysis["quality"]["passed"] is True
    assert rec.analysis["classification"]["ranked"]
    assert FingerprintHash.objects.filter(recording=rec).exists()
    features = client_for(None).get("/api/v1/observations/?bbox=-66,18,-65.5,18.5&source=app").json()["features"]
    assert [f["properties"]["species"] for f in features] == [clip.label]
    assert api.get(f"/api/v1/recordings/{rec.pk}/").json()["observation"]["species"] == clip.label


def test_without_a_claim_the_model_decides(api, catalogue, bird_clips):
    rec = analysed(submitted(api, bird_clips[1].data))
    top = rec.analysis.get("classification", {}).get("label")
    if rec.status == Status.ACCEPTED:
        assert rec.observation.species.label == top
    else:
        assert rec.reject_code == "unidentified" and top == "unknown"


def test_analysis_runs_once_even_if_delivered_twice(api, catalogue, bird_clips):
    rec = analysed(submitted(api, bird_clips[0].data, **claim(bird_clips[0].label)))
    assert analyse_recording(str(rec.pk)) == "skipped"
    assert Observation.objects.filter(recording=rec).count() == 1
    assert FingerprintHash.objects.filter(recording=rec).count() == len(
        set(FingerprintHash.objects.filter(recording=rec).values_list("hash", "offset")))


def test_replayed_audio_is_flagged(api, other_player, catalogue, bird_clips):
    first = analysed(submitted(api, bird_clips[0].data, **claim(bird_clips[0].label)))
    replay = analysed(submitted(client_for(other_player), bird_clips[0].data, **claim(bird_clips[0].label)))
    assert replay.status == Status.REJECTED and replay.reject_code == "duplicate_recording"
    assert replay.duplicate_of_id == first.pk
    assert not Observation.objects.filter(recording=replay).exists()
    assert storage.exists(replay.audio_path)  # kept for review


def test_reencoded_copy_is_flagged_by_fingerprint(api, catalogue, clips):
    ogg = next(c for c in clips if c.kind == "bird" and c.path.suffix == ".ogg"
               and any(o.path.stem.split("_")[0] == c.path.stem.split("_")[0] for o in clips
                       if o.path.suffix == ".wav"))
    wav = next(o for o in clips if o.path.suffix == ".wav" and o.path.stem.split("_")[0] == ogg.path.stem.split("_")[0])
    analysed(submitted(api, ogg.data, **claim(ogg.label)))
    copy = analysed(submitted(api, wav.data, **claim(ogg.label)))
    assert copy.reject_code == "duplicate_recording", copy.analysis


def test_different_recordings_are_not_duplicates(api, catalogue, bird_clips):
    a = analysed(submitted(api, bird_clips[0].data, **claim(bird_clips[0].label)))
    b = analysed(submitted(api, bird_clips[1].data, **claim(bird_clips[1].label)))
    assert a.reject_code != "duplicate_recording" and b.reject_code != "duplicate_recording"


def silence_wav(seconds: float = 3.0, sr: int = 24_000) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.zeros(int(seconds * sr)), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_silence_is_rejected_but_kept(api, catalogue):
    rec = analysed(submitted(api, silence_wav()))
    assert rec.status == Status.REJECTED and rec.reject_code == "quality_silent"
    assert rec.reject_reason and not Observation.objects.exists()
    assert storage.exists(rec.audio_path)
    body = api.get(f"/api/v1/recordings/{rec.pk}/").json()
    assert body["status"] == "rejected" and body["reject_code"] == "quality_silent"


def test_speech_is_muted_in_stored_audio(api, catalogue, clips, django_capture_on_commit_callbacks):
    speech = next(c for c in clips if c.path.name.startswith("speech"))
    rec = submitted(api, speech.data, segment={"start_s": 0.0, "end_s": 1.5})
    with django_capture_on_commit_callbacks(execute=True):
        rec = analysed(rec)
    assert rec.speech_muted is True
    assert rec.status == Status.REJECTED and rec.reject_code == "speech_detected"
    muted, _ = sf.read(io.BytesIO(storage.read_blob(rec.audio_path)))
    original, _ = sf.read(io.BytesIO(speech.data))
    assert rec.audio_path.endswith(".flac")
    assert np.sqrt(np.mean(muted ** 2)) < 0.2 * np.sqrt(np.mean(original ** 2))
    assert not storage.exists(storage.relative_path(rec.audio_sha256, "wav"))


def test_corrupt_stored_audio_is_rejected_with_reason(api, catalogue, bird_clips):
    rec = submitted(api, bird_clips[0].data)
    files.put(rec.audio_path, b"OggS" + b"\x00" * 500)
    rec = analysed(rec)
    assert rec.status == Status.REJECTED and rec.reject_code.startswith("audio_")


def test_missing_stored_audio_is_rejected(api, catalogue, bird_clips):
    rec = submitted(api, bird_clips[0].data)
    storage.delete_blob(rec.audio_path)
    rec = analysed(rec)
    assert rec.status == Status.REJECTED and rec.reject_code == "audio_missing"


def test_sensitive_claim_is_obscured_on_the_map(api, catalogue, bird_clips):
    rec = analysed(submitted(api, bird_clips[0].data, **claim("Puerto Rican Amazon")))
    assert rec.status == Status.ACCEPTED
    obs = rec.observation
    assert obs.obscured and not obs.public_location.equals(obs.location)
    other = client_for(None).get(f"/api/v1/observations/{obs.pk}/").json()
    assert other["geometry"]["coordinates"] == pytest.approx([obs.public_location.x, obs.public_location.y])
    assert other["properties"]["recording"] is None
    mine = api.get(f"/api/v1/observations/{obs.pk}/").json()
    assert mine["geometry"]["coordinates"] == pytest.approx([obs.location.x, obs.location.y])


def test_poison_recording_stops_after_max_attempts(api, catalogue, bird_clips):
    rec = submitted(api, bird_clips[0].data)
    Recording.objects.filter(pk=rec.pk).update(analysis_attempts=5, status=Status.PROCESSING)
    rec = analysed(rec)
    assert rec.status == Status.REJECTED and rec.reject_code == "analysis_failed"


def test_sweeper_requeues_only_stale_received_recordings(api, catalogue, bird_clips, settings):
    fresh = submitted(api, bird_clips[0].data)
    stale = submitted(api, bird_clips[1].data)
    never_queued = submitted(api, bird_clips[2].data)
    long_ago = timezone.now() - timedelta(minutes=10)
    Recording.objects.filter(pk=stale.pk).update(created_at=long_ago, enqueued_at=long_ago)
    Recording.objects.filter(pk=never_queued.pk).update(created_at=long_ago, enqueued_at=None)
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    broker = platform_redis.client(settings.CELERY_BROKER_URL)
    broker.delete(queue)
    try:
        assert sweep_stuck_recordings() == 2
        assert broker.llen(queue) == 2
        fresh.refresh_from_db()
        stale.refresh_from_db()
        assert stale.enqueued_at > long_ago and fresh.status == Status.RECEIVED
        assert sweep_stuck_recordings() == 0  # just re-queued: not again until it is stale
    finally:
        broker.delete(queue)
