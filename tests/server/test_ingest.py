"""POST /api/v1/recordings/: the happy path, idempotency, and hostile input (nothing stored)."""
from __future__ import annotations

import io
import struct
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import soundfile as sf

from server.recordings.models import Recording, Status

from .conftest import client_for, metadata, submit

pytestmark = pytest.mark.django_db


def wav_bytes(seconds: float = 1.0, sr: int = 24_000) -> bytes:
    t = np.arange(int(seconds * sr)) / sr
    buf = io.BytesIO()
    sf.write(buf, 0.3 * np.sin(2 * np.pi * 3000 * t), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def wav_with_header_rate(rate: int) -> bytes:
    """A syntactically valid 16-bit PCM WAV whose header claims ``rate`` Hz."""
    pcm = (np.zeros(800, dtype=np.int16)).tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(pcm)) + pcm
    return b"RIFF" + struct.pack("<I", len(body)) + body


def media_files(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def assert_rejected(response, status: int, code: str, media_root) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    assert Recording.objects.count() == 0
    assert media_files(media_root) == []


def test_submission_is_stored_content_addressed(api, catalogue, bird_clips, media_root, player):
    clip = bird_clips[0]
    meta = metadata(identification={"label": clip.label, "confidence": 0.8, "model_version": "phone-1"})
    response = submit(api, clip.data, meta, filename=clip.path.name)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == Status.RECEIVED and body["created"] is True
    rec = Recording.objects.get(pk=body["id"])
    assert rec.owner == player
    assert rec.claimed_species.label == clip.label
    assert rec.audio_format == "ogg" and rec.sample_rate == 48_000 and rec.duration_s > 3
    import hashlib
    sha = hashlib.sha256(clip.data).hexdigest()
    assert rec.audio_sha256 == sha
    stored = media_root / "audio" / sha[:2] / sha[2:4] / f"{sha}.ogg"
    assert stored.read_bytes() == clip.data
    assert rec.location.y == pytest.approx(18.296) and rec.location.x == pytest.approx(-65.785)


@pytest.mark.parametrize("clip_suffix", [".wav", ".flac", ".mp3"])
def test_other_containers_are_accepted(api, catalogue, clips, clip_suffix):
    matching = [c for c in clips if c.path.suffix == clip_suffix]
    if not matching:
        pytest.fail(f"fixtures/audio has no {clip_suffix} clip")
    clip = matching[0]
    response = submit(api, clip.data, metadata(segment={"start_s": 0.0, "end_s": 1.0}), filename=clip.path.name)
    assert response.status_code == 201, response.content
    assert Recording.objects.get().audio_format == clip_suffix[1:]


def test_repeated_idempotency_key_returns_original(api, catalogue, bird_clips):
    meta = metadata()
    first = submit(api, bird_clips[0].data, meta)
    again = submit(api, bird_clips[0].data, meta)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["created"] is False
    assert Recording.objects.count() == 1


def test_same_key_with_other_audio_is_a_conflict(api, catalogue, bird_clips):
    meta = metadata()
    assert submit(api, bird_clips[0].data, meta).status_code == 201
    response = submit(api, bird_clips[1].data, meta)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Recording.objects.count() == 1


def test_same_key_from_another_player_is_independent(api, other_player, catalogue, bird_clips):
    meta = metadata()
    a = submit(api, bird_clips[0].data, meta)
    b = submit(client_for(other_player), bird_clips[0].data, meta)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


BAD_AUDIO = {
    "non_audio": (b"<html><body>not audio</body></html>", 400, "audio_unsupported_format"),
    "zero_length": (b"", 400, "audio_empty"),
    "corrupt_ogg": (b"OggS" + bytes(range(256)) * 8, 400, "audio_corrupt"),
    "corrupt_wav": (b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk" + b"\x00" * 64, 400, "audio_corrupt"),
    "no_samples": (wav_bytes(0.0), 400, "audio_empty"),
    "rate_too_low": (wav_bytes(1.0, sr=4_000), 400, "audio_bad_sample_rate"),
    "rate_absurd": (wav_with_header_rate(1_000_000), 400, "audio_bad_sample_rate"),
}


@pytest.mark.parametrize("case", sorted(BAD_AUDIO))
def test_bad_audio_is_rejected_and_nothing_stored(api, catalogue, media_root, case):
    data, status, code = BAD_AUDIO[case]
    response = submit(api, data, metadata(segment={"start_s": 0.0, "end_s": 0.01}))
    if case == "rate_absurd" and response.json()["error"]["code"] == "audio_corrupt":
        code = "audio_corrupt"  # libsndfile may refuse such a header outright; both are clear refusals
    assert_rejected(response, status, code, media_root)


def test_file_over_size_limit(api, catalogue, settings, media_root):
    settings.MAX_UPLOAD_BYTES = 20_000
    assert_rejected(submit(api, wav_bytes(2.0), metadata(segment={"start_s": 0, "end_s": 1})),
                    413, "audio_too_large", media_root)


def test_body_over_limit_is_refused_before_parsing(api, settings):
    settings.MAX_UPLOAD_BYTES = 1024
    response = api.generic("POST", "/api/v1/recordings/", b"x" * 400_000,
                           content_type="multipart/form-data; boundary=zzz")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_audio_over_duration_limit(api, catalogue, settings, media_root):
    settings.MAX_AUDIO_SECONDS = 2
    assert_rejected(submit(api, wav_bytes(3.0), metadata(segment={"start_s": 0, "end_s": 1})),
                    400, "audio_too_long", media_root)


def future() -> str:
    return (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()


BAD_METADATA = {
    "lat_out_of_range": ({"location": {"lat": 91.0, "lng": 0.0, "accuracy_m": 5}}, "invalid_coordinates"),
    "lng_out_of_range": ({"location": {"lat": 0.0, "lng": -180.5, "accuracy_m": 5}}, "invalid_coordinates"),
    "missing_accuracy": ({"location": {"lat": 18.0, "lng": -66.0}}, "missing_accuracy"),
    "null_accuracy": ({"location": {"lat": 18.0, "lng": -66.0, "accuracy_m": None}}, "missing_accuracy"),
    "negative_accuracy": ({"location": {"lat": 18.0, "lng": -66.0, "accuracy_m": -3}}, "invalid_accuracy"),
    "lat_as_text": ({"location": {"lat": "north", "lng": -66.0, "accuracy_m": 5}}, "invalid_coordinates"),
    "in_future": ({"recorded_at": future()}, "timestamp_in_future"),
    "before_2000": ({"recorded_at": "1999-12-31T23:59:00Z"}, "timestamp_too_old"),
    "not_a_time": ({"recorded_at": "yesterday"}, "invalid"),
    "segment_reversed": ({"segment": {"start_s": 2.0, "end_s": 1.0}}, "invalid_segment"),
    "segment_outside_audio": ({"segment": {"start_s": 1.0, "end_s": 600.0}}, "segment_out_of_range"),
    "segment_nan": ({"segment": {"start_s": float("nan"), "end_s": 1.0}}, "invalid_metadata"),
    "accuracy_infinite": ({"location": {"lat": 18.0, "lng": -66.0, "accuracy_m": float("inf")}},
                          "invalid_metadata"),
    "segment_starts_at_end": ({"segment": {"start_s": 6.0, "end_s": 6.04}}, "segment_out_of_range"),
    "unknown_species": ({"identification": {"label": "Dodo", "confidence": 0.9}}, "unknown_species"),
    "confidence_above_one": ({"identification": {"label": "unknown", "confidence": 7}}, "invalid"),
    "short_key": ({"idempotency_key": "abc"}, "invalid"),
    "device_nested": ({"device": {"model": {"deep": "x"}}}, "invalid_device"),
}


@pytest.mark.parametrize("case", sorted(BAD_METADATA))
def test_bad_metadata_is_rejected_and_nothing_stored(api, catalogue, bird_clips, media_root, case):
    override, code = BAD_METADATA[case]
    response = submit(api, bird_clips[0].data, metadata(**override))
    assert_rejected(response, 400, code, media_root)
    assert response.json()["error"]["fields"], response.json()


def test_metadata_must_be_json_object(api, catalogue, bird_clips, media_root):
    from django.core.files.uploadedfile import SimpleUploadedFile

    for raw, code in [("{not json", "invalid_metadata"), ("[1, 2]", "invalid_metadata")]:
        upload = SimpleUploadedFile("a.ogg", bird_clips[0].data)
        response = api.post("/api/v1/recordings/", {"audio": upload, "metadata": raw}, format="multipart")
        assert_rejected(response, 400, code, media_root)
    response = api.post("/api/v1/recordings/", {"audio": SimpleUploadedFile("a.ogg", bird_clips[0].data)},
                        format="multipart")
    assert_rejected(response, 400, "metadata_missing", media_root)
    import json
    response = api.post("/api/v1/recordings/", {"metadata": json.dumps(metadata())}, format="multipart")
    assert_rejected(response, 400, "audio_missing", media_root)


def test_submission_needs_a_token(catalogue, bird_clips, media_root):
    response = submit(client_for(None), bird_clips[0].data, metadata())
    assert_rejected(response, 401, "not_authenticated", media_root)
    bad = client_for(None)
    bad.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert_rejected(submit(bad, bird_clips[0].data, metadata()), 401, "authentication_failed", media_root)


def test_players_see_only_their_own_recordings(api, other_player, researcher, admin_user, catalogue, bird_clips):
    rec_id = submit(api, bird_clips[0].data, metadata()).json()["id"]
    other = client_for(other_player)
    assert other.get(f"/api/v1/recordings/{rec_id}/").status_code == 404
    assert other.get(f"/api/v1/recordings/{rec_id}/audio/").status_code == 404
    assert other.get("/api/v1/recordings/").json()["results"] == []
    assert [r["id"] for r in api.get("/api/v1/recordings/").json()["results"]] == [rec_id]
    own = api.get(f"/api/v1/recordings/{rec_id}/")
    assert own.status_code == 200 and own.json()["status"] == "received"
    assert api.get(f"/api/v1/recordings/{rec_id}/audio/").status_code == 200
    for privileged in (researcher, admin_user):
        client = client_for(privileged)
        assert client.get(f"/api/v1/recordings/{rec_id}/").status_code == 200
        audio = client.get(f"/api/v1/recordings/{rec_id}/audio/")   # a tag-free copy (test_public_clips.py)
        assert audio.status_code == 200 and audio["Content-Type"] == "audio/flac"
        copy, _ = sf.read(io.BytesIO(b"".join(audio.streaming_content)), dtype="float32")
        assert copy.shape[0] == sf.info(io.BytesIO(bird_clips[0].data)).frames
    assert client_for(None).get(f"/api/v1/recordings/{rec_id}/").status_code == 401


def test_unknown_recording_id_is_404_json(api):
    response = api.get("/api/v1/recordings/not-a-uuid/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_replay_after_the_session_token_expired_still_returns_the_original(api, catalogue, bird_clips, settings):
    from .conftest import session_token

    meta = metadata(session_token=session_token(api))
    first = submit(api, bird_clips[0].data, meta)
    assert first.status_code == 201
    settings.RECORDING_TOKEN_UPLOAD_TTL_S = 0          # the phone retries long after: its token has expired
    replay = submit(api, bird_clips[0].data, meta)
    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]
    fresh = submit(api, bird_clips[1].data, metadata(session_token=meta["session_token"]))
    assert fresh.status_code == 403 and fresh.json()["error"]["code"] == "recording_token_expired"


def test_an_upload_costs_few_queries(api, catalogue, bird_clips, django_assert_max_num_queries):
    submit(api, bird_clips[0].data, metadata(identification={"label": bird_clips[1].label}))   # warm caches
    meta = metadata(identification={"label": bird_clips[1].label})
    from .conftest import session_token
    meta["session_token"] = session_token(api)
    # token auth (knox: token, then its user), one lookup of key + session token, the INSERT that also takes
    # the audio file's lock, in its own transaction (BEGIN/COMMIT; a savepoint pair inside the test's transaction)
    with django_assert_max_num_queries(6):
        assert submit(api, bird_clips[1].data, meta).status_code == 201


def test_a_species_withdrawn_from_claims_is_refused_at_once(api, catalogue, bird_clips):
    from server.species.models import Species

    label = bird_clips[0].label
    assert submit(api, bird_clips[0].data, metadata(identification={"label": label})).status_code == 201
    Species.objects.filter(label=label).update(identifiable=False)   # queryset update: no signal
    Species.objects.get(label=label).save()                          # an admin save: clears the cache
    response = submit(api, bird_clips[1].data, metadata(identification={"label": label}))
    assert response.status_code == 400 and response.json()["error"]["code"] == "unknown_species"


def test_the_insert_writes_every_column_of_the_model():
    from server.recordings.submission_sql import INSERT_COLUMNS

    assert sorted(INSERT_COLUMNS) == sorted(f.column for f in Recording._meta.concrete_fields)


def test_the_prior_submission_lookup_uses_its_indexes_in_a_generic_plan(db):
    """psycopg prepares a statement after five runs, and PostgreSQL may then keep a generic plan:
    the lookup must not fall back to scanning the whole table there."""
    from django.db import connection

    from server.recordings.submission_sql import _PRIOR

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("PREPARE prior_lookup AS " + _PRIOR.replace("%s", "$1", 1).replace("%s", "$2", 1)
                       .replace("%s", "$3", 1), [])
        cursor.execute("EXPLAIN EXECUTE prior_lookup(1, 'k', 'n')")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE prior_lookup")
    assert "Seq Scan" not in plan and plan.count("Index") >= 2, plan


def test_concurrent_twins_of_one_submission_store_one_recording(api, catalogue, bird_clips, monkeypatch):
    """Two uploads with the same key racing past the lookup: the INSERT of the second conflicts and it
    returns the first's recording (no error, no second row)."""
    from server.recordings import submission_sql

    meta = metadata()
    first = submit(api, bird_clips[0].data, meta).json()
    real_lookup = submission_sql.prior_submissions
    calls = []

    def blind_first_lookup(*args):  # the twin's first lookup ran before the first upload committed
        calls.append(args)
        return (None, False) if len(calls) == 1 else real_lookup(*args)

    monkeypatch.setattr("server.recordings.ingest.prior_submissions", blind_first_lookup)
    twin = submit(api, bird_clips[0].data, meta)
    assert twin.status_code == 200 and twin.json()["id"] == first["id"] and len(calls) == 2
    assert Recording.objects.count() == 1
