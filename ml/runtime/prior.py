"""Optional location/date prior from observations, in the spirit of BirdNET's range filter.

For a place and a date, each label's prior weight is the (smoothed) share of nearby
observations of that label within a few weeks of the same day of the year:

    w(label) = (k(label) + s) / (max_label k + s),   k = sum of kernel weights of its observations

with a Gaussian kernel over great-circle distance (``radius_km`` = 1 sigma) times a circular
Gaussian over the day of year (``day_sigma`` days), and ``s`` a smoothing count so that labels
never seen nearby keep a small, non-zero weight. :func:`apply_prior` multiplies file
probabilities by the weights and renormalises; :meth:`SpeciesPrior.allowed` gives the set of
labels above a threshold (for ``Classifier.classify(..., allowed=...)``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: float, lng1: float, lat2: np.ndarray, lng2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km from one point to arrays of points (degrees)."""
    p1, p2 = math.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lng2) - math.radians(lng1)
    a = np.sin(dphi / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _check_point(lat: float, lng: float) -> None:
    if not (isinstance(lat, (int, float)) and isinstance(lng, (int, float))) or not (
            -90 <= lat <= 90 and -180 <= lng <= 180) or math.isnan(lat) or math.isnan(lng):
        raise ValueError(f"invalid coordinates lat={lat!r}, lng={lng!r}")


@dataclass(frozen=True)
class SpeciesPrior:
    labels: np.ndarray  # (n,) label of each observation
    lat: np.ndarray
    lng: np.ndarray
    day_of_year: np.ndarray  # 1..366, or 0 when unknown (counts for every date)
    radius_km: float = 30.0
    day_sigma: float = 30.0
    smoothing: float = 0.5

    @classmethod
    def from_records(cls, records: list[dict], **kwargs) -> "SpeciesPrior":
        """From dicts with ``species`` (or ``label``), ``lat``, ``lng`` and optional ISO ``date``.

        Records with missing or invalid coordinates are skipped.
        """
        labels, lats, lngs, days = [], [], [], []
        for r in records:
            label = r.get("species") or r.get("label")
            try:
                lat, lng = float(r["lat"]), float(r["lng"])
                _check_point(lat, lng)
            except (KeyError, TypeError, ValueError):
                continue
            try:
                day = date.fromisoformat(str(r.get("date") or "")[:10]).timetuple().tm_yday
            except ValueError:
                day = 0
            if label:
                labels.append(label)
                lats.append(lat)
                lngs.append(lng)
                days.append(day)
        return cls(np.array(labels, dtype=object), np.array(lats), np.array(lngs), np.array(days), **kwargs)

    def weights(self, lat: float, lng: float, when: date | None = None) -> dict[str, float]:
        """Prior weight in (0, 1] for every label seen in the observations."""
        _check_point(lat, lng)
        k = np.exp(-0.5 * (haversine_km(lat, lng, self.lat, self.lng) / self.radius_km) ** 2)
        if when is not None:
            doy = when.timetuple().tm_yday
            diff = np.abs(self.day_of_year - doy)
            diff = np.minimum(diff, 365 - diff)
            k = k * np.where(self.day_of_year > 0, np.exp(-0.5 * (diff / self.day_sigma) ** 2), 1.0)
        totals: dict[str, float] = {}
        for label, weight in zip(self.labels, k):
            totals[label] = totals.get(label, 0.0) + float(weight)
        top = max(totals.values(), default=0.0)
        return {label: (v + self.smoothing) / (top + self.smoothing) for label, v in totals.items()}

    def allowed(self, lat: float, lng: float, when: date | None = None, min_weight: float = 0.1) -> set[str]:
        """Labels whose prior weight reaches ``min_weight`` at this place and date."""
        return {label for label, w in self.weights(lat, lng, when).items() if w >= min_weight}


def apply_prior(probs: np.ndarray, labels: tuple[str, ...] | list[str], weights: dict[str, float],
                unseen_weight: float | None = None) -> np.ndarray:
    """Multiply file probabilities by prior weights and renormalise.

    Labels missing from ``weights`` get ``unseen_weight`` (default: the smallest weight given).
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.shape != (len(labels),):
        raise ValueError(f"expected {len(labels)} probabilities, got shape {p.shape}")
    floor = min(weights.values(), default=1.0) if unseen_weight is None else unseen_weight
    w = np.array([weights.get(label, floor) for label in labels])
    out = p * w
    total = out.sum()
    return out / total if total > 0 else p
