"""Stored audio follows the transaction: failed or lost uploads leave no file, and the sweeper
removes unreferenced old files while keeping referenced and fresh ones."""
from __future__ import annotations

import io
import json
import os
import threading
import time

import numpy as np
import pytest
import soundfile as sf
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction

from server.recordings import blob_refs, orphans, storage
from server.recordings.models import Recording

from .conftest import client_for, metadata, submit


def media_files(root) -> list:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def tone_wav(freq: float, seconds: float = 3.5, sr: int = 16_000) -> bytes:
    t = np.arange(int(seconds * sr)) / sr
    buf = io.BytesIO()
    sf.write(buf, 0.3 * np.sin(2 * np.pi * freq * t), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.mark.django_db
def test_a_failing_insert_leaves_no_file(api, catalogue, bird_clips, media_root, monkeypatch):
    def failing_insert(row):
        raise IntegrityError("forced")

    monkeypatch.setattr("server.recordings.ingest.insert_recording", failing_insert)
    with pytest.raises(IntegrityError):
        submit(api, bird_clips[0].data, metadata())
    assert media_files(media_root) == []
    assert Recording.objects.count() == 0


@pytest.mark.django_db
def test_a_failure_after_the_write_removes_the_file_and_the_row(api, catalogue, bird_clips, media_root,
                                                                monkeypatch):
    real_store = storage.store_blob

    def store_then_fail(*args, **kwargs):
        real_store(*args, **kwargs)
        raise OSError("disk gone after the write")

    monkeypatch.setattr("server.recordings.ingest.storage.store_blob", store_then_fail)
    with pytest.raises(OSError):
        submit(api, bird_clips[0].data, metadata())
    assert media_files(media_root) == []
    assert Recording.objects.count() == 0


@pytest.mark.django_db
def test_a_failure_keeps_a_file_another_recording_shares(api, catalogue, bird_clips, media_root, monkeypatch):
    first = submit(api, bird_clips[0].data, metadata())
    assert first.status_code == 201
    kept = media_files(media_root)
    monkeypatch.setattr("server.recordings.ingest.insert_recording",
                        lambda row: (_ for _ in ()).throw(IntegrityError("forced")))
    with pytest.raises(IntegrityError):
        submit(api, bird_clips[0].data, metadata())
    assert media_files(media_root) == kept and len(kept) == 1


@pytest.mark.django_db
def test_a_twin_that_loses_the_insert_race_with_other_audio_writes_nothing(api, catalogue, bird_clips, media_root,
                                                                          monkeypatch):
    """Same key, different audio, both past the lookup: the loser answers 409 and stores no file."""
    from server.recordings import submission_sql

    meta = metadata()
    assert submit(api, bird_clips[0].data, meta).status_code == 201
    kept = media_files(media_root)
    calls = []

    def blind_first_lookup(*args):
        calls.append(args)
        return (None, False) if len(calls) == 1 else submission_sql.prior_submissions(*args)

    monkeypatch.setattr("server.recordings.ingest.prior_submissions", blind_first_lookup)
    twin = submit(api, bird_clips[1].data, meta)
    assert twin.status_code == 409 and twin.json()["error"]["code"] == "idempotency_key_reused"
    assert media_files(media_root) == kept


def _race(requests: list[tuple[object, bytes, dict]]) -> list:
    """Send every (client, audio, metadata) at once, each from its own thread and database connection."""
    barrier = threading.Barrier(len(requests))
    answers: list = [None] * len(requests)

    def send(i: int, client, data: bytes, meta: dict) -> None:
        try:
            upload = SimpleUploadedFile("take.wav", data, content_type="application/octet-stream")
            barrier.wait()
            answers[i] = client.post("/api/v1/recordings/", {"audio": upload, "metadata": json.dumps(meta)},
                                     format="multipart")
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i, *req)) for i, req in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers


@pytest.mark.django_db(transaction=True)
def test_twenty_way_races_leave_no_orphan(player, catalogue, media_root):
    from .conftest import session_token

    api = client_for(player)
    # 20 uploads of different audio under one idempotency key: one row, one file
    key_meta = metadata(segment={"start_s": 0.0, "end_s": 3.0})
    answers = _race([(client_for(player), tone_wav(500 + 100 * i), {**key_meta, "session_token": session_token(api)})
                     for i in range(20)])
    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == 1 and set(codes) <= {201, 409}, codes
    rec = Recording.objects.get()
    assert [p.relative_to(media_root).as_posix() for p in media_files(media_root)] == [rec.audio_path]
    # 20 uploads of different audio with one session token: one row more, one file more
    token = session_token(api)
    answers = _race([(client_for(player), tone_wav(4000 + 50 * i), metadata(session_token=token))
                     for i in range(20)])
    assert sorted(a.status_code for a in answers).count(201) == 1
    # 20 uploads of the same audio under 20 keys: 20 rows sharing one file
    same = tone_wav(7000)
    answers = _race([(client_for(player), same, metadata(session_token=session_token(api))) for _ in range(20)])
    assert all(a.status_code == 201 for a in answers), [a.content for a in answers if a.status_code != 201]
    paths = set(Recording.objects.values_list("audio_path", flat=True))
    assert Recording.objects.count() == 22 and len(paths) == 3
    assert {p.relative_to(media_root).as_posix() for p in media_files(media_root)} == paths


def _age(path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


@pytest.mark.django_db
def test_the_sweeper_removes_old_unreferenced_files_only(api, catalogue, bird_clips, media_root, settings):
    assert submit(api, bird_clips[0].data, metadata()).status_code == 201
    referenced = media_root / Recording.objects.get().audio_path
    _, orphan_rel = storage.store_blob(b"orphaned bytes", "ogg")
    _, fresh_rel = storage.store_blob(b"an upload in flight", "ogg")
    orphan, fresh = media_root / orphan_rel, media_root / fresh_rel
    part = orphan.parent / f".{orphan.name}.abc123.part"        # an abandoned atomic_write
    part.write_bytes(b"half")
    other_media = media_root / "public/clips/token.ogg"      # not the sweeper's folder
    other_media.parent.mkdir(parents=True)
    other_media.write_bytes(b"clip")
    for path in (referenced, orphan, part, other_media):
        _age(path, 2 * 3600)

    result = orphans.sweep(grace_s=3600)

    assert result.deleted == 2
    assert not orphan.exists() and not part.exists()
    assert referenced.exists() and fresh.exists() and other_media.exists()
    assert orphans.sweep(grace_s=3600).deleted == 0


@pytest.mark.django_db
def test_the_sweeper_task_uses_the_grace_setting_and_is_scheduled(settings, media_root):
    from server.recordings.tasks import sweep_orphan_audio

    _, rel = storage.store_blob(b"orphaned bytes", "wav")
    _age((media_root / rel), 120)
    settings.ORPHAN_BLOB_GRACE_SECONDS = 300
    assert sweep_orphan_audio() == 0 and (media_root / rel).exists()
    settings.ORPHAN_BLOB_GRACE_SECONDS = 60
    assert sweep_orphan_audio() == 1 and not (media_root / rel).exists()
    assert any(entry["task"] == "recordings.sweep_orphans" for entry in settings.CELERY_BEAT_SCHEDULE.values())


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_skips_a_file_whose_writer_holds_its_lock(media_root):
    """A writer between its INSERT and its commit holds the file's lock: the sweeper leaves the file."""
    _, rel = storage.store_blob(b"being written", "ogg")
    _age((media_root / rel), 7200)
    held, release = threading.Event(), threading.Event()

    def writer():
        try:
            with transaction.atomic():
                blob_refs.lock(rel)
                held.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    assert held.wait(10)
    try:
        assert orphans.sweep(grace_s=3600).deleted == 0 and (media_root / rel).exists()
    finally:
        release.set()
        thread.join(10)
    assert orphans.sweep(grace_s=3600).deleted == 1


def test_every_path_field_of_a_recording_counts_as_a_reference():
    path_fields = {f.name for f in Recording._meta.concrete_fields if f.name.endswith("_path")}
    assert path_fields == set(blob_refs.REFERENCING_FIELDS)
