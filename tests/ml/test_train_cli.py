"""``python -m ml train`` end to end on fixture clips, and its refusal of bad input."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ml import train as train_mod  # noqa: E402
from ml.cli import main  # noqa: E402
from ml.runtime.classifier import load_classifier  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
AUDIO = ROOT / "fixtures" / "audio"
WARBLERS = ["XC173620_adelaides_warbler.ogg", "XC173620_adelaides_warbler.flac", "XC173620_adelaides_warbler.mp3",
            "XC173620_adelaides_warbler_24k.wav", "XC46659_adelaides_warbler.ogg"]
CITY = ["US8K_130030-3-0-0_dog_bark.ogg", "US8K_159738-8-0-16_siren.ogg", "US8K_165775-7-1-0_jackhammer.ogg",
        "US8K_174840-1-0-0_car_horn.ogg", "US8K_103258-5-0-0_engine_idling.ogg"]
FAST = ["--teacher", "none", "--epochs", "1", "--xnor-epochs", "1", "--alpha", "0.25", "--blocks", "3",
        "--embed-dim", "16", "--workers", "1"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(train_mod, "CACHE_DIR", tmp_path / "cache")


def _manifest(tmp_path: Path, rows: list[tuple[str, str]], header=("file", "label")) -> Path:
    (tmp_path / "clips").mkdir(exist_ok=True)
    path = tmp_path / "manifest.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for name, label in rows:
            if (AUDIO / name).exists():
                shutil.copy(AUDIO / name, tmp_path / "clips" / name)
            w.writerow([f"clips/{name}", label])
    return path


def _json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_train_writes_models_report_and_plot(tmp_path, capsys):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "broken.ogg").write_bytes(b"OggS" + bytes(300))
    rows = [(n, "Adelaide's Warbler") for n in WARBLERS] + [(n, "city") for n in CITY] + [("broken.ogg", "city")]
    manifest = _manifest(tmp_path, rows)
    out = tmp_path / "models" / "tiny.npz"
    assert main(["train", "--manifest", str(manifest), "--out", str(out), "--set", "urban", "--generations", "2",
                 "--model-version", "tiny-1", *FAST]) == 0
    summary = _json(capsys.readouterr().out)
    assert summary["model_version"] == "tiny-1" and len(summary["generations"]) == 2
    assert summary["generations"][0]["kept"] is True
    report = json.loads(Path(summary["report"]).read_text())
    assert report["skipped_files"] and "broken.ogg" in report["skipped_files"][0]
    assert Path(report["reliability_png"]).read_bytes()[:4] == b"\x89PNG"
    assert {"val", "test", "teachers", "temperature"} <= set(report["generations"][1])
    assert report["generations"][1]["teachers"] == ["gen 0"]  # born-again: taught by the previous generation
    clf = load_classifier(out)
    assert clf.model_set == "urban" and clf.labels == ("Adelaide's Warbler", "city")
    assert clf.temperature == pytest.approx(report["temperature"])
    xnor = load_classifier(tmp_path / "models" / "tiny-xnor.npz")
    assert xnor.version == "tiny-1-xnor" and report["xnor"]["size_ratio_vs_fp32_twin"] > 1
    samples = np.random.default_rng(0).normal(0, 0.1, 48_000).astype(np.float32)
    assert clf.predict_windows(samples, 24_000).shape == (1, 2)


def test_train_with_the_birdnet_teacher(tmp_path, capsys):
    rows = [(n, "Adelaide's Warbler") for n in WARBLERS]
    rows += [("XC370024_puerto_rican_vireo.ogg", "Puerto Rican Vireo"), ("XC173376_puerto_rican_vireo.ogg", "Puerto Rican Vireo"),
             ("XC32051_bananaquit.ogg", "Puerto Rican Vireo")]  # mislabelled on purpose: BirdNET disagrees
    manifest = _manifest(tmp_path, rows)
    out = tmp_path / "b.npz"
    args = [a for a in FAST if a not in ("--teacher", "none")]
    assert main(["train", "--manifest", str(manifest), "--out", str(out), "--generations", "1", "--no-xnor", *args]) == 0
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert "Adelaide's Warbler" in report["teachers"]["birdnet"]["known_labels"]
    assert report["generations"][0]["teachers"] == ["birdnet"]


@pytest.mark.parametrize("case,message", [
    ("missing", "does not exist"),
    ("empty", "lists no labelled files"),
    ("no_label", "no label column"),
    ("one_class", "single label class"),
    ("all_corrupt", "No file of the manifest could be read"),
])
def test_train_refuses_bad_input(case, message, tmp_path, capsys):
    if case == "missing":
        manifest = tmp_path / "nope.csv"
    elif case == "empty":
        manifest = _manifest(tmp_path, [])
    elif case == "no_label":
        manifest = _manifest(tmp_path, [(WARBLERS[0], "x")], header=("file", "kind"))
    elif case == "one_class":
        manifest = _manifest(tmp_path, [(n, "Adelaide's Warbler") for n in WARBLERS])
    else:
        (tmp_path / "clips").mkdir()
        for i in range(6):
            (tmp_path / "clips" / f"bad{i}.wav").write_bytes(b"RIFF....WAVEjunk")
        manifest = _manifest(tmp_path, [(f"bad{i}.wav", "ab"[i % 2]) for i in range(6)])
    code = main(["train", "--manifest", str(manifest), "--out", str(tmp_path / "m.npz"), *FAST])
    assert code == 2
    captured = capsys.readouterr()
    assert _json(captured.out)["error"]["code"] == "train_failed"
    assert message in captured.err
    assert not (tmp_path / "m.npz").exists()


def test_split_column_needs_training_values(tmp_path, capsys):
    manifest = _manifest(tmp_path, [(WARBLERS[0], "a"), (CITY[0], "b")])
    assert main(["train", "--manifest", str(manifest), "--out", str(tmp_path / "m.npz"), "--split-column", "label"]) == 2
    assert _json(capsys.readouterr().out)["error"]["code"] == "invalid_arguments"


def test_training_options_reach_the_model_and_bad_values_are_refused(tmp_path, capsys):
    rows = [(n, "Adelaide's Warbler") for n in WARBLERS] + [(n, "city") for n in CITY]
    manifest = _manifest(tmp_path, rows)
    out = tmp_path / "opts.npz"
    assert main(["train", "--manifest", str(manifest), "--out", str(out), "--generations", "1", "--no-xnor",
                 "--lr", "0.01", "--kd-alpha", "0", "--mixup", "0", "--threads", "1", "--hop-length", "640", *FAST]) == 0
    capsys.readouterr()
    config = load_classifier(out).header["training"]["config"]
    assert (config["lr"], config["kd_alpha"], config["mixup"], config["threads"]) == (0.01, 0.0, 0.0, 1)
    assert load_classifier(out).feature_params.hop_length == 640
    with pytest.raises(SystemExit) as exc:  # argparse: at most the two cores of the shared machine
        main(["train", "--manifest", str(manifest), "--out", str(out), "--threads", "8"])
    assert exc.value.code == 2
    for flag in ("--xnor-init", "--xnor-depthwise", "--xnor-teacher"):
        with pytest.raises(SystemExit) as exc:
            main(["train", "--manifest", str(manifest), "--out", str(out), flag, "bogus"])
        assert exc.value.code == 2
    out.unlink()
    for name in ("xnor_init", "xnor_depthwise", "xnor_teacher"):  # the Python API refuses them too, before any work
        with pytest.raises(train_mod.TrainError, match=f"{name} must be one of"):
            train_mod.train(train_mod.TrainConfig(manifest=str(manifest), out=str(out), **{name: "bogus"}))
        assert not out.exists()


def test_fit_probe_learns_separable_data_and_is_seeded():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (3, 40))
    y = np.repeat(np.arange(3), 30)
    x = (centres[y] + rng.normal(0, 1, (90, 40))).astype(np.float32)
    predict = train_mod.fit_probe(x, y, 3, seed=5)
    y_new = np.repeat(np.arange(3), 10)
    x_new = (centres[y_new] + rng.normal(0, 1, (30, 40))).astype(np.float32)
    assert (predict(x_new).argmax(axis=1) == y_new).mean() >= 0.95
    np.testing.assert_array_equal(predict(x_new), train_mod.fit_probe(x, y, 3, seed=5)(x_new))


def test_probe_teacher_gives_training_files_out_of_fold_logits(monkeypatch):
    """A mislabelled training file is memorised by a probe fitted on it, not by its out-of-fold probe."""
    from ml.teachers import birdnet

    rng = np.random.default_rng(1)
    d, per_class = 300, 10
    centres = rng.normal(0, 1, (2, d))
    items, logits = [], {}
    for k in range(2 * per_class):
        true = k % 2
        label = ["a", "b"][1 - true] if k == 0 else ["a", "b"][true]  # file 0 carries the wrong label
        path = Path(f"/nonexistent/f{k}.ogg")
        items.append(train_mod.Item(path, label, f"g{k}", split="train"))
        logits[path] = (centres[true] + 0.3 * rng.normal(0, 1, (3, d)) + rng.normal(0, 1, d)).astype(np.float32)
    items.append(train_mod.Item(Path("/nonexistent/val.ogg"), "a", "gv", split="val"))
    logits[items[-1].path] = centres[0][None].repeat(3, 0).astype(np.float32)
    monkeypatch.setattr(birdnet, "is_cached", lambda path, cache_dir=None: True)
    monkeypatch.setattr(birdnet, "cached_file_logits", lambda model, path, cache_dir=None: logits[path])
    feats = [np.zeros((3, 4, 5), np.float16) for _ in items]
    rmss = [np.ones(3, np.float32) for _ in items]
    out, index = train_mod.probe_teacher(items, feats, rmss, ["a", "b"], seed=3, log=lambda s: None)
    assert index == {"a": 0, "b": 1} and all(z.shape == (3, 2) for z in out)
    x = np.concatenate([logits[it.path] for it in items[:-1]])
    y = np.concatenate([[0 if it.label == "a" else 1] * 3 for it in items[:-1]])
    in_fold = train_mod.fit_probe(x, y, 2, seed=3)(logits[items[0].path]).mean(axis=0)
    assert in_fold.argmax() == 1  # fitted on its own windows: the wrong label "b" is memorised
    assert out[0].mean(axis=0).argmax() == 0  # out of fold: what its sound says ("a")
    assert out[-1].mean(axis=0).argmax() == 0  # validation file: the probe fitted on all training files


def test_train_with_the_birdnet_probe_teacher(tmp_path, capsys):
    rows = [(n, "warbler") for n in WARBLERS] + [(n, "city") for n in CITY]
    manifest = _manifest(tmp_path, rows)
    out = tmp_path / "p.npz"
    args = [a for a in FAST if a not in ("--teacher", "none")]
    assert main(["train", "--manifest", str(manifest), "--out", str(out), "--generations", "1", "--no-xnor",
                 "--teacher", "birdnet-probe", *args]) == 0
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert report["teachers"]["birdnet-probe"]["known_labels"] == ["city", "warbler"]
    assert report["generations"][0]["teachers"] == ["birdnet-probe"]
    assert load_classifier(out).header["training"]["config"]["teacher"] == "birdnet-probe"


def test_xnor_twin_of_an_earlier_student(tmp_path, capsys):
    """--xnor-from: the torch copy of a runtime student predicts what the file predicts; only the twin is trained."""
    from ml.models.phinet import from_runtime

    rows = [(n, "Adelaide's Warbler") for n in WARBLERS] + [(n, "city") for n in CITY]
    manifest = _manifest(tmp_path, rows)
    out = tmp_path / "s.npz"
    assert main(["train", "--manifest", str(manifest), "--out", str(out), "--generations", "1", "--no-xnor",
                 "--model-version", "s-1", *FAST]) == 0
    capsys.readouterr()
    student_bytes, student_report = out.read_bytes(), out.with_suffix(".report.json").read_text()
    clf = load_classifier(out)
    copy = from_runtime(clf)
    x = clf.network_input(np.random.default_rng(0).normal(0, 0.1, 72_000).astype(np.float32))
    with torch.no_grad():
        torch_logits = copy(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy()
    head = clf.head()
    np.testing.assert_allclose(torch_logits, clf.embeddings_from_input(x) @ head["weight"] + head["bias"], atol=1e-4)
    assert main(["train", "--manifest", str(manifest), "--out", str(tmp_path / "ignored.npz"), "--xnor-from", str(out),
                 *FAST]) == 0  # --xnor-teacher online by default
    summary = _json(capsys.readouterr().out)
    assert summary["generations"] == [] and summary["xnor"]["model"] == str(tmp_path / "s-xnor.npz")
    assert out.read_bytes() == student_bytes and out.with_suffix(".report.json").read_text() == student_report
    twin = load_classifier(tmp_path / "s-xnor.npz")
    assert twin.version == "s-1-xnor" and twin.header["architecture"]["config"]["binary"] is True
    assert twin.labels == clf.labels and twin.feature_params == clf.feature_params
    assert twin.header["training"]["config"]["xnor_teacher"] == "online"
    report = json.loads((tmp_path / "s-xnor.report.json").read_text())
    assert report["xnor_from"] == str(out) and report["xnor"]["size_ratio_vs_fp32_twin"] > 1
    assert report["xnor"]["size_ratio_vs_fp32_weights"] == round(
        4 * report["parameters"] / (tmp_path / "s-xnor.npz").stat().st_size, 2)
    assert all(layer.get("shortcut") for layer in twin.header["architecture"]["layers"][1]["layers"]
               if layer["type"] == "conv" and layer["groups"] == 1)  # Bi-Real shortcuts by default
    assert not (tmp_path / "ignored.npz").exists()
    assert main(["train", "--manifest", str(manifest), "--out", str(out), "--xnor-from", str(tmp_path / "s-xnor.npz"),
                 *FAST]) == 2  # an XNOR file is no full-precision student
    assert "not a full-precision phinet student" in capsys.readouterr().err


def test_an_xnor_twin_starts_from_its_student_when_given_one():
    from dataclasses import replace

    from ml.models.phinet import PhiNet, PhiNetConfig

    cfg = PhiNetConfig(alpha=0.25, blocks=3, embed_dim=16)
    torch.manual_seed(1)
    student = PhiNet(cfg, 2)
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 4)
    split = train_mod.Split(rng.normal(size=(8, 64, 40)).astype(np.float16), y, np.full((8, 2), np.nan, np.float32),
                            list(range(8)), np.eye(2, dtype=np.float32)[y], np.zeros(8, bool))
    tcfg = train_mod.TrainConfig(manifest="m.csv", out="o.npz", lr=1e-12, batch_size=4)
    twin_cfg = replace(cfg, binary=True, binary_depthwise=False)
    started = train_mod.train_student(twin_cfg, split, [], [], 2, tcfg, 1.0, 1, 0, "twin", init=student)
    fresh = train_mod.train_student(twin_cfg, split, [], [], 2, tcfg, 1.0, 1, 0, "twin")
    for name in ("stem.conv.weight", "blocks.1.project.conv.weight", "blocks.1.dw.conv.weight", "head.weight"):
        latent = student.state_dict()[name]
        assert torch.allclose(started.state_dict()[name], latent, atol=1e-6), name
        assert not torch.allclose(fresh.state_dict()[name], latent, atol=1e-3), name
    assert started.blocks[1].dw.binary is False and started.blocks[1].project.binary is True


class _HalvesTeacher(torch.nn.Module):
    """A fixed 'teacher': class 0 when the low mel bins are louder than the high ones, else class 1.
    It records every batch it is shown."""

    def __init__(self):
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, x):
        self.seen.append(x.clone())
        half = x.shape[2] // 2
        d = x[:, 0, :half].mean(dim=(1, 2)) - x[:, 0, half:].mean(dim=(1, 2))
        return torch.stack([8 * d, -8 * d], dim=1)


def _halves_split(n: int = 16):
    """Windows whose louder half of the mel bins decides the teacher's class; their labels say the opposite."""
    rng = np.random.default_rng(3)
    louder_low = np.arange(n) % 2 == 0
    x = rng.normal(0, 0.3, size=(n, 64, 40)).astype(np.float32)
    x[louder_low, :32] += 2.0
    x[~louder_low, 32:] += 2.0
    y = np.where(louder_low, 1, 0)  # the teacher would answer 0 for louder_low
    return train_mod.Split(x.astype(np.float16), y, np.full((n, 2), np.nan, np.float32), list(range(n)),
                           np.eye(2, dtype=np.float32)[y], np.zeros(n, bool)), louder_low


@pytest.mark.parametrize("kd_alpha,follows", [(1.0, "teacher"), (0.0, "labels")])
def test_an_online_teacher_is_run_on_the_augmented_batch_the_student_sees(kd_alpha, follows):
    from ml.models.phinet import PhiNet, PhiNetConfig

    split, louder_low = _halves_split()
    teacher = _HalvesTeacher()
    seen_by_student: list[torch.Tensor] = []
    cfg = train_mod.TrainConfig(manifest="m.csv", out="o.npz", batch_size=8, lr=1e-2, kd_alpha=kd_alpha, mixup=0.2)
    handle = torch.nn.modules.module.register_module_forward_pre_hook(
        lambda mod, args: seen_by_student.append(args[0].clone()) if isinstance(mod, PhiNet) else None)
    try:
        student = train_mod.train_student(PhiNetConfig(alpha=0.25, blocks=3, embed_dim=16), split, [], [], 2, cfg,
                                          1.0, 25, 0, "online", online_teacher=teacher)
    finally:
        handle.remove()
    assert len(teacher.seen) == 25 * 2 and len(seen_by_student) == 50
    assert all(torch.equal(t, s) for t, s in zip(teacher.seen, seen_by_student))  # the same augmented input
    raw = torch.from_numpy(train_mod.normalise(split.x, 1.0))[:, None]
    assert not any(torch.equal(t, raw[:8]) or torch.equal(t, raw[8:]) for t in teacher.seen)  # augmented
    with torch.no_grad():
        answers = student(raw).argmax(dim=1).numpy()
    expected = np.where(louder_low, 0, 1) if follows == "teacher" else split.y
    assert (answers == expected).mean() >= 0.9, answers
