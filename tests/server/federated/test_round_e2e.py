"""A real round end to end: uvicorn on a free port, a real Celery worker, three simulated phones
that download the model over HTTP, embed their own real clips, train the head with the runtime
trainer and post clipped int8 updates; the quorum triggers aggregation and a new version is
promoted."""
from __future__ import annotations

import hashlib
import io
import sys

import numpy as np
import pytest
import requests

from ml.federated.embedding import embed_windows
from ml.runtime.audio import decode
from ml.runtime.classifier import load_classifier
from ml.runtime.federated import codec
from ml.runtime.federated.trainer import LocalHyper, train_head
from server.federated.models import Round, RoundStatus
from server.federated.services import open_round
from server.modelregistry.services import current_version

from ..conftest import api_token
from ..test_workers import free_port, proc_env, start, start_worker, wait_for, wait_for_web  # noqa: F401 (fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def phone_round(base: str, token: str, clips, tmp_path, seed: int) -> int:
    headers = {"Authorization": f"Token {token}"}
    task = requests.get(f"{base}/api/v1/fl/task", headers=headers, timeout=10).json()["task"]
    blob = requests.get(base + task["model"]["download_url"], headers=headers, timeout=30).content
    assert hashlib.sha256(blob).hexdigest() == task["model"]["sha256"]
    path = tmp_path / f"phone-{seed}.npz"
    path.write_bytes(blob)
    clf = load_classifier(path)
    index = {lab: i for i, lab in enumerate(clf.labels)}
    xs, ys = [], []
    for clip in clips:
        emb = embed_windows(clf, *decode(clip.data))
        xs.append(emb)
        ys.append(np.full(len(emb), index[clip.label]))
    hp = task["hyperparameters"]
    rng = np.random.default_rng(seed)
    result = train_head(clf.head(), np.concatenate(xs), np.concatenate(ys),
                        LocalHyper(hp["local_epochs"], hp["learning_rate"], hp["batch_size"], hp["proximal_mu"]), rng)
    clipped, _ = codec.clip_update(result.delta, task["clip_norm"])
    body = {"round": task["round"], "model_version": task["model"]["version"], "n_examples": result.n,
            "train_loss": result.loss, "val_error": result.val_error, "update": codec.encode(clipped, rng)}
    r = requests.post(f"{base}/api/v1/fl/updates", json=body, headers=headers, timeout=30)
    assert r.status_code == 201, r.text
    return r.status_code


def test_real_round_over_http_with_a_real_worker_promotes_a_new_version(proc_env, base_model, phones, clips, tmp_path):
    port = free_port()
    start(proc_env, "web", [sys.executable, "-m", "uvicorn", "server.asgi:application", "--host", "127.0.0.1",
                            "--port", str(port), "--lifespan", "off"])
    start_worker(proc_env, "fl-worker")
    base = f"http://127.0.0.1:{port}"

    wait_for_web(base, 60, proc_env)
    rnd = open_round(clients_per_round=3, quorum=3, clip_norm=5.0, seed=11, local_epochs=5,
                     learning_rate=0.05, promote_tolerance=0.0, strategy={"weighting": "count"})
    birds = [c for c in clips if c.kind == "bird" and c.path.suffix == ".ogg"]
    chosen = [a.user for a in rnd.assignments.select_related("user").order_by("user_id")]
    for i, user in enumerate(chosen):
        token = api_token(user)
        phone_round(base, token, birds[i::3], tmp_path, seed=i)

    def finished():
        rnd.refresh_from_db()
        return rnd.status in (RoundStatus.DONE, RoundStatus.FAILED)

    wait_for(finished, 120, "aggregation by the worker", proc_env)
    assert rnd.status == RoundStatus.DONE, rnd.error
    assert rnd.metrics["participants"] == 3 and rnd.metrics["dropouts"] == 0
    assert rnd.promoted and rnd.result_version.source == "federated"
    assert current_version().pk == rnd.result_version.pk != base_model.pk
    assert rnd.metrics["val_accuracy"] >= rnd.metrics["current_val_accuracy"]
    served = requests.get(f"{base}/api/v1/models/current/?set=field", timeout=10).json()
    assert served["version"] == rnd.result_version.version == f"{base_model.version}+fl{rnd.pk}"
