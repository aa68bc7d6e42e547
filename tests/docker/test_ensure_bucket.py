"""docker/ensure_bucket.py (compose's first setup step) against a real SeaweedFS S3 gateway."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.server.test_storage_s3 import ACCESS_KEY, SECRET_KEY, s3_client, seaweedfs  # noqa: F401 (fixture)

SCRIPT = Path(__file__).resolve().parents[2] / "docker" / "ensure_bucket.py"
spec = importlib.util.spec_from_file_location("ensure_bucket", SCRIPT)
ensure_bucket = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ensure_bucket)


@pytest.fixture
def s3_env(monkeypatch):
    def point_at(endpoint: str, bucket: str) -> None:
        for name, value in {"DAWN_STORAGE": "s3", "DAWN_S3_ENDPOINT_URL": endpoint, "DAWN_S3_BUCKET": bucket,
                            "DAWN_S3_ACCESS_KEY": ACCESS_KEY, "DAWN_S3_SECRET_KEY": SECRET_KEY}.items():
            monkeypatch.setenv(name, value)
    return point_at


def test_creates_the_bucket_once(seaweedfs, s3_env, capsys):  # noqa: F811
    s3_env(seaweedfs, "dawn-compose-setup")
    assert ensure_bucket.main(["--wait", "20"]) == 0
    assert ensure_bucket.main(["--wait", "20"]) == 0
    assert capsys.readouterr().out.splitlines() == ["bucket dawn-compose-setup: created",
                                                    "bucket dawn-compose-setup: there"]
    s3_client(seaweedfs).head_bucket(Bucket="dawn-compose-setup")


def test_gives_up_when_the_store_never_answers(s3_env):
    s3_env("http://127.0.0.1:9", "dawn-compose-setup")  # nothing listens on the discard port
    assert ensure_bucket.main(["--wait", "0"]) == 1


def test_does_nothing_in_the_filesystem_mode(monkeypatch):
    monkeypatch.setenv("DAWN_STORAGE", "filesystem")
    assert ensure_bucket.main([]) == 0
