"""``ml.train``'s stages, read top to bottom: each returns a dataclass the next one takes."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("torch")

from ml import train as train_mod  # noqa: E402
from ml.models.phinet import PhiNetConfig  # noqa: E402
from ml.runtime.classifier import load_classifier  # noqa: E402
from tests.ml.test_train_cli import CITY, WARBLERS, _manifest  # noqa: E402

TINY = dict(teacher="none", epochs=1, xnor_epochs=1, alpha=0.25, blocks=3, embed_dim=16, workers=1,
            windows_per_file=4, background_per_file=1)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(train_mod, "CACHE_DIR", tmp_path / "cache")


def test_improves_keeps_a_higher_macro_f1_with_an_ece_no_worse_by_more_than_0_01():
    last = {"macro_f1": 0.5, "ece": 0.10}
    assert train_mod.improves({"macro_f1": 0.1, "ece": 0.9}, None)  # the first generation is always kept
    assert train_mod.improves({"macro_f1": 0.6, "ece": 0.109}, last)
    assert not train_mod.improves({"macro_f1": 0.6, "ece": 0.111}, last)
    assert not train_mod.improves({"macro_f1": 0.5, "ece": 0.0}, last)


def test_xnor_from_without_xnor_is_refused_before_any_file_is_read(tmp_path):
    cfg = train_mod.TrainConfig(manifest=str(tmp_path / "missing.csv"), out=str(tmp_path / "m.npz"),
                                xnor_from=str(tmp_path / "s.npz"), xnor=False)
    with pytest.raises(train_mod.TrainError, match="cannot be combined with --no-xnor"):
        train_mod.train(cfg)
    assert list(tmp_path.iterdir()) == []


def test_the_stages_hand_dataclasses_to_each_other(tmp_path):
    manifest = _manifest(tmp_path, [(n, "warbler") for n in WARBLERS] + [(n, "city") for n in CITY])
    cfg = train_mod.TrainConfig(manifest=str(manifest), out=str(tmp_path / "m.npz"), generations=2, **TINY)
    log = [].append
    data = train_mod.load_data(cfg, log)
    assert isinstance(data, train_mod.TrainData) and data.labels == ["city", "warbler"]
    assert data.teacher_logits == [None] * len(data.items) and data.teacher_index == {}
    windows = train_mod.weak_label_windows(data, cfg)
    per_file = np.bincount(windows.files, minlength=len(data.items))
    assert per_file.max() <= cfg.windows_per_file + cfg.background_per_file
    assert set(np.flatnonzero(per_file)) <= set(data.files("train"))
    assert np.allclose(windows.soft[windows.background], 0.5)  # background windows: the uniform target
    scale = train_mod.input_scale_of(windows)
    val, test = train_mod.file_set(data, "val"), train_mod.file_set(data, "test")
    assert len(val.mels) == len(data.files("val")) and val.y.tolist() == [data.label_of(i) for i in data.files("val")]
    teachers = train_mod.stored_teachers(data, windows, cfg)
    assert teachers == train_mod.Teachers([], [], [], {})
    mcfg = PhiNetConfig(alpha=cfg.alpha, beta=cfg.beta, t0=cfg.t0, blocks=cfg.blocks, embed_dim=cfg.embed_dim)
    selection = train_mod.select(mcfg, windows, teachers, data, val, test, cfg, log, scale)
    assert [g["generation"] for g in selection.generations] == [0, 1] and selection.generations[0]["kept"]
    best = selection.best
    assert best.kept and best.generation == max(g["generation"] for g in selection.generations if g["kept"])
    assert best.train_probs.shape == (len(windows.y), 2) and np.allclose(best.train_probs.sum(axis=1), 1, atol=1e-5)
    assert best.temperature == round(best.temperature, 4) and best.report()["val"] == best.val
    if selection.generations[1]["kept"]:
        assert selection.generations[1]["teachers"] == ["gen 0"] and selection.ensemble["members"] == [0, 1]
    else:
        assert selection.ensemble is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        best.kept = False  # type: ignore[misc]
    calibration = train_mod.calibrate(best, val)
    assert calibration.temperature == best.temperature and 0.05 <= calibration.unknown_threshold <= 0.95
    exported = train_mod.export(cfg, data, windows, test, best, calibration, scale)
    assert exported.path == tmp_path / "m.npz" and exported.size == exported.path.stat().st_size
    assert exported.training["generation"] == best.generation and exported.reliability_png.exists()
    clf = load_classifier(exported.path)
    assert clf.header["training"]["generation"] == best.generation and clf.temperature == pytest.approx(best.temperature)
