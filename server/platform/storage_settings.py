"""The ``STORAGES`` setting from the configuration (``server/settings.py`` calls :func:`storages`).

``DAWN_STORAGE=filesystem`` (the default) keeps every file under ``MEDIA_ROOT``;
``DAWN_STORAGE=s3`` keeps them in one private bucket of an S3-compatible store (``DAWN_S3_*``).
Both backends sit behind the alias :data:`MEDIA_ALIAS` (and ``default``, so a ``FileField`` would
agree); static files keep Django's own storage.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from server.config import Config

MEDIA_ALIAS = "media"
FILESYSTEM_BACKEND = "server.platform.storage.AtomicFileSystemStorage"
S3_BACKEND = "storages.backends.s3.S3Storage"
STATIC = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}


def s3_options(config: Config) -> dict:
    """django-storages options of the private bucket: no ACL, no public URL (every ``url()`` is a signed,
    short-lived one), same-name writes overwrite (names are content addresses or random tokens)."""
    return {
        "bucket_name": config.s3_bucket,
        "endpoint_url": config.s3_endpoint_url,
        "access_key": config.s3_access_key,
        "secret_key": config.s3_secret_key,
        "region_name": config.s3_region,
        "addressing_style": "path",
        "signature_version": "s3v4",
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": 300,
        "file_overwrite": True,
        "location": "",
    }


def media_storage(config: Config) -> dict:
    """The ``STORAGES`` entry of the file store (``config.storage``: ``filesystem`` or ``s3``).

    The filesystem entry names no location, so it follows ``settings.MEDIA_ROOT`` (tests move it)."""
    if config.storage == "s3":
        return {"BACKEND": S3_BACKEND, "OPTIONS": s3_options(config)}
    return {"BACKEND": FILESYSTEM_BACKEND}


def storages(config: Config) -> dict:
    """The whole ``STORAGES`` setting."""
    media = media_storage(config)
    return {"default": media, MEDIA_ALIAS: media, "staticfiles": STATIC}
