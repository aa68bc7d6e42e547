"""``train-verifier`` (ml.verifier_train): the combination is fitted on the chosen field recipe's out-of-fold outputs."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from ml.runtime.model_format import load_model_file

pytest.importorskip("torch")

FIXTURE_AUDIO = Path(__file__).resolve().parents[2] / "fixtures" / "audio"
D = 16  # a toy "BirdNET" with 16 classes; it names alpha (column 0) and beta (column 1)


def _manifest(tmp_path: Path, n_files: int = 18) -> tuple[Path, dict[str, str]]:
    """Real fixture clips (so the field recipe decodes audio), labelled alpha / beta in turn, one recording each."""
    with open(FIXTURE_AUDIO / "manifest.csv", newline="", encoding="utf-8") as fh:
        clips = [r["file"] for r in csv.DictReader(fh)][:n_files]
    label_of = {str(FIXTURE_AUDIO / f): ("alpha", "beta")[k % 2] for k, f in enumerate(clips)}
    path = tmp_path / "manifest.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "label", "source_id"])
        w.writerows([f, lab, f"rec{k}"] for k, (f, lab) in enumerate(label_of.items()))
    return path, label_of


def _fake_birdnet(monkeypatch, label_of: dict[str, str]) -> None:
    """Cached 'BirdNET' logits: background everywhere, the file's label in its column in two windows."""
    from ml import field

    def logits_of_files(paths, log, cache_dir=None, every=50):
        out = []
        for k, p in enumerate(paths):
            z = np.random.default_rng(k).normal(-6.0, 1.0, (4, D)).astype(np.float32)
            z[:2, ("alpha", "beta").index(label_of[str(Path(p).resolve())])] += 9.0
            out.append(z)
        return out, [None] * len(out)

    monkeypatch.setattr("ml.teachers.birdnet.logits_of_files", logits_of_files)
    monkeypatch.setattr("ml.teachers.birdnet.label_columns", lambda names, sci=None: {"alpha": 0, "beta": 1})
    monkeypatch.setattr(field, "shipped_scalars", lambda: (1.0, 0.0, 1.0, 0.0))


def test_train_verifier_cross_fits_the_field_recipe_and_stores_its_combination(monkeypatch, tmp_path):
    from ml import field
    from ml.verifier_train import train_verifier

    manifest, label_of = _manifest(tmp_path)
    _fake_birdnet(monkeypatch, label_of)
    fits = []
    real_fit_field = field.fit_field

    def spy(data, fit_idx, val_idx, cfg, out, **kw):
        fits.append((set(fit_idx) | set(val_idx), cfg))
        return real_fit_field(data, fit_idx, val_idx, cfg, out, **kw)

    monkeypatch.setattr(field, "fit_field", spy)
    monkeypatch.setattr("ml.baseline.train_mlp", lambda *a, **k: pytest.fail("the baseline recipe was trained"))
    cfg = field.FieldConfig(alpha=0.25, blocks=4, epochs=1, windows_per_epoch=48, batch_size=16,
                            probe_windows_per_file=2)
    out = tmp_path / "verifier.npz"
    report = train_verifier([manifest], out, seed=7, folds=3, field_config=cfg)

    assert len(fits) == 3  # one field model per fold, each seeded by its fold, none trained on its test files
    assert [c.seed for _, c in fits] == [7, 8, 9] and all(c.epochs == 1 for _, c in fits)
    left_out = sorted(i for trained, _ in fits for i in set(range(18)) - trained)
    assert left_out == list(range(18))  # each file is a test file of exactly one fold
    assert report["field_recipe"] == "field" and report["field_config"]["windows_per_epoch"] == 48
    assert report["model_version"].endswith("-field-s7")
    oof = report["out_of_fold"]
    assert 0.0 <= oof["field_recipe"]["accuracy"] <= 1.0 and oof["server"]["accuracy"] >= 0.5
    header, _ = load_model_file(out)
    assert header["combination"] == report["combination"] and header["model_version"] == report["model_version"]
    assert header["training"]["field_recipe"] == "field"


def test_train_verifier_defaults_to_the_shipped_field_models_recipe():
    from ml.cli import build_parser
    from ml.verifier_train import SHIPPED_FIELD_CONFIG

    args = build_parser().parse_args(["train-verifier", "--manifest", "m.csv"])
    assert args.field_recipe == "field"
    assert (SHIPPED_FIELD_CONFIG.epochs, SHIPPED_FIELD_CONFIG.windows_per_epoch) == (20, 6000)
    assert SHIPPED_FIELD_CONFIG.seed == 20261206
