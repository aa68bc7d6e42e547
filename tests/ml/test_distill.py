"""Distillation loss, multi-teacher combination and calibration maths."""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ml.distill import (combine_teachers, distillation_loss, file_probs, fit_temperature,  # noqa: E402
                        reliability_png)
from torch.nn import functional as F  # noqa: E402

from ml.metrics import expected_calibration_error as ece  # noqa: E402


def test_distillation_loss_is_the_weighted_sum_of_kl_and_ce():
    torch.manual_seed(0)
    logits, teacher_logits = torch.randn(6, 5), torch.randn(6, 5)
    labels = torch.tensor([0, 1, 2, 3, 4, 0])
    T, alpha = 3.0, 0.7
    teacher = F.softmax(teacher_logits / T, dim=1)
    expected_kl = F.kl_div(F.log_softmax(logits / T, dim=1), teacher, reduction="batchmean") * T * T
    expected = alpha * expected_kl + (1 - alpha) * F.cross_entropy(logits, labels)
    got = distillation_loss(logits, labels, teacher, alpha, T)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    assert distillation_loss(logits, labels, teacher, 0.0, T).item() == pytest.approx(F.cross_entropy(logits, labels).item())
    # a student equal to its teacher pays only the CE share
    same = distillation_loss(teacher_logits, labels, teacher, 1.0, T)
    assert same.item() == pytest.approx(0.0, abs=1e-6)


def test_samples_without_a_teacher_get_cross_entropy_only():
    logits = torch.randn(4, 3)
    labels = torch.tensor([0, 1, 2, 0])
    teacher = F.softmax(torch.randn(4, 3), dim=1)
    mask = torch.tensor([False, False, False, False])
    assert distillation_loss(logits, labels, teacher, 0.9, 2.0, teacher_mask=mask).item() == \
        pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-6)


def test_weighted_teachers_follow_exp_one_minus_error():
    labels = torch.tensor([0, 1, 2, 0])
    good = F.one_hot(labels, 3).float() * 0.8 + 0.2 / 3  # always right
    bad = torch.roll(good, 1, dims=1)  # always wrong
    targets, has, weights = combine_teachers(torch.stack([good, bad]), labels, "weighted")
    w_good, w_bad = math.exp(1 - 0), math.exp(1 - 1)
    assert weights.tolist() == pytest.approx([w_good / (w_good + w_bad), w_bad / (w_good + w_bad)], rel=1e-6)
    expected = (w_good * good + w_bad * bad) / (w_good + w_bad)
    assert torch.allclose(targets, expected, atol=1e-6) and has.all()


def test_top1_and_topk_pick_the_lowest_loss_teachers():
    labels = torch.tensor([0, 1])
    t0 = torch.tensor([[0.9, 0.05, 0.05], [0.6, 0.3, 0.1]])
    t1 = torch.tensor([[0.5, 0.4, 0.1], [0.1, 0.8, 0.1]])
    t2 = torch.tensor([[0.2, 0.4, 0.4], [0.2, 0.5, 0.3]])
    stack = torch.stack([t0, t1, t2])
    top1, _, _ = combine_teachers(stack, labels, "top1")
    assert torch.allclose(top1, torch.stack([t0[0], t1[1]]))
    top2, _, _ = combine_teachers(stack, labels, "topk", k=2)
    assert torch.allclose(top2, torch.stack([(t0[0] + t1[0]) / 2, (t1[1] + t2[1]) / 2]))
    # a teacher without an opinion (mask) is never chosen
    mask = torch.tensor([[False, True], [True, True], [True, True]])
    masked, has, _ = combine_teachers(stack, labels, "top1", mask=mask)
    assert torch.allclose(masked[0], t1[0]) and has.all()
    with pytest.raises(ValueError):
        combine_teachers(stack, labels, "median")


def test_ece_ten_bins_with_confidence_one_in_the_last_bin():
    conf = np.array([1.0, 1.0, 0.95, 0.55, 0.05])
    correct = np.array([True, False, True, True, False])
    # bins: [0.9,1.0] holds 1.0, 1.0, 0.95 -> acc 2/3, conf 0.9833; [0.5,0.6) -> 1 vs 0.55; [0,0.1) -> 0 vs 0.05
    expected = (3 * abs(2 / 3 - (1 + 1 + 0.95) / 3) + abs(1 - 0.55) + abs(0 - 0.05)) / 5
    assert ece(conf, correct) == pytest.approx(expected)
    assert ece(np.array([0.7] * 10), np.array([True] * 7 + [False] * 3)) == pytest.approx(0.0)


def test_temperature_scaling_recovers_the_generating_temperature():
    rng = np.random.default_rng(1)
    true_logits = rng.normal(0, 2.0, size=(400, 5))
    probs = np.exp(true_logits) / np.exp(true_logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(5, p=p) for p in probs])
    overconfident = [row[None, :] * 3.0 for row in true_logits]  # a model 3x too sharp
    t = fit_temperature(overconfident, y)
    assert t == pytest.approx(3.0, rel=0.25)
    calibrated = file_probs(overconfident, t)
    raw = file_probs(overconfident, 1.0)
    assert ece(calibrated.max(1), calibrated.argmax(1) == y) < ece(raw.max(1), raw.argmax(1) == y)


def test_reliability_png(tmp_path):
    path = tmp_path / "rel.png"
    reliability_png(np.array([0.9, 0.8, 0.3]), np.array([True, False, True]), path, "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
