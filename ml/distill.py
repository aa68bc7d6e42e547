"""Distillation maths (torch): the KD loss and multi-teacher combination; calibration helpers (numpy).

* :func:`distillation_loss` -- ``alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(label)``
  (Hinton et al. 2015); samples without a teacher (``teacher_mask`` False) get CE only.
* :func:`combine_teachers` -- several teachers' tempered probabilities into one target:
  ``weighted`` (per batch, teacher m gets exp(1 - err_m) / sum exp(1 - err_n), err_m = its
  top-1 error on the batch), ``top1`` (per sample, the teacher with the lowest cross-entropy
  on the label) or ``topk`` (per sample, the mean of the K lowest-loss teachers).
"""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from ml.metrics import expected_calibration_error

MODES = ("weighted", "top1", "topk")


def distillation_loss(student_logits: torch.Tensor, labels: torch.Tensor, teacher_probs: torch.Tensor | None,
                      alpha: float, temperature: float, teacher_mask: torch.Tensor | None = None,
                      label_targets: torch.Tensor | None = None) -> torch.Tensor:
    """Mean KD loss of a batch. ``label_targets`` (soft, e.g. mixup) replaces ``labels`` for the CE term."""
    log_p = F.log_softmax(student_logits, dim=1)
    if label_targets is not None:
        ce = -(label_targets * log_p).sum(dim=1)
    else:
        ce = F.nll_loss(log_p, labels, reduction="none")
    if teacher_probs is None or alpha <= 0:
        return ce.mean()
    log_s_t = F.log_softmax(student_logits / temperature, dim=1)
    t = teacher_probs.clamp_min(0)
    kl = (t * (torch.log(t.clamp_min(1e-12)) - log_s_t)).sum(dim=1) * temperature ** 2
    mask = torch.ones_like(ce) if teacher_mask is None else teacher_mask.to(ce.dtype)
    return (mask * (alpha * kl + (1 - alpha) * ce) + (1 - mask) * ce).mean()


def combine_teachers(teacher_probs: torch.Tensor, labels: torch.Tensor, mode: str = "weighted", k: int = 2,
                     mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Combine (M, B, C) teacher probabilities into (B, C) targets.

    ``mask`` (M, B) marks which teacher has an opinion on which sample (BirdNET has none for
    species it does not know). Returns ``(targets, has_teacher (B,), weight per teacher (M,))``.
    """
    if mode not in MODES:
        raise ValueError(f"unknown teacher mode {mode!r}; choose from {MODES}")
    m, b, _ = teacher_probs.shape
    mask = torch.ones(m, b, dtype=torch.bool) if mask is None else mask.bool()
    has = mask.any(dim=0)
    if mode == "weighted":
        wrong = (teacher_probs.argmax(dim=2) != labels[None, :]).float()
        err = torch.stack([wrong[i][mask[i]].mean() if mask[i].any() else torch.tensor(1.0) for i in range(m)])
        w = torch.exp(1 - err) * mask.any(dim=1).float()
        per_sample = w[:, None] * mask.float()  # (M, B)
        norm = per_sample.sum(dim=0).clamp_min(1e-12)
        targets = (per_sample[:, :, None] * teacher_probs).sum(dim=0) / norm[:, None]
        return targets, has, w / w.sum().clamp_min(1e-12)
    nll = -torch.log(teacher_probs.gather(2, labels[None, :, None].expand(m, b, 1))[..., 0].clamp_min(1e-12))
    nll = torch.where(mask, nll, torch.full_like(nll, float("inf")))
    kk = 1 if mode == "top1" else max(1, min(k, m))
    best = torch.topk(-nll, kk, dim=0).indices  # (kk, B)
    chosen = torch.zeros(m, b)
    chosen.scatter_(0, best, 1.0)
    chosen = chosen * mask.float()
    targets = (chosen[:, :, None] * teacher_probs).sum(dim=0) / chosen.sum(dim=0).clamp_min(1e-12)[:, None]
    return targets, has, chosen.sum(dim=1) / chosen.sum().clamp_min(1e-12)


# --- calibration (numpy) ---------------------------------------------------------------------------

def file_probs(window_logits: list[np.ndarray], temperature: float) -> np.ndarray:
    """(n_files, C): each file's mean of softmax(window logits / T) -- as at inference."""
    out = []
    for z in window_logits:
        z = z.astype(np.float64) / temperature
        z = np.exp(z - z.max(axis=1, keepdims=True))
        out.append((z / z.sum(axis=1, keepdims=True)).mean(axis=0))
    return np.array(out)


def fit_temperature(window_logits: list[np.ndarray], y: np.ndarray) -> float:
    """Temperature minimising the file-level NLL on validation files (log-spaced grid search)."""
    grid = np.exp(np.linspace(np.log(0.25), np.log(20.0), 120))
    nll = [-np.mean(np.log(file_probs(window_logits, t)[np.arange(len(y)), y] + 1e-12)) for t in grid]
    return float(grid[int(np.argmin(nll))])


def reliability_png(confidence: np.ndarray, correct: np.ndarray, path, title: str, n_bins: int = 10) -> None:
    """Save a reliability diagram (accuracy vs confidence per bin, with counts) as PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conf, hit = np.asarray(confidence, float), np.asarray(correct, float)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    centres = (np.arange(n_bins) + 0.5) / n_bins
    acc = [hit[bins == i].mean() if (bins == i).any() else 0 for i in range(n_bins)]
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.bar(centres, acc, width=1 / n_bins, edgecolor="k", alpha=0.7, label="accuracy")
    ax.plot([0, 1], [0, 1], "r--", label="perfect")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{title}\nECE = {expected_calibration_error(conf, hit, n_bins):.3f}, n = {conf.size}", fontsize=9)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
