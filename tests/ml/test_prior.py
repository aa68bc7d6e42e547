"""Location/date prior built from the real Puerto Rico observations in fixtures/demo."""
from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from ml.runtime.prior import SpeciesPrior, apply_prior, haversine_km

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def prior() -> SpeciesPrior:
    with open(ROOT / "fixtures" / "demo" / "observations.csv", newline="", encoding="utf-8") as fh:
        return SpeciesPrior.from_records(list(csv.DictReader(fh)))


def test_haversine_known_distance():
    # San Juan to Ponce is about 75 km
    assert haversine_km(18.4655, -66.1057, np.array([18.0111]), np.array([-66.6141]))[0] == pytest.approx(74, abs=5)


def test_nearby_species_outweigh_absent_ones(prior):
    sites = {(float(lat), float(lng), sp) for sp, lat, lng in zip(prior.labels, prior.lat, prior.lng)}
    lat, lng, species = next(iter(sorted(s for s in sites if s[2] == "Elfin Woods Warbler")))
    weights = prior.weights(lat, lng)
    assert weights["Elfin Woods Warbler"] > 0.1
    far = prior.weights(lat, lng + 20.0)  # open Atlantic: nothing is near, all weights equal the smoothing share
    assert max(far.values()) == pytest.approx(1.0) and len(set(round(v, 6) for v in far.values())) == 1
    assert species in prior.allowed(lat, lng, min_weight=0.05)


def test_date_window_moves_the_prior():
    records = [{"species": "Winter visitor", "lat": 18.3, "lng": -65.8, "date": f"2020-01-{d:02d}"} for d in range(1, 8)]
    records += [{"species": "Summer visitor", "lat": 18.3, "lng": -65.8, "date": f"2020-07-{d:02d}"} for d in range(1, 8)]
    records += [{"species": "Resident", "lat": 18.3, "lng": -65.8, "date": ""}, {"species": "bad", "lat": "x", "lng": 0}]
    prior = SpeciesPrior.from_records(records)
    january, july = prior.weights(18.3, -65.8, date(2024, 1, 5)), prior.weights(18.3, -65.8, date(2024, 7, 3))
    assert january["Winter visitor"] == pytest.approx(1.0) and january["Summer visitor"] < 0.1
    assert july["Summer visitor"] == pytest.approx(1.0) and july["Winter visitor"] < 0.1
    assert january["Resident"] == pytest.approx(july["Resident"])  # undated: counts on every date
    assert "bad" not in january
    assert prior.allowed(18.3, -65.8, date(2024, 1, 5), min_weight=0.15) == {"Winter visitor", "Resident"}


def test_apply_prior_renormalises_and_rejects_bad_input(prior):
    labels = ("A", "B", "C")
    out = apply_prior(np.array([0.5, 0.3, 0.2]), labels, {"A": 0.1, "B": 1.0})
    assert out.sum() == pytest.approx(1.0) and out.argmax() == 1
    assert out[2] == pytest.approx(0.2 * 0.1 / (0.05 + 0.3 + 0.02))  # unseen label C gets the smallest weight
    with pytest.raises(ValueError):
        apply_prior(np.array([0.5, 0.5]), labels, {})
    with pytest.raises(ValueError):
        prior.weights(123.0, 0.0)


def test_classify_with_a_prior(tmp_path, capsys):
    import json

    from ml.cli import main

    clip = str(ROOT / "fixtures" / "audio" / "XC32051_bananaquit.ogg")
    obs = tmp_path / "obs.csv"
    obs.write_text("species,lat,lng,date\n" + "".join(f"Bananaquit,18.3,-65.8,2020-03-0{d}\n" for d in range(1, 8)))
    model = str(ROOT / "fixtures" / "models" / "baseline.npz")
    assert main(["classify", "--model", model, "--prior-observations", str(obs), "--lat", "18.3", "--lng", "-65.8",
                 "--date", "2024-03-03", clip]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["ranked"][0]["label"] == "Bananaquit"
    assert main(["classify", "--model", model, "--prior-observations", str(obs), clip]) == 2
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "prior_invalid"
