"""Register, promote and load runtime model versions (the only way other apps touch this app).

There is one model set, ``field`` (:class:`~server.modelregistry.models.ModelSet`), with at most one
current version: the model the analysis task, the review queue and the phones use.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from ml.runtime.classifier import Classifier, build_classifier, default_model_path, load_classifier
from ml.runtime.model_format import ModelFormatError, load_model_file
from server.platform import storage as files
from server.platform.storage import sha256_hex

from .models import LEGACY_SETS, RETIRED_SETS, ModelSet, ModelVersion, Source

CURRENT_CACHE_SECONDS = 5.0  # a promotion reaches running workers within this delay
_current_path_cache: dict[str, tuple[float, str | None]] = {}  # {"": (checked at, path or None)}


def stored_path(sha: str) -> str:
    return f"models/{sha[:2]}/{sha[2:4]}/{sha}.npz"


def model_set_of(header: dict, requested: str | None = None) -> str:
    """The set a model file is registered in: always ``field``.

    ``requested`` (``register_model --set``) and the header's ``model_set`` may each be absent,
    ``field`` or its legacy alias ``birds``. A retired set (``urban``) or any other name raises
    :class:`ModelFormatError` saying why.
    """
    for name in (requested, header.get("model_set")):
        if name in RETIRED_SETS:
            raise ModelFormatError(f"Model set {name!r} refused: {RETIRED_SETS[name]}.")
        if name is not None and name != ModelSet.FIELD and name not in LEGACY_SETS:
            raise ModelFormatError(f"Unknown model set {name!r}; expected {ModelSet.FIELD.value!r} "
                                   f"(or its legacy alias 'birds').")
    return ModelSet.FIELD


def read_set(name: str) -> str:
    """The set an API client means by ``name``: ``field``, or a set before issue 25 that old app
    versions still ask for (:data:`~server.modelregistry.models.LEGACY_SETS`); ``ValueError`` otherwise."""
    if name != ModelSet.FIELD and name not in LEGACY_SETS:
        raise ValueError(f"Unknown model set {name!r}; use {ModelSet.FIELD.value!r}.")
    return ModelSet.FIELD


def register_model_file(path: str | os.PathLike, model_set: str | None = None, *, source: str = Source.CENTRAL,
                        metrics: dict | None = None, parent: ModelVersion | None = None,
                        make_current: bool = False) -> ModelVersion:
    """Validate the model file, copy it into the file store (``models/``) and record it (idempotent by sha256).

    Raises :class:`ModelFormatError` for a file the runtime cannot load or of a set other than
    ``field`` (:func:`model_set_of`); nothing is stored or recorded then.
    """
    data = Path(path).read_bytes()
    header, arrays = load_model_file(path)
    model_set = model_set_of(header, model_set)
    build_classifier(header, arrays)  # architecture-level validation: a registered model must load
    sha = sha256_hex(data)
    with transaction.atomic():
        existing = ModelVersion.objects.select_for_update().filter(sha256=sha).first()
        if existing is None:
            rel = stored_path(sha)
            files.put_content_addressed(rel, data)
            existing = ModelVersion.objects.create(
                model_set=model_set, version=str(header["model_version"]), file=rel,
                sha256=sha, size_bytes=len(data), architecture=str(header["architecture"]["name"]),
                labels=list(header["labels"]), metrics=metrics if metrics is not None else header.get("metrics", {}),
                source=source, parent=parent)
        if make_current and not existing.is_current:
            promote(existing)
    return existing


def register_federated_result(path: str | os.PathLike, parent: ModelVersion, *, metrics: dict) -> ModelVersion:
    """Register a federated round's aggregate of ``parent`` (source ``federated``); not promoted."""
    return register_model_file(path, source=Source.FEDERATED, parent=parent, metrics=metrics)


def promote(mv: ModelVersion) -> ModelVersion:
    """Make ``mv`` the current model (demoting the previous one) in one transaction."""
    with transaction.atomic():
        ModelVersion.objects.select_for_update().filter(model_set=mv.model_set, is_current=True) \
            .exclude(pk=mv.pk).update(is_current=False)
        mv.is_current, mv.promoted_at = True, timezone.now()
        mv.save(update_fields=["is_current", "promoted_at"])
    forget_cached_current()
    return mv


def current_version() -> ModelVersion | None:
    """The current field model, or ``None`` when none is registered as current."""
    return ModelVersion.objects.filter(model_set=ModelSet.FIELD, is_current=True).first()


def file_path(mv: ModelVersion) -> Path:
    """A local file holding ``mv``'s bytes (the runtime loads models from a path); ``FileNotFoundError``
    when the store has lost it."""
    return files.local_path(mv.file)


def open_file(mv: ModelVersion):
    """``mv``'s file opened for binary reading (the caller closes it); ``FileNotFoundError`` when it is gone."""
    return files.open_file(mv.file)


def _current_path() -> str | None:
    checked_at, path = _current_path_cache.get("", (0.0, None))
    if time.monotonic() - checked_at > CURRENT_CACHE_SECONDS:
        mv = current_version()
        path = str(file_path(mv)) if mv is not None else None
        _current_path_cache[""] = (time.monotonic(), path)
    return path


def current_classifier() -> Classifier:
    """The current registered field model; the shipped default
    (:func:`ml.runtime.classifier.default_model_path`: ``$DAWN_MODEL_PATH``, else ``field.npz``)
    when none is registered.

    The database is asked at most every :data:`CURRENT_CACHE_SECONDS`; the loaded model is cached
    by :func:`ml.runtime.classifier.load_classifier`.
    """
    path = _current_path()
    return load_classifier(path if path is not None else default_model_path())


def forget_cached_current() -> None:
    _current_path_cache.clear()
