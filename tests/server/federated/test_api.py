"""Rounds over the API (in-process): opening and sampling, tasks, and every bad-update rejection.
Nothing a rejected update carries is stored."""
from __future__ import annotations

import base64
import json
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from server.federated.aggregation import aggregate_round
from server.federated.models import ClientUpdate, Enrollment, Round, RoundSchedule, RoundStatus, ServerState
from server.federated.services import open_round
from server.federated.tasks import open_scheduled_rounds

from ..conftest import client_for, make_user
from .conftest import random_update, submission

pytestmark = pytest.mark.django_db


@pytest.fixture
def rnd(base_model, phones):
    return open_round(clients_per_round=3, quorum=3, clip_norm=1.0, seed=7)


def task_of(user) -> dict:
    body = client_for(user).get("/api/v1/fl/task").json()
    assert body["task"] is not None, body
    return body["task"]


def sampled(rnd) -> list:
    return [a.user for a in rnd.assignments.select_related("user").order_by("user_id")]


def test_open_round_samples_k_of_the_m_eligible(rnd, phones):
    assert rnd.eligible_count == 4  # the lurker has no validated recordings
    assert rnd.assignments.count() == 3
    # the shipped field model's head: 96-d embedding, 33 labels (32 + no_target)
    assert rnd.trainable == {"part": "head", "tensors": {"bias": [33], "weight": [96, 33]}, "parameters": 3201}


def test_task_carries_model_hash_hyperparameters_and_only_goes_to_sampled_phones(rnd, phones, base_model):
    chosen = sampled(rnd)
    task = task_of(chosen[0])
    assert task["round"] == rnd.pk and task["model"]["sha256"] == base_model.sha256
    assert task["model"]["download_url"] == f"/api/v1/models/{base_model.version}/download/"
    assert task["hyperparameters"] == {"local_epochs": 5, "learning_rate": 0.05, "batch_size": 32, "proximal_mu": 0.0}
    left_out = next(u for u in phones if u not in chosen)
    assert client_for(left_out).get("/api/v1/fl/task").json() == {"task": None, "reason": "no_round"}
    Enrollment.objects.filter(user=chosen[1]).update(opted_in=False)
    assert client_for(chosen[1]).get("/api/v1/fl/task").json()["reason"] == "not_enrolled"
    assert client_for(None).get("/api/v1/fl/task").status_code == 401


def test_enrollment_round_trip(db):
    user = make_user("newbie", "player")
    api = client_for(user)
    assert api.get("/api/v1/fl/enrollment").json() == {"opted_in": False}
    assert api.post("/api/v1/fl/enrollment", {"opted_in": True}, format="json").json() == {"opted_in": True}
    assert api.post("/api/v1/fl/enrollment", {"opted_in": "maybe"}, format="json").status_code == 400


def test_a_good_update_is_stored_then_duplicates_are_refused(rnd):
    user = sampled(rnd)[0]
    task = task_of(user)
    body = submission(task, random_update(task, np.random.default_rng(0)))
    r = client_for(user).post("/api/v1/fl/updates", body, format="json")
    assert r.status_code == 201, r.json()
    assert r.json()["payload_bytes"] == 96 * 33 + 33 + 8  # int8 values + two float32 scales
    again = client_for(user).post("/api/v1/fl/updates", body, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "update_duplicate"
    assert ClientUpdate.objects.count() == 1
    assert client_for(user).get("/api/v1/fl/task").json()["task"] is None  # answered already


def bad(task, rng, kind):
    up = random_update(task, rng)
    if kind == "shape":
        up["weight"]["shape"] = [33, 96]
    elif kind == "missing":
        del up["bias"]
    elif kind == "nan":
        up["weight"]["scale"] = float("nan")  # not even valid JSON
    elif kind == "huge_scale":
        up["weight"]["scale"] = 1e300  # dequantises to infinity in float32
    elif kind == "inf_loss":
        return json.dumps(submission(task, up, train_loss=1.0)).replace('"train_loss": 1.0', '"train_loss": 1e999')
    elif kind == "norm":
        return submission(task, random_update(task, rng, norm=3.0))
    elif kind == "version":
        return submission(task, up, model_version="someone-elses-model")
    elif kind == "unknown_round":
        return submission(task, up, round=999999)
    elif kind == "garbage":
        up["bias"]["q"] = base64.b64encode(b"\x00" * 3).decode()
    elif kind == "n":
        return submission(task, up, n_examples=0)
    elif kind == "not_object":
        return [1, 2, 3]
    return submission(task, up)


@pytest.mark.parametrize("kind,status,code", [
    ("shape", 400, "update_shape_mismatch"),
    ("missing", 400, "update_shape_mismatch"),
    ("nan", 400, "malformed_request"),
    ("huge_scale", 400, "update_not_finite"),
    ("inf_loss", 400, "update_not_finite"),
    ("norm", 400, "update_norm_exceeds_clip"),
    ("version", 409, "update_wrong_model_version"),
    ("unknown_round", 404, "round_unknown"),
    ("garbage", 400, "update_shape_mismatch"),
    ("n", 400, "invalid"),
    ("not_object", 400, "malformed_request"),
])
def test_bad_updates_are_rejected_with_clear_codes_and_never_stored(rnd, kind, status, code):
    user = sampled(rnd)[0]
    task = task_of(user)
    body = bad(task, np.random.default_rng(1), kind)
    r = client_for(user).post("/api/v1/fl/updates", body if isinstance(body, str) else json.dumps(body),
                              content_type="application/json")
    assert r.status_code == status, r.json()
    assert r.json()["error"]["code"] == code and r.json()["error"]["message"]
    assert ClientUpdate.objects.count() == 0


def test_late_and_unsampled_updates_are_refused(rnd, phones):
    chosen = sampled(rnd)
    task = task_of(chosen[0])
    outsider = next(u for u in phones if u not in chosen)
    r = client_for(outsider).post("/api/v1/fl/updates", submission(task, random_update(task, np.random.default_rng(2))),
                                  format="json")
    assert r.status_code == 403 and r.json()["error"]["code"] == "round_not_assigned"
    Round.objects.filter(pk=rnd.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    r = client_for(chosen[0]).post("/api/v1/fl/updates", submission(task, random_update(task, np.random.default_rng(2))),
                                   format="json")
    assert r.status_code == 409 and r.json()["error"]["code"] == "update_late"
    assert ClientUpdate.objects.count() == 0


def test_deadline_aggregation_records_dropouts_bytes_and_epsilon(base_model, phones):
    rnd = open_round(clients_per_round=3, quorum=3, clip_norm=1.0, seed=3, promote_tolerance=1.0,
                     strategy={"noise_multiplier": 1.0, "weighting": "uniform"})
    chosen = sampled(rnd)
    for user in chosen[:2]:  # the third phone drops out
        task = task_of(user)
        assert client_for(user).post("/api/v1/fl/updates", submission(task, random_update(
            task, np.random.default_rng(user.pk), norm=0.01)), format="json").status_code == 201
    Round.objects.filter(pk=rnd.pk).update(deadline=timezone.now())
    assert aggregate_round(rnd.pk) == "promoted"
    rnd.refresh_from_db()
    assert rnd.status == RoundStatus.DONE and rnd.result_version.parent_id == base_model.pk
    assert rnd.result_version.model_set == "field" and rnd.result_version.is_current
    assert list(ServerState.objects.values_list("model_set", flat=True)) == ["field"]  # its privacy ledger
    m = rnd.metrics
    assert (m["assigned"], m["participants"], m["dropouts"]) == (3, 2, 1)
    assert m["payload_bytes_per_client"] <= m["float32_bytes_per_client"] / 4 + 8
    assert rnd.epsilon is not None and 0 < rnd.epsilon < 1e6 and m["dp"]["rounds"] == 1
    assert aggregate_round(rnd.pk) == "skipped"  # idempotent
    researcher = make_user("dr_fl", "researcher")
    listed = client_for(researcher).get(f"/api/v1/fl/rounds/{rnd.pk}/").json()
    assert listed["epsilon"] == pytest.approx(rnd.epsilon) and listed["participants"] == 2
    assert client_for(chosen[0]).get("/api/v1/fl/rounds/").status_code == 403


def test_round_with_no_updates_fails_cleanly(rnd):
    Round.objects.filter(pk=rnd.pk).update(deadline=timezone.now())
    assert aggregate_round(rnd.pk) == "failed"
    rnd.refresh_from_db()
    assert rnd.status == RoundStatus.FAILED and rnd.result_version is None and "No client" in rnd.error


def test_invalid_round_settings_are_refused(base_model):
    with pytest.raises(ValueError, match="aggregator"):
        open_round(strategy={"aggregator": "vote"})
    with pytest.raises(ValueError, match="quorum"):
        open_round(clients_per_round=2, quorum=5)


def test_a_schedule_opens_rounds_on_the_current_field_model(base_model, phones):
    sched = RoundSchedule.objects.create(name="nightly", settings={"clients_per_round": 3, "quorum": 2})
    assert open_scheduled_rounds() == 1
    rnd = Round.objects.get(schedule=sched)
    assert rnd.model_version == base_model and rnd.clients_per_round == 3
    assert open_scheduled_rounds() == 0  # its round is still open


def test_no_round_opens_without_a_current_model(db):
    with pytest.raises(ValueError, match="No current model"):
        open_round(clients_per_round=3)
