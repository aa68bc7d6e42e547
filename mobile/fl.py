"""Federated learning on the phone: opt-in (server enrolment), task, local head training, upload.

Speaks ``server/federated`` exactly (``ml/federated/README.md``):

* ``POST /api/v1/fl/enrollment {"opted_in": bool}`` - consent, mirrored in local prefs;
* ``GET /api/v1/fl/task`` → ``{"task": {round, model:{version, sha256, download_url, ...},
  trainable:{tensors}, hyperparameters:{local_epochs, learning_rate, batch_size, proximal_mu},
  clip_norm, secure_aggregation, deadline}}`` or ``{"task": null, "reason": ...}``;
* ``POST /api/v1/fl/updates {round, model_version, n_examples, train_loss, val_error, update}``
  (plain rounds) or ``{..., masked}`` (secure rounds, after the ``fl/secagg/keys`` and
  ``fl/secagg/shares`` phases; ``fl/secagg/reveal`` afterwards).

Raw audio never leaves the phone: the update is the clipped change of the classifier head,
trained with :mod:`ml.runtime.federated` on the player's own accepted takes, int8-quantised
(plain) or quantised to the round's ring and masked (secure aggregation).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ml.runtime.federated.codec import clip_update, encode
from ml.runtime.federated.trainer import LocalHyper, train_head

from .api import ApiClient, ApiError
from .offline_queue import ACCEPTED, OfflineQueue

MIN_WINDOWS = 4


class FLUnavailable(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class FLPrefs:
    opted_in: bool = False
    enrolled_on_server: bool = False
    last_contributed: float | None = None  # POSIX seconds
    last_round: str = ""


@dataclass
class FLOutcome:
    """What one press of "contribute" (or one background wake-up) did."""

    status: str  # "sent" | "waiting" | "step" (a secure-aggregation message was sent) | "revealed"
    message: str
    round: int | None = None
    answer: dict = field(default_factory=dict)


def eligible(opted_in: bool, on_android: bool, charging: bool, idle: bool, on_demand: bool) -> bool:
    """Android trains only while charging and idle; a desktop only on demand; never without opt-in."""
    if not opted_in:
        return False
    return (charging and idle) if on_android and not on_demand else on_demand or (charging and idle)


def training_set(classifier, queue: OfflineQueue) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of the marked segments of the player's accepted takes with their labels."""
    from .pcm import PcmError, decode_audio

    index = {lab: i for i, lab in enumerate(classifier.labels)}
    xs, ys = [], []
    for item in queue.in_state(ACCEPTED):
        label = item.label
        if label not in index:
            continue
        try:
            samples, sr = decode_audio(queue.audio(item))  # the app queues WAV; other formats on desktops only
        except (OSError, RuntimeError, ValueError, PcmError):
            continue  # a damaged file is skipped, never fatal
        seg = item.metadata.get("segment", {})
        a, b = int(float(seg.get("start_s", 0)) * sr), int(float(seg.get("end_s", 0)) * sr) or None
        emb = classifier.embed_windows(samples[a:b], sr)
        if len(emb):
            xs.append(emb)
            ys.extend([index[label]] * len(emb))
    if not xs:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    return np.concatenate(xs).astype(np.float32), np.asarray(ys, np.int64)


def hyper_of(task: dict) -> LocalHyper:
    """The round's local hyperparameters (server names) as a validated :class:`LocalHyper`."""
    h = task.get("hyperparameters") or {}
    try:
        return LocalHyper(epochs=int(h.get("local_epochs", 5)), lr=float(h.get("learning_rate", 0.05)),
                          batch_size=int(h.get("batch_size", 32)), mu=float(h.get("proximal_mu", 0.0))).validate()
    except (TypeError, ValueError) as exc:
        raise FLUnavailable("bad_task", f"The training task cannot be used ({exc}).") from None


class FLClient:
    """Opt-in state, the task loop and the upload. ``model_for(model_info)`` returns the classifier of
    the round's model version (downloaded and hash-checked when it is not the installed one)."""

    def __init__(self, api: ApiClient, queue: OfflineQueue, classifier_getter: Callable[[], Any],
                 prefs_path: str | Path, model_for: Callable[[dict], Any] | None = None):
        self.api, self.queue, self.classifier_getter = api, queue, classifier_getter
        self.model_for = model_for
        self.prefs_path = Path(prefs_path)
        self.prefs = self._load()
        self._secagg: dict[int, Any] = {}  # round -> PhoneSecAgg (keys live in memory only)

    def _load(self) -> FLPrefs:
        try:
            raw = json.loads(self.prefs_path.read_text())
            return FLPrefs(**{k: v for k, v in raw.items() if k in FLPrefs.__dataclass_fields__})
        except (OSError, ValueError, TypeError):
            return FLPrefs()

    def _save(self) -> None:
        from ml.runtime.files import atomic_write

        atomic_write(self.prefs_path, json.dumps(self.prefs.__dict__).encode())

    # --- consent -------------------------------------------------------------------------
    def set_opt_in(self, value: bool) -> str:
        """Save the choice and tell the server; offline, it is sent with the next contribution."""
        self.prefs.opted_in, self.prefs.enrolled_on_server = bool(value), False
        self._save()
        try:
            self._sync_enrollment()
        except ApiError as exc:
            return f"Saved on this phone; the server will be told later ({exc.message})"
        return "Thank you for helping!" if value else "You will no longer take part in training."

    def _sync_enrollment(self) -> None:
        if self.prefs.enrolled_on_server:
            return
        data = self.api.post_json("/api/v1/fl/enrollment", {"opted_in": self.prefs.opted_in})
        self.prefs.enrolled_on_server = bool(data.get("opted_in")) == self.prefs.opted_in
        self._save()

    def last_contributed_text(self) -> str:
        if not self.prefs.last_contributed:
            return "You have not contributed yet."
        return "Last contributed " + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.prefs.last_contributed))

    # --- the task loop ------------------------------------------------------------------
    def fetch_task(self) -> dict:
        if not self.prefs.opted_in:
            raise FLUnavailable("not_opted_in", "Turn on “help improve identification” first.")
        try:
            self._sync_enrollment()
            data = self.api.get_json("/api/v1/fl/task")
        except ApiError as exc:
            raise FLUnavailable(exc.code, exc.message) from None
        task = data.get("task") if isinstance(data, dict) else None
        if not isinstance(task, dict):
            reason = data.get("reason") if isinstance(data, dict) else ""
            text = {"not_enrolled": "The server has not registered your opt-in yet; try again.",
                    "no_round": "No training round needs your phone right now."}.get(reason, "No training round "
                                                                                         "needs your phone right now.")
            raise FLUnavailable("no_task", text)
        if not isinstance(task.get("round"), int) or not isinstance(task.get("model"), dict):
            raise FLUnavailable("bad_task", "The training task from the server is incomplete.")
        return task

    def contribute(self, rng: np.random.Generator | None = None) -> FLOutcome:
        """Do what the round needs from this phone now; raises :class:`FLUnavailable` with a human message."""
        task = self.fetch_task()
        rng = rng or np.random.default_rng()
        sa = task.get("secure_aggregation")
        if not sa:
            return self._plain(task, rng)
        return self._secure(task, sa, rng)

    def _train(self, task: dict, rng: np.random.Generator) -> tuple[dict, Any, Any]:
        model_info = task["model"]
        clf = self.classifier_getter()
        if getattr(clf, "version", None) != model_info.get("version"):
            if self.model_for is None:
                raise FLUnavailable("model_mismatch", "This round trains another model version; update the model first.")
            try:
                clf = self.model_for(model_info)
            except ApiError as exc:
                raise FLUnavailable(exc.code, exc.message) from None
            except Exception as exc:  # noqa: BLE001 - ModelDownloadError and friends carry .message
                raise FLUnavailable(getattr(exc, "code", "model_unavailable"),
                                    getattr(exc, "message", "The round's model could not be loaded.")) from None
        head = clf.head()
        expected = (task.get("trainable") or {}).get("tensors") or {}
        if expected and {k: list(v.shape) for k, v in head.items()} != {k: list(v) for k, v in expected.items()}:
            raise FLUnavailable("bad_task", "The round's trainable tensors do not match the model on this phone.")
        x, y = training_set(clf, self.queue)
        if len(y) < MIN_WINDOWS:
            raise FLUnavailable("too_few", "Not enough of your accepted recordings yet to help; record a few more.")
        result = train_head(head, x, y, hyper_of(task), rng)
        clipped, _norm = clip_update(result.delta, float(task.get("clip_norm", 1.0)))
        body = {"round": task["round"], "model_version": model_info["version"], "n_examples": int(result.n),
                "train_loss": float(result.loss), "val_error": float(min(1.0, max(0.0, result.val_error)))}
        return body, clipped, result

    def _post(self, path: str, body: dict) -> dict:
        try:
            answer = self.api.post_json(path, body)
        except ApiError as exc:
            raise FLUnavailable(exc.code, exc.message) from None
        return answer if isinstance(answer, dict) else {}

    def _done(self, round_id: int) -> None:
        self.prefs.last_contributed, self.prefs.last_round = time.time(), str(round_id)
        self._save()

    def _plain(self, task: dict, rng: np.random.Generator) -> FLOutcome:
        body, clipped, _ = self._train(task, rng)
        body["update"] = encode(clipped, rng)
        answer = self._post("/api/v1/fl/updates", body)
        self._done(task["round"])
        return FLOutcome("sent", f"Thank you! Your update for round {task['round']} was accepted.", task["round"], answer)

    def _secure(self, task: dict, sa: dict, rng: np.random.Generator) -> FLOutcome:
        from ml.runtime.federated.secagg_wire import PhoneSecAgg, SecAggError

        rid, step = task["round"], sa.get("next")
        session = self._secagg.get(rid)
        if step == "advertise_keys":
            session = self._secagg[rid] = PhoneSecAgg.from_task(sa)
            answer = self._post("/api/v1/fl/secagg/keys", session.keys_body(rid))
            return FLOutcome("step", "Secure round: keys sent; waiting for the other phones.", rid, answer)
        if step == "wait":
            return FLOutcome("waiting", "Secure round: waiting for the other phones.", rid)
        if session is None:
            raise FLUnavailable("secagg_lost", "This phone lost its keys for the secure round (the app restarted); "
                                "it sits this round out.")
        try:
            if step == "share_keys":
                answer = self._post("/api/v1/fl/secagg/shares", session.shares_body(rid, sa))
                return FLOutcome("step", "Secure round: key shares sent.", rid, answer)
            if step == "submit_masked":
                body, clipped, _ = self._train(task, rng)
                body["masked"], _q = session.masked(sa, clipped, rng)
                answer = self._post("/api/v1/fl/updates", body)
                self._done(rid)
                return FLOutcome("sent", "Thank you! Your masked update was accepted.", rid, answer)
            if step == "reveal":
                answer = self._post("/api/v1/fl/secagg/reveal", session.reveal_body(rid, sa))
                self._secagg.pop(rid, None)
                return FLOutcome("revealed", "Secure round: your part of the unmasking was sent.", rid, answer)
        except (SecAggError, KeyError, TypeError, ValueError) as exc:
            self._secagg.pop(rid, None)
            raise FLUnavailable("secagg_failed", f"The secure round could not go on ({exc}).") from None
        raise FLUnavailable("bad_task", f"Unknown secure-aggregation step {step!r}.")
