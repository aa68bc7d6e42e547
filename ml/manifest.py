"""The one manifest reader of ``python -m ml`` (evaluate, train, cv, bench-classifier).

A manifest is a UTF-8 CSV with a ``file`` column (paths relative to the manifest's folder, or
absolute) and a label column (``--label-column``, else ``species``, else ``label``). Rows with an
empty file or label are ignored. Contract of :func:`read_manifest`:

* it raises :class:`ManifestError` (a ``ValueError``; the CLI answers exit status 2 with its
  message) for a manifest that does not exist or cannot be read, a missing ``file`` column, an
  unknown label column, a manifest that lists no labelled files, and a label set of one class;
* it never opens the audio: a missing or corrupt file is reported and skipped by whoever decodes
  it (see :func:`missing_files` for the cheap existence check);
* each row keeps its recording id (``recording``: the first of :data:`RECORDING_COLUMNS` that is
  filled, else the ``file`` value) and its recordist (empty when the manifest has no such column), so
  splits and folds can be grouped by recording or by recordist.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

LABEL_COLUMNS = ("species", "label")  # tried in this order when no label column is named
RECORDING_COLUMNS = ("xc_id", "freesound_id", "source_id", "recording_id")  # a recording's id, first filled wins
RECORDIST_COLUMNS = ("recordist",)


class ManifestError(ValueError):
    """A manifest that cannot be used; the message says why and is shown to the user."""


@dataclass(frozen=True)
class ManifestRow:
    """One labelled file of a manifest."""

    file: str  # as written in the manifest
    path: Path  # resolved against the manifest's folder
    label: str
    recording: str  # recording id: files sharing it (format variants, cuts) are never split apart
    recordist: str  # "" when unknown
    meta: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)  # the whole CSV row


@dataclass(frozen=True)
class Manifest:
    """The labelled rows of one or more manifests (``path`` is the first one's)."""

    path: Path
    label_column: str
    columns: tuple[str, ...]
    rows: tuple[ManifestRow, ...]

    @property
    def labels(self) -> list[str]:
        """The sorted label set."""
        return sorted({r.label for r in self.rows})


def _check_classes(rows: Iterable[ManifestRow], where: str) -> None:
    classes = sorted({r.label for r in rows})
    if len(classes) < 2:
        raise ManifestError(f"{where} has a single label class ({classes[0]!r}); training and scoring "
                            "need at least two classes.")


def read_manifest(path: str | Path, label_column: str | None = None, *, min_classes: int = 2) -> Manifest:
    """The labelled rows of the manifest at ``path`` (see the module docstring for the refusals).

    ``min_classes=1`` skips the single-class check (a manifest that is one part of several).
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"Manifest {path} does not exist.")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            raw = list(reader)
            columns = tuple(reader.fieldnames or ())
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ManifestError(f"Manifest {path} cannot be read: {exc}") from None
    if "file" not in columns:
        raise ManifestError(f"{path} has no 'file' column.")
    if label_column is None:
        label_column = next((c for c in LABEL_COLUMNS if c in columns), None)
        if label_column is None:
            raise ManifestError(f"{path} has no label column ('species' or 'label'); pass --label-column.")
    elif label_column not in columns:
        raise ManifestError(f"{path} has no label column {label_column!r} (columns: {', '.join(columns)}).")
    rec_cols = [c for c in RECORDING_COLUMNS if c in columns]
    who_col = next((c for c in RECORDIST_COLUMNS if c in columns), None)
    rows = []
    for r in raw:
        file, label = (r.get("file") or "").strip(), (r.get(label_column) or "").strip()
        if not file or not label:
            continue
        recording = next((r[c].strip() for c in rec_cols if (r.get(c) or "").strip()), file)
        rows.append(ManifestRow(file=file, path=path.parent / file, label=label, recording=recording,
                                recordist=(r.get(who_col) or "").strip() if who_col else "", meta=dict(r)))
    if not rows:
        raise ManifestError(f"{path} lists no labelled files.")
    if min_classes > 1:
        _check_classes(rows, str(path))
    return Manifest(path=path, label_column=label_column, columns=columns, rows=tuple(rows))


def read_manifests(paths: Iterable[str | Path], label_column: str | None = None) -> Manifest:
    """Several manifests as one (e.g. the shared data plus an ``export_training_set`` manifest).

    Each must be usable on its own except for the class count, which applies to the union; each
    picks its own label column when ``label_column`` is None.
    """
    parts = [read_manifest(p, label_column, min_classes=1) for p in paths]
    if not parts:
        raise ManifestError("No manifest given.")
    rows = tuple(r for m in parts for r in m.rows)
    _check_classes(rows, " + ".join(str(m.path) for m in parts))
    columns = tuple(dict.fromkeys(c for m in parts for c in m.columns))
    return Manifest(path=parts[0].path, label_column=parts[0].label_column, columns=columns, rows=rows)


def missing_files(rows: Iterable[ManifestRow]) -> list[ManifestRow]:
    """The rows whose file does not exist (to report and skip before decoding)."""
    return [r for r in rows if not r.path.is_file()]
