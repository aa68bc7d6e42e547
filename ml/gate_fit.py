"""``python -m ml fit-gate``: fit the verdict's gate (:class:`ml.verdict.Gate`) for one field model and store it in
the verifier's file (``header["combination"]["gate"]``), the arrays unchanged.

The fitting files must be ones the field model never trained on (``--files``: e.g. a student's ``test_files``;
city clips are held out for a birds-only student): the gate trusts the field model's confidence only where it
was earned. The verifier is the shipped one, which has seen the birds-pr files, so the full verdict looks better
on them than on new files and the gate that keeps within the allowed drop of it is the more cautious for it.
Unreadable files are reported and left out.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ml.manifest import ManifestError, read_manifests


def fit_gate_for(manifests: Sequence[str | Path], field_path: str | Path, verifier_path: str | Path,
                 out: str | Path, *, files: Sequence[str] = (), extra: Sequence[str | Path] = (),
                 label_column: str | None = None,
                 max_drop: float = 0.01, log: Callable[[str], None] = lambda line: None) -> dict:
    """Fit the gate of ``field_path``'s model on the manifests' rows (only ``files`` by basename when given) and every
    row of the ``extra`` manifests, write the verifier with it to ``out``; returns the gate as a dict (its
    ``fitted_on`` says what it reached)."""
    from ml.runtime.audio import AudioError, decode
    from ml.runtime.classifier import load_classifier
    from ml.runtime.model_format import load_model_file, save_model
    from ml.teachers.birdnet import SAMPLE_RATE
    from ml.verdict import Combination, combine, fit_gate, union_labels
    from ml.verifier import load_verifier

    rows = read_manifests(manifests, label_column).rows
    wanted = {Path(f).name for f in files}
    rows = [r for r in rows if not wanted or r.path.name in wanted]
    rows += list(read_manifests(extra, label_column).rows) if extra else []
    if not rows:
        raise ManifestError("no manifest row is among the fitting files")
    field, verifier = load_classifier(field_path), load_verifier(verifier_path)
    comb = Combination.from_dict(verifier.combination)
    labels = union_labels(field.labels, verifier.labels)
    f_probs, right, y = [], [], []
    for n, row in enumerate(rows):
        try:
            data = row.path.read_bytes()
            x, sr = decode(data, sample_rate=field.feature_params.sample_rate)
            x48, sr48 = decode(data, sample_rate=SAMPLE_RATE)
        except (OSError, AudioError) as exc:
            log(f"skipped {row.file}: {exc}")
            continue
        fp = np.asarray(field.file_probabilities(x, sr), dtype=np.float64)
        vp = verifier.file_probabilities(x48, sr48)
        verdict = combine(labels, field.labels, fp, verifier.labels, vp, comb)
        f_probs.append(fp)
        right.append(labels[int(np.argmax(verdict))] == row.label)
        y.append(row.label)
        if (n + 1) % 20 == 0:
            log(f"fit-gate: {n + 1}/{len(rows)} files")
    gate = fit_gate(field.labels, np.stack(f_probs), right, y, max_drop=max_drop, field_version=field.version)
    header, arrays = load_model_file(verifier_path)
    header = dict(header)
    header["combination"] = {**dict(header.get("combination") or {}), "gate": gate.to_dict()}
    save_model(out, header, arrays)
    return gate.to_dict()
