"""The field model's XNOR twin (ml/field_xnor.py): the compact encoding's runtime parity with torch, its size
accounting, and the refusals of ``python -m ml train-field-xnor``. No shared data needed."""
from __future__ import annotations

import contextlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ml.export import export_compact_twin  # noqa: E402
from ml.field_xnor import FieldXnorError, load_student, size_limit, size_ratio  # noqa: E402
from ml.models.phinet import SE, Conv, PhiNet, PhiNetConfig, load_runtime_weights  # noqa: E402
from ml.runtime.classifier import NO_TARGET, load_classifier, softmax  # noqa: E402
from ml.runtime.features import FeatureParams  # noqa: E402
from ml.runtime.model_format import ModelFormatError, file_sha256  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "fixtures" / "models"
CLIPS = ("XC32051_bananaquit.ogg", "US8K_165775-7-1-0_jackhammer.ogg", "XC308530_puerto_rican_owl.ogg")
LABELS = [f"class {i}" for i in range(6)] + [NO_TARGET]


def _twin(binary_depthwise: bool = True, seed: int = 0) -> PhiNet:
    """A small random XNOR twin (Bi-Real shortcuts) with non-trivial batch-norm statistics."""
    torch.manual_seed(seed)
    model = PhiNet(PhiNetConfig(alpha=0.5, blocks=4, embed_dim=32, binary=True, binary_depthwise=binary_depthwise,
                                binary_shortcuts=True), len(LABELS))
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 1, 64, 113) * 1.5)
        for m in model.modules():  # BN biases of the size a trained twin has
            if isinstance(m, torch.nn.BatchNorm2d):
                m.bias.normal_(0, 0.5)
    return model.eval()


def _export(model: PhiNet, path: Path, head_levels: int = 127, bias_levels: int = 127, alpha_levels: int | None = None
            ) -> tuple[int, dict]:
    return export_compact_twin(model, path, head_levels=head_levels, bias_levels=bias_levels,
                               alpha_levels=bias_levels if alpha_levels is None else alpha_levels, labels=LABELS,
                               model_set="birds", version="test-xnor", params=FeatureParams(hop_length=640),
                               input_scale=2.5, temperature=1.0, aggregation="mean-target")


def _torch_with_file_weights(model: PhiNet, clf) -> PhiNet:
    """A copy of ``model`` holding the file's decoded weights (BN the identity, the folded bias as its bias): the
    torch network the runtime file describes, so the comparison isolates the numpy inference."""
    return load_runtime_weights(PhiNet(model.cfg, len(LABELS)).eval(), clf)


def _torch_probs(model: PhiNet, clf, samples: np.ndarray) -> np.ndarray:
    x = clf.network_input(samples)
    with torch.no_grad():
        logits = model(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy()
    return softmax(logits.astype(np.float64), axis=1)


@pytest.mark.parametrize("binary_depthwise", [True, False], ids=["binary-depthwise", "int8-depthwise"])
@pytest.mark.parametrize("levels", [127, 15])
def test_compact_twin_runs_in_numpy_as_in_torch(binary_depthwise, levels, tmp_path, load_clip):
    model = _twin(binary_depthwise)
    path = tmp_path / "twin.npz"
    _export(model, path, levels, levels, levels)
    clf = load_classifier(path)
    assert clf.header["format_version"] == 2 and clf.header["aggregation"] == "mean-target"
    twin = _torch_with_file_weights(model, clf)
    for name in CLIPS:
        samples, sr = load_clip(name, 24_000)
        assert np.abs(clf.predict_windows(samples, sr) - _torch_probs(twin, clf, samples)).max() <= 1e-3
    # the file holds the twin's own values within the quantisation step of each encoding
    head = clf.head()
    w = model.head.weight.detach().numpy().T
    step = np.abs(w).max(axis=1, keepdims=True) / levels
    assert np.all(np.abs(head["weight"] - w) <= step / 2 * 1.01 + 1e-3 * np.abs(w) + 1e-6)
    b = model.head.bias.detach().numpy()
    assert np.abs(head["bias"] - b).max() <= np.abs(b).max() / levels / 2 * 1.01 + 1e-3 * np.abs(b).max()
    neck = clf.plan[-3]
    a = model.neck.conv.weight.detach().abs().mean(dim=(1, 2, 3)) * (
        model.neck.bn.weight / torch.sqrt(model.neck.bn.running_var + model.neck.bn.eps)).detach()
    alpha = np.abs(neck["w"]).reshape(len(a), -1).mean(axis=1)
    assert np.abs(alpha - a.numpy()).max() <= a.abs().max().item() / levels / 2 * 1.01 + 2e-3 * a.abs().max().item()


def test_fewer_levels_make_a_smaller_file_and_the_parts_add_up(tmp_path):
    model = _twin()
    sizes = {}
    for levels in (127, 15):
        size, parts = _export(model, tmp_path / f"t{levels}.npz", levels, levels)
        assert size == (tmp_path / f"t{levels}.npz").stat().st_size == sum(parts.values())
        with zipfile.ZipFile(tmp_path / f"t{levels}.npz") as zf:
            assert parts["header"] == next(i.compress_size for i in zf.infolist() if i.filename.startswith("__header__"))
        sizes[levels] = size
    # bits: one per binary weight, packed per tensor; the head: one byte per weight
    bin_convs = [m for m in model.modules() if isinstance(m, Conv) and m.binary]
    pointwise = sum(-(-m.conv.weight.numel() // 8) for m in bin_convs if m.groups == 1)
    depthwise = sum(-(-m.conv.weight.numel() // 8) for m in bin_convs if m.groups > 1)
    se = sum(-(-fc.weight.numel() // 8) for m in model.modules() if isinstance(m, SE) for fc in (m.fc1, m.fc2))
    assert (parts["pointwise_bits"], parts["depthwise_bits"], parts["se_bits"]) == (pointwise, depthwise, se)
    assert parts["head"] == model.head.weight.numel() and parts["stem_int8"] == model.stem.conv.weight.numel()
    assert sizes[15] < sizes[127]


def test_size_ratio_and_limit():
    assert size_limit(58_100) == 14_525 and size_ratio(58_100, 14_525) == 16.0
    assert size_ratio(58_100, 14_526) == 15.99 and size_ratio(58_100, 25_385) == 9.15
    with pytest.raises(ValueError):
        size_ratio(0, 100)


def test_export_refuses_a_full_precision_model_and_bad_levels(tmp_path):
    with pytest.raises(ValueError, match="XNOR"):
        _export(PhiNet(PhiNetConfig(alpha=0.5, blocks=4, embed_dim=32), len(LABELS)), tmp_path / "x.npz")
    with pytest.raises(ValueError, match="head_levels"):
        _export(_twin(), tmp_path / "x.npz", 0)
    assert not (tmp_path / "x.npz").exists()


def test_an_encoded_head_can_be_replaced_and_saved(tmp_path, load_clip):
    path = tmp_path / "twin.npz"
    _export(_twin(), path)
    clf = load_classifier(path)
    head = clf.head()
    new = {"weight": head["weight"][:, ::-1].copy(), "bias": head["bias"][::-1].copy()}
    other = clf.with_head(new, "test-xnor-2")
    samples, sr = load_clip(CLIPS[0], 24_000)
    emb = clf.embed_windows(samples, sr)
    np.testing.assert_allclose(other.head()["weight"], new["weight"])
    np.testing.assert_allclose(other.window_logits(clf.to_model_rate(samples, sr)), emb @ new["weight"] + new["bias"],
                               rtol=1e-5, atol=1e-5)
    other.save(tmp_path / "other.npz")
    again = load_classifier(tmp_path / "other.npz")
    assert again.version == "test-xnor-2" and again.header["parent_version"] == "test-xnor"
    np.testing.assert_allclose(again.head()["bias"], new["bias"])


def test_a_binary_vector_is_refused(tmp_path):
    from ml.runtime.model_format import load_model_file, save_model

    path = tmp_path / "twin.npz"
    _export(_twin(), path)
    header, arrays = load_model_file(path)
    header = {k: v for k, v in header.items() if k not in ("arrays", "weights_sha256")}
    header["architecture"]["layers"][-1]["bias"] = {"encoding": "binary", "shape": [1, len(LABELS)], "bits": "blob.bits",
                                                    "bits_offset": 0, "alpha": "blob.float", "alpha_offset": 0}
    save_model(tmp_path / "bad.npz", header, arrays)
    with pytest.raises(ModelFormatError, match="cannot be binary"):
        load_classifier(tmp_path / "bad.npz")


# --- the command's refusals ------------------------------------------------------------------------

def _cli(tmp_path, student: Path, *extra: str) -> tuple[int, dict, Path]:
    from ml.cli import main

    out = tmp_path / "twin.npz"
    manifest = tmp_path / "missing.csv"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["train-field-xnor", "--from", str(student), "--manifest", str(manifest), "--out", str(out), *extra])
    return code, json.loads(buf.getvalue().strip().splitlines()[-1])["error"], out


@pytest.mark.parametrize("name,message", [("birds.npz", "not a field model"),
                                          ("birds-xnor.npz", "not a full-precision phinet"),
                                          ("baseline.npz", "not a full-precision phinet"),
                                          ("missing.npz", "does not exist")])
def test_from_must_be_a_full_precision_field_model(name, message, tmp_path):
    code, answer, out = _cli(tmp_path, MODELS / name)
    assert code == 2 and answer["code"] == "model_invalid" and message in answer["message"]
    assert not out.exists()


def test_from_that_is_not_a_model_file(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip archive")
    code, answer, out = _cli(tmp_path, junk)
    assert code == 2 and "not a model file" in answer["message"] and not out.exists()


def test_missing_manifest_and_other_seed_are_refused(tmp_path):
    code, answer, out = _cli(tmp_path, MODELS / "field.npz")
    assert code == 2 and answer["code"] == "manifest_invalid" and "missing.csv" in answer["message"]
    code, answer, out = _cli(tmp_path, MODELS / "field.npz", "--seed", "7")
    assert code == 2 and "calibration files" in answer["message"] and not out.exists()


def test_the_shipped_field_model_is_a_valid_student():
    student = load_student(MODELS / "field.npz")
    assert student.sha256 == file_sha256(MODELS / "field.npz") and student.parameters == 58_100
    assert student.config.seed == 20261206 and student.fit_files + student.val_files > 0
    with pytest.raises(FieldXnorError):
        load_student(MODELS / "urban.npz")


def test_levels_are_parsed_and_bad_ones_refused():
    from ml.field_xnor import parse_levels

    assert parse_levels("31x31x15, 15x7x7") == [(31, 31, 15), (15, 7, 7)]
    for bad in ("31x31", "31x0x1", "200x31x31", "axbxc", ""):
        with pytest.raises(FieldXnorError, match="levels"):
            parse_levels(bad)


def test_the_most_faithful_levels_that_fit_are_chosen(tmp_path):
    from ml.field_xnor import choose_levels, window_agreement

    model = _twin()
    x = np.random.default_rng(0).normal(0, 1.5, (40, 1, 64, 113)).astype(np.float32)

    def export(path, head, bias, alpha):
        return _export(model, path, head, bias, alpha)

    sizes = {lv: _export(model, tmp_path / f"{lv}.npz", *lv)[0] for lv in ((127, 127, 127), (31, 31, 31), (2, 2, 2))}
    assert window_agreement(tmp_path / "(127, 127, 127).npz", model, x) >= 0.9
    # everything fits: the most faithful wins (full int8 agrees at least as well as 2 levels)
    choice, rows = choose_levels(model, [(2, 2, 2), (127, 127, 127)], x, 10**6, export)
    assert [r["bytes"] for r in rows] == [sizes[(2, 2, 2)], sizes[(127, 127, 127)]] and all(r["fits"] for r in rows)
    assert rows[1]["window_agreement"] >= rows[0]["window_agreement"]
    assert choice == tuple(max(rows, key=lambda r: r["window_agreement"])["levels"])
    # only the small one fits: it is chosen whatever its agreement
    choice, rows = choose_levels(model, [(127, 127, 127), (2, 2, 2)], x, sizes[(2, 2, 2)], export)
    assert choice == (2, 2, 2) and [r["fits"] for r in rows] == [False, True]
    # none fits: the smallest file
    choice, _ = choose_levels(model, [(127, 127, 127), (31, 31, 31)], x, 100, export)
    assert choice == (31, 31, 31)


def test_train_field_xnor_end_to_end_on_synthetic_data(monkeypatch, tmp_path):
    """The whole command on synthetic windows (no shared data): the student's split is found again, the twin is
    trained online, calibrated, exported with its twin named, and both are scored by the runtime per manifest."""
    from ml import field, field_xnor
    from ml.cv import inner_split
    from tests.ml.test_field import _synthetic_data

    data = _synthetic_data()
    clips = sorted((ROOT / "fixtures" / "audio").glob("*.ogg"))[:12]
    rows = []
    for k, name in enumerate(("set-a", "set-b")):
        (tmp_path / name).mkdir()
        lines = ["file,label,recording_id"] + [f"{clips[i]},{data.labels_of_files[i]},r{i}" for i in range(6 * k, 6 * k + 6)]
        (tmp_path / name / "manifest.csv").write_text("\n".join(lines) + "\n")
        rows.append(tmp_path / name / "manifest.csv")
    monkeypatch.setattr("ml.teachers.birdnet.label_columns", lambda names, sci=None: {"a": 0, "b": 1})
    monkeypatch.setattr(field, "shipped_scalars", lambda: (1.0, 0.0, 1.0, 0.0))
    monkeypatch.setattr(field, "load_field_data", lambda rows, hop, workers, log: (data, list(range(12)), []))
    seed = 5
    fit_idx, val_idx = inner_split(data.labels_of_files, [f"r{i}" for i in range(12)], np.arange(12), seed)
    student_path = tmp_path / "field.npz"
    field.fit_field(data, fit_idx.tolist(), val_idx.tolist(),
                    field.FieldConfig(alpha=0.25, blocks=4, epochs=1, windows_per_epoch=48, batch_size=16,
                                      probe_windows_per_file=2, seed=seed), student_path, version="test-field")
    out = tmp_path / "twin.npz"
    cfg = field_xnor.FieldXnorConfig(epochs=2, batch_size=16, seed=seed, levels="127x127x127,7x7x7")
    report = field_xnor.train_field_xnor(student_path, rows, out, cfg, checkpoint=tmp_path / "twin.pt")
    twin = load_classifier(out)
    assert twin.version == "test-field-xnor" and twin.labels == ("a", "b", NO_TARGET)
    assert twin.header["architecture"]["config"]["binary"] and twin.header["aggregation"] == "mean-target"
    assert twin.header["training"]["twin_of"] == {"model_version": "test-field", "file": "field.npz",
                                                  "sha256": file_sha256(student_path)}
    assert report["model_bytes"] == out.stat().st_size and report["steps"] == 2 * 3
    limit = size_limit(report["parameters"])
    assert report["size_limit_16x"] == limit and report["meets_size"] == (out.stat().st_size <= limit)
    assert [c["levels"] for c in report["levels"]["candidates"]] == [[127, 127, 127], [7, 7, 7]]
    for who in ("twin", "student", "twin_torch_unquantised"):
        scores = report["scores"][who]
        assert set(scores) <= {"set-a", "set-b", "all"}
        assert sum(v["n"] for k, v in scores.items() if k != "all") == scores["all"]["n"] == len(val_idx)
        assert 0 <= scores["all"]["accuracy"] <= 1 and 0 <= scores["all"]["unknown_rate"] <= 1
    assert json.loads(Path(report["report"]).read_text())["model_version"] == "test-field-xnor"
    # with the checkpoint, training is skipped and the same twin comes out
    again = field_xnor.train_field_xnor(student_path, rows, tmp_path / "again.npz", cfg, checkpoint=tmp_path / "twin.pt")
    assert again["steps"] is None
    np.testing.assert_array_equal(load_classifier(tmp_path / "again.npz").head()["weight"], twin.head()["weight"])
