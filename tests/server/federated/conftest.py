"""Fixtures for federated rounds: a registered current model, enrolled players with validated
observations, and a phone that trains a real update."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import numpy as np
import pytest
from django.contrib.gis.geos import Point

from ml.runtime.classifier import DEFAULT_MODEL_PATH
from ml.runtime.federated import codec
from server.accounts.models import Role
from server.federated.services import set_enrollment
from server.observations.models import Observation
from server.species.models import Species

from ..conftest import make_user


@pytest.fixture
def base_model(db, media_root):
    from server.modelregistry.services import forget_cached_current, register_model_file

    forget_cached_current()
    mv = register_model_file(DEFAULT_MODEL_PATH, "field", source="shipped", make_current=True)
    yield mv
    forget_cached_current()


def give_observations(user, n: int) -> None:
    species = Species.objects.order_by("pk").first()
    for i in range(n):
        Observation.objects.create(species=species, observer=user, location=Point(-65.78, 18.29),
                                   public_location=Point(-65.78, 18.29),
                                   observed_at=datetime(2026, 5, 1, 6, i, tzinfo=timezone.utc))


@pytest.fixture
def phones(catalogue):
    """Four enrolled players with 3 validated observations each (eligible) and one without."""
    users = [make_user(f"phone{i}", Role.PLAYER) for i in range(4)]
    for u in users:
        set_enrollment(u, True)
        give_observations(u, 3)
    lurker = make_user("lurker", Role.PLAYER)
    set_enrollment(lurker, True)
    return users


def random_update(task: dict, rng: np.random.Generator, norm: float | None = None) -> dict:
    """A shape-correct encoded delta with norm below the round's clip norm (no training)."""
    tensors = {k: rng.normal(size=tuple(shape)) for k, shape in task["trainable"]["tensors"].items()}
    clipped, _ = codec.clip_update(tensors, (norm or 0.5) * task["clip_norm"])
    return codec.encode(clipped, rng)


def submission(task: dict, update: dict, **overrides) -> dict:
    body = {"round": task["round"], "model_version": task["model"]["version"], "n_examples": 12,
            "train_loss": 0.8, "val_error": 0.25, "update": update}
    body.update(overrides)
    return body


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
