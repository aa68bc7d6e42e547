"""Register, promote and load runtime model versions (the only way other apps touch this app)."""
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

from .models import ModelSet, ModelVersion, Source

CURRENT_CACHE_SECONDS = 5.0  # a promotion reaches running workers within this delay
_current_paths: dict[str, tuple[float, str | None]] = {}


def stored_path(sha: str) -> str:
    return f"models/{sha[:2]}/{sha[2:4]}/{sha}.npz"


def model_set_of(header: dict, default: str | None = None) -> str:
    """The file header's ``model_set``, else ``default``; must name a known set."""
    name = header.get("model_set") or default
    if name not in ModelSet.values:
        raise ModelFormatError(f"Unknown model set {name!r}; expected one of {', '.join(ModelSet.values)}.")
    return name


def register_model_file(path: str | os.PathLike, model_set: str | None = None, *, source: str = Source.CENTRAL,
                        metrics: dict | None = None, parent: ModelVersion | None = None,
                        make_current: bool = False) -> ModelVersion:
    """Validate the model file, copy it into the file store (``models/``) and record it (idempotent by sha256).

    Raises :class:`ModelFormatError` for a file the runtime cannot load.
    """
    data = Path(path).read_bytes()
    header, arrays = load_model_file(path)
    build_classifier(header, arrays)  # architecture-level validation: a registered model must load
    sha = sha256_hex(data)
    with transaction.atomic():
        existing = ModelVersion.objects.select_for_update().filter(sha256=sha).first()
        if existing is None:
            rel = stored_path(sha)
            files.put_content_addressed(rel, data)
            existing = ModelVersion.objects.create(
                model_set=model_set_of(header, model_set), version=str(header["model_version"]), file=rel,
                sha256=sha, size_bytes=len(data), architecture=str(header["architecture"]["name"]),
                labels=list(header["labels"]), metrics=metrics if metrics is not None else header.get("metrics", {}),
                source=source, parent=parent)
        if make_current and not existing.is_current:
            promote(existing)
    return existing


def register_federated_result(path: str | os.PathLike, parent: ModelVersion, *, metrics: dict) -> ModelVersion:
    """Register a federated round's aggregate of ``parent`` (same model set, source ``federated``); not promoted."""
    return register_model_file(path, parent.model_set, source=Source.FEDERATED, parent=parent, metrics=metrics)


def promote(mv: ModelVersion) -> ModelVersion:
    """Make ``mv`` the current model of its set (demoting the previous one) in one transaction."""
    with transaction.atomic():
        ModelVersion.objects.select_for_update().filter(model_set=mv.model_set, is_current=True) \
            .exclude(pk=mv.pk).update(is_current=False)
        mv.is_current, mv.promoted_at = True, timezone.now()
        mv.save(update_fields=["is_current", "promoted_at"])
    _current_paths.pop(mv.model_set, None)
    return mv


def current_version(model_set: str = ModelSet.BIRDS) -> ModelVersion | None:
    return ModelVersion.objects.filter(model_set=model_set, is_current=True).first()


def file_path(mv: ModelVersion) -> Path:
    """A local file holding ``mv``'s bytes (the runtime loads models from a path); ``FileNotFoundError``
    when the store has lost it."""
    return files.local_path(mv.file)


def open_file(mv: ModelVersion):
    """``mv``'s file opened for binary reading (the caller closes it); ``FileNotFoundError`` when it is gone."""
    return files.open_file(mv.file)


def _current_path(model_set: str) -> str | None:
    checked_at, path = _current_paths.get(model_set, (0.0, None))
    if time.monotonic() - checked_at > CURRENT_CACHE_SECONDS:
        mv = current_version(model_set)
        path = str(file_path(mv)) if mv is not None else None
        _current_paths[model_set] = (time.monotonic(), path)
    return path


def current_classifier(model_set: str = ModelSet.BIRDS) -> Classifier:
    """The current registered model of ``model_set``; :func:`shipped_default` when none is registered.

    The database is asked at most every :data:`CURRENT_CACHE_SECONDS`; the loaded model is cached
    by :func:`ml.runtime.classifier.load_classifier`.
    """
    path = _current_path(model_set)
    return load_classifier(path if path is not None else shipped_default(model_set))


def shipped_default(model_set: str) -> Path:
    """The set's shipped student when it exists, else the shipped combined model (``DAWN_MODEL_PATH``)."""
    student = default_model_path(model_set)
    return student if model_set == ModelSet.URBAN and student.exists() else default_model_path()


def forget_cached_current() -> None:
    _current_paths.clear()
