"""The file store on its default backend (the filesystem under MEDIA_ROOT) and the STORAGES setting."""
from __future__ import annotations

import pytest
from django.core.files import File

from server.config import ConfigurationError
from server.config import load as load_config
from server.platform import storage as files
from server.platform.storage_settings import FILESYSTEM_BACKEND, MEDIA_ALIAS, S3_BACKEND, storages


class BrokenStream(File):
    """An upload whose stream fails after its first chunk (a client that hangs up mid-body)."""

    def __init__(self) -> None:
        super().__init__(None, name="broken")

    def chunks(self, chunk_size=None):
        yield b"the first half"
        raise OSError("connection reset")


def test_the_default_store_is_the_atomic_filesystem_under_media_root(media_root):
    store = files.media()
    assert isinstance(store, files.AtomicFileSystemStorage)
    files.put("audio/ab/cd/x.ogg", b"bytes")
    assert (media_root / "audio/ab/cd/x.ogg").read_bytes() == b"bytes"
    assert files.read("audio/ab/cd/x.ogg") == b"bytes" and files.size("audio/ab/cd/x.ogg") == 5


def test_a_write_replaces_the_name_it_was_given(media_root):
    """Django's FileSystemStorage would pick another name (x_AbC12.ogg) for an existing one."""
    files.put("public/clips/ab/x.ogg", b"old")
    files.put("public/clips/ab/x.ogg", b"new")
    assert files.read("public/clips/ab/x.ogg") == b"new"
    assert sorted(p.name for p in (media_root / "public/clips/ab").iterdir()) == ["x.ogg"]


def test_a_failed_write_leaves_the_old_file_and_no_part(media_root):
    files.put("exports/1.csv", b"complete")
    with pytest.raises(OSError):
        files.media().save("exports/1.csv", BrokenStream())
    assert files.read("exports/1.csv") == b"complete"
    assert [p.name for p in (media_root / "exports").iterdir()] == ["1.csv"]


def test_content_addressed_writes_skip_a_stored_object(media_root):
    assert files.put_content_addressed("models/ab/cd/ab.npz", b"model") is True
    target = media_root / "models/ab/cd/ab.npz"
    before = target.stat().st_mtime_ns
    assert files.put_content_addressed("models/ab/cd/ab.npz", b"model") is False
    assert target.stat().st_mtime_ns == before


@pytest.mark.parametrize("name", ["", "/etc/passwd", "../outside.ogg", "audio/../../x", "audio//x", "a\\b",
                                  "audio/./x", "audio/x\x00"])
def test_names_outside_the_store_are_refused_and_nothing_is_written(media_root, name):
    with pytest.raises(ValueError):
        files.put(name, b"x")
    with pytest.raises(ValueError):
        files.read(name)
    assert not media_root.exists() or not any(p.is_file() for p in media_root.rglob("*"))


def test_walk_lists_every_name_under_a_prefix(media_root):
    for name in ("audio/ab/cd/1.ogg", "audio/ab/ef/2.ogg", "audio/3.ogg", "public/clips/ab/4.ogg"):
        files.put(name, b"x")
    assert sorted(files.walk("audio")) == ["audio/3.ogg", "audio/ab/cd/1.ogg", "audio/ab/ef/2.ogg"]
    assert list(files.walk("spectrograms")) == []


def test_missing_names_raise_file_not_found(media_root):
    for read in (files.read, files.size, files.modified_at, files.open_file, files.local_path):
        with pytest.raises(FileNotFoundError):
            read("audio/ab/cd/missing.ogg")
    files.delete("audio/ab/cd/missing.ogg")   # deleting nothing is fine


def test_local_path_and_copy_on_the_filesystem(media_root):
    files.put("models/ab/cd/m.npz", b"weights")
    assert files.local_path("models/ab/cd/m.npz") == media_root / "models/ab/cd/m.npz"
    with files.local_copy("models/ab/cd/m.npz") as copy:
        assert copy.read_bytes() == b"weights" and copy.suffix == ".npz"
    assert not copy.exists()


def test_the_storages_setting_follows_dawn_storage():
    default = storages(load_config({}))
    assert default[MEDIA_ALIAS] == {"BACKEND": FILESYSTEM_BACKEND} == default["default"]
    s3 = storages(load_config({"DAWN_STORAGE": "s3", "DAWN_S3_ENDPOINT_URL": "http://store:8333",
                               "DAWN_S3_BUCKET": "b", "DAWN_S3_ACCESS_KEY": "k", "DAWN_S3_SECRET_KEY": "s",
                               "DAWN_S3_REGION": "eu-west-1"}))[MEDIA_ALIAS]
    assert s3["BACKEND"] == S3_BACKEND
    options = s3["OPTIONS"]
    assert (options["bucket_name"], options["endpoint_url"], options["region_name"]) == ("b", "http://store:8333",
                                                                                        "eu-west-1")
    assert options["default_acl"] is None and options["querystring_auth"] is True   # private: signed URLs only
    with pytest.raises(ConfigurationError, match="DAWN_STORAGE"):
        load_config({"DAWN_STORAGE": "ftp"})
