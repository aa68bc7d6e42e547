"""PhiNet students: torch vs numpy runtime parity on real clips, encodings, contract methods."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ml.export import student_header  # noqa: E402
from ml.models.phinet import PhiNet, PhiNetConfig, block_plan, count_parameters, export_arrays  # noqa: E402
from ml.runtime.classifier import load_classifier, softmax  # noqa: E402
from ml.runtime.features import FeatureParams  # noqa: E402
from ml.runtime.model_format import save_model  # noqa: E402

CLIPS = ("XC32051_bananaquit.ogg", "US8K_165775-7-1-0_jackhammer.ogg", "XC308530_puerto_rican_owl.ogg")
LABELS = [f"class {i}" for i in range(7)]


def _model(binary: bool, seed: int = 0, binary_depthwise: bool = True, shortcuts: bool = False) -> PhiNet:
    """A small PhiNet with non-trivial batch-norm statistics (a few training-mode passes on real input)."""
    torch.manual_seed(seed)
    model = PhiNet(PhiNetConfig(alpha=0.5, blocks=4, embed_dim=32, binary=binary, binary_depthwise=binary_depthwise,
                                binary_shortcuts=shortcuts), len(LABELS))
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 1, 64, 226) * 1.5)
    return model.eval()


def _export(model: PhiNet, path, encoding: str, packed: bool = True) -> None:
    layers, arrays = export_arrays(model, encoding, packed)
    header = student_header(model, layers=layers, labels=LABELS, model_set="birds", version=f"test-{encoding}",
                            params=FeatureParams(), input_scale=2.5, temperature=1.0)
    save_model(path, header, arrays)


def _torch_probs(model: PhiNet, clf, samples: np.ndarray) -> np.ndarray:
    x = clf.network_input(samples)  # the runtime's own input, so the comparison isolates the network
    with torch.no_grad():
        logits = model(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy()
    return softmax(logits.astype(np.float64), axis=1)


@pytest.mark.parametrize("binary,binary_depthwise,shortcuts",
                         [(False, True, False), (True, True, False), (True, False, False), (True, False, True)],
                         ids=["full-precision", "xnor", "xnor-float-depthwise", "xnor-shortcuts"])
@pytest.mark.parametrize("packed", [True, False], ids=["packed", "per-tensor"])
def test_numpy_runtime_matches_torch_on_real_clips(binary, binary_depthwise, shortcuts, packed, tmp_path, load_clip):
    model = _model(binary, binary_depthwise=binary_depthwise, shortcuts=shortcuts)
    path = tmp_path / "m.npz"
    _export(model, path, "float32", packed)
    clf = load_classifier(path)
    for name in CLIPS:
        samples, sr = load_clip(name, 24_000)
        numpy_probs = clf.predict_windows(samples, sr)
        assert numpy_probs.shape == (len(_torch_probs(model, clf, samples)), len(LABELS))
        assert np.abs(numpy_probs - _torch_probs(model, clf, samples)).max() <= 1e-3
    # the embedding is the head's input: logits = embedding @ W + b
    samples, sr = load_clip(CLIPS[0], 24_000)
    emb = clf.embed_windows(samples, sr)
    head = clf.head()
    with torch.no_grad():
        x = clf.network_input(samples)
        torch_emb = model.embed(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy()
    assert emb.dtype == np.float32 and emb.shape == torch_emb.shape
    assert np.abs(emb - torch_emb).max() <= 1e-4
    np.testing.assert_allclose(softmax((emb @ head["weight"] + head["bias"]).astype(np.float64), axis=1),
                               clf.predict_windows(samples, sr), atol=1e-6)


@pytest.mark.parametrize("encoding,tol", [("float16", 2e-3), ("int8", 2e-2)])
def test_compressed_weights_stay_close(encoding, tol, tmp_path, load_clip):
    model = _model(False)
    _export(model, tmp_path / "f32.npz", "float32")
    _export(model, tmp_path / "small.npz", encoding)
    full, small = load_classifier(tmp_path / "f32.npz"), load_classifier(tmp_path / "small.npz")
    assert (tmp_path / "small.npz").stat().st_size < 0.6 * (tmp_path / "f32.npz").stat().st_size
    samples, sr = load_clip(CLIPS[0], 24_000)
    assert np.abs(full.predict_windows(samples, sr) - small.predict_windows(samples, sr)).max() <= tol


def test_xnor_layers_are_bit_packed_and_much_smaller(tmp_path):
    fp, xnor = _model(False), _model(True)
    _export(fp, tmp_path / "fp32.npz", "float32")
    _export(xnor, tmp_path / "xnor.npz", "float16")
    clf = load_classifier(tmp_path / "xnor.npz")
    bits = clf.storage["blob.bits"]
    assert bits.dtype == np.uint8
    binary_weights = sum(m.conv.weight.numel() for m in xnor.modules() if getattr(m, "binary", False) and hasattr(m, "conv"))
    binary_weights += sum(m.fc1.weight.numel() + m.fc2.weight.numel() for m in xnor.modules() if hasattr(m, "fc1"))
    n_layers = sum(1 for m in xnor.modules() if getattr(m, "binary", False)) * 2
    assert binary_weights / 8 <= bits.size <= binary_weights / 8 + n_layers  # one bit per weight (+ byte padding)
    assert (tmp_path / "fp32.npz").stat().st_size >= 4 * (tmp_path / "xnor.npz").stat().st_size
    assert {layer["type"] for layer in clf.header["architecture"]["layers"]} == {"conv", "block", "pool", "dense"}
    assert clf.header["architecture"]["layers"][0]["binarize_input"] is False  # the stem stays full precision


def test_xnor_twin_can_keep_its_depthwise_convs_full_precision(tmp_path):
    twin = _model(True, binary_depthwise=False)
    _export(twin, tmp_path / "twin.npz", "float16")
    blocks = [layer for layer in load_classifier(tmp_path / "twin.npz").header["architecture"]["layers"]
              if layer["type"] == "block"]
    for block in blocks:
        convs = [layer for layer in block["layers"] if layer["type"] == "conv"]
        depthwise = [c for c in convs if c["groups"] > 1]
        assert len(depthwise) == 1 and depthwise[0]["weight"]["encoding"] == "float16"
        assert depthwise[0]["binarize_input"] is False
        assert all(c["weight"]["encoding"] == "binary" and c["binarize_input"] for c in convs if c["groups"] == 1)


def test_xnor_straight_through_estimator():
    from ml.models.phinet import binarize

    x = torch.tensor([-2.0, -0.5, 0.3, 1.0, 1.5], requires_grad=True)
    y = binarize(x)
    assert y.tolist() == [-1.0, -1.0, 1.0, 1.0, 1.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]  # gradient passed only where |x| <= 1


def test_scaling_knobs_change_the_network():
    small = PhiNet(PhiNetConfig(alpha=0.25, blocks=4, embed_dim=32), 10)
    wide = PhiNet(PhiNetConfig(alpha=1.0, blocks=4, embed_dim=32), 10)
    deep = PhiNet(PhiNetConfig(alpha=0.25, blocks=7, beta=2.0, embed_dim=32), 10)
    assert count_parameters(small) < count_parameters(deep) < count_parameters(wide)
    _, plan = block_plan(PhiNetConfig(alpha=0.5, blocks=6, beta=2.0, t0=2.0))
    expansions = [exp / c_in for c_in, exp, _, _ in plan]
    assert expansions[0] == pytest.approx(2.0, rel=0.2) and expansions[-1] == pytest.approx(4.0, rel=0.2)
    assert 5_000 <= count_parameters(PhiNet(PhiNetConfig(alpha=0.5), 10)) <= 100_000


def test_with_head_and_save_round_trip(tmp_path, load_clip):
    model = _model(False)
    _export(model, tmp_path / "m.npz", "float16")
    clf = load_classifier(tmp_path / "m.npz")
    head = clf.head()
    new = {"weight": head["weight"][:, ::-1].copy(), "bias": head["bias"][::-1].copy()}
    swapped = clf.with_head(new, "test-swapped")
    samples, sr = load_clip(CLIPS[1], 24_000)
    np.testing.assert_allclose(swapped.predict_windows(samples, sr), clf.predict_windows(samples, sr)[:, ::-1], atol=1e-6)
    assert swapped.version == "test-swapped" and swapped.header["parent_version"] == "test-float16"
    swapped.save(tmp_path / "swapped.npz")
    again = load_classifier(tmp_path / "swapped.npz")
    assert again.version == "test-swapped" and again.model_set == "birds"
    np.testing.assert_allclose(again.predict_windows(samples, sr), swapped.predict_windows(samples, sr), atol=1e-6)
    with pytest.raises(ValueError, match="shapes"):
        clf.with_head({"weight": head["weight"][:-1], "bias": head["bias"]}, "bad")
    with pytest.raises(ValueError, match="NaN"):
        clf.with_head({"weight": head["weight"] * np.nan, "bias": head["bias"]}, "bad")


@pytest.mark.parametrize("c_in,c_out", [(12, 36), (24, 56), (36, 24), (72, 24), (108, 56), (16, 16)])
def test_runtime_channel_shortcut_matches_torch(c_in, c_out):
    from ml.models.phinet import match_channels as torch_match
    from ml.runtime.phinet_model import match_channels

    x = np.random.default_rng(c_in).normal(size=(2, 5, 7, c_in)).astype(np.float32)
    ref = torch_match(torch.from_numpy(x.transpose(0, 3, 1, 2)), c_out).numpy().transpose(0, 2, 3, 1)
    y = match_channels(x, c_out)
    assert y.shape == (2, 5, 7, c_out) and np.abs(y - ref).max() <= 1e-6
    if c_out > c_in:
        assert np.array_equal(y[..., c_in], x[..., 0])  # tiled
    elif c_out < c_in:
        assert np.allclose(y.sum(), x.sum() / -(-c_in // c_out), atol=1e-3)  # averaged over ceil(c_in / c_out) groups


@pytest.mark.parametrize("target,value", [("depthwise", True), ("stem", True), ("pointwise", "yes"),
                                          ("pointwise", 1)])
def test_runtime_refuses_a_bad_shortcut(target, value, tmp_path):
    from ml.runtime.model_format import ModelFormatError

    model = _model(True, binary_depthwise=False, shortcuts=True)
    layers, arrays = export_arrays(model, "float32")
    block = next(layer for layer in layers if layer["type"] == "block")
    convs = {"stem": layers[0],  # 3x3 stride 2
             "depthwise": next(c for c in block["layers"] if c["type"] == "conv" and c["groups"] > 1),
             "pointwise": next(c for c in block["layers"] if c["type"] == "conv" and c["groups"] == 1)}
    convs[target]["shortcut"] = value
    header = student_header(model, layers=layers, labels=LABELS, model_set="birds", version="bad",
                            params=FeatureParams(), input_scale=2.5, temperature=1.0)
    save_model(tmp_path / "bad.npz", header, arrays)
    assert header["format_version"] == 2
    with pytest.raises(ModelFormatError, match="only on a 1x1 conv with stride 1"):
        load_classifier(tmp_path / "bad.npz")


def test_a_twin_with_shortcuts_is_format_version_2_and_a_version_1_file_may_not_use_them(tmp_path):
    from ml.runtime.model_format import ModelFormatError

    _export(_model(False), tmp_path / "fp.npz", "float16")
    _export(_model(True, binary_depthwise=False), tmp_path / "plain-twin.npz", "float16")
    model = _model(True, binary_depthwise=False, shortcuts=True)
    _export(model, tmp_path / "twin.npz", "float16")
    assert load_classifier(tmp_path / "fp.npz").header["format_version"] == 1
    assert load_classifier(tmp_path / "plain-twin.npz").header["format_version"] == 1
    assert '"shortcut"' not in json.dumps(load_classifier(tmp_path / "plain-twin.npz").header)  # v1 as before
    assert load_classifier(tmp_path / "twin.npz").header["format_version"] == 2
    layers, arrays = export_arrays(model, "float16")
    header = student_header(model, layers=layers, labels=LABELS, model_set="birds", version="old",
                            params=FeatureParams(), input_scale=2.5, temperature=1.0)
    save_model(tmp_path / "old.npz", {**header, "format_version": 1}, arrays)
    with pytest.raises(ModelFormatError, match="needs format_version 2"):
        load_classifier(tmp_path / "old.npz")


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("shape", [(3, 9, 14, 6), (2, 16, 29, 12)])
def test_runtime_depthwise_conv_matches_torch(stride, shape):
    from ml.runtime.phinet_model import conv2d

    rng = np.random.default_rng(stride)
    x = rng.normal(size=shape).astype(np.float32)
    c = shape[-1]
    w = rng.normal(size=(c, 1, 3, 3)).astype(np.float32)
    b = rng.normal(size=c).astype(np.float32)
    y = conv2d(x, w, b, (stride, stride), c)
    ref = torch.nn.functional.conv2d(torch.from_numpy(x.transpose(0, 3, 1, 2)), torch.from_numpy(w),
                                     torch.from_numpy(b), stride=stride, padding=1, groups=c).numpy()
    assert y.dtype == np.float32 and y.shape == ref.transpose(0, 2, 3, 1).shape
    assert np.abs(y - ref.transpose(0, 2, 3, 1)).max() <= 1e-5


def test_long_inputs_run_in_window_batches_with_the_same_embeddings(tmp_path):
    from ml.runtime.phinet_model import WINDOW_BATCH

    model = _model(False)
    _export(model, tmp_path / "m.npz", "float32")
    clf = load_classifier(tmp_path / "m.npz")
    x = np.random.default_rng(0).normal(0, 1, (2 * WINDOW_BATCH + 3, 64, 40, 1)).astype(np.float32)
    emb = clf.embeddings_from_input(x)
    with torch.no_grad():
        ref = model.embed(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy()
    assert emb.shape == ref.shape and np.abs(emb - ref).max() <= 1e-4
