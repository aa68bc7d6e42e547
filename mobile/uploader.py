"""Drains the offline queue: uploads due items, retries with backoff, follows server outcomes.

A record withdrawn by its owner (on the phone before upload: :meth:`OfflineQueue.withdraw`; elsewhere:
the server answers ``recording_withdrawn`` or reports the status ``withdrawn``) leaves the queue
alone, never as a rejection, and the other items go on.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from .api import ApiClient, ApiError
from .backoff import retry_delay
from .offline_queue import SENT, OfflineQueue


@dataclass
class DrainResult:
    sent: list[str] = field(default_factory=list)
    retry: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)   # dropped: the record was withdrawn
    auth_required: bool = False
    offline: bool = False
    message: str = ""


WITHDRAWN = "withdrawn"
WITHDRAWN_CODES = frozenset({"recording_withdrawn"})   # the server's answer for a record its owner withdrew


class Uploader:
    def __init__(self, queue: OfflineQueue, api: ApiClient, rng: random.Random | None = None):
        self.queue, self.api, self.rng = queue, api, rng or random.Random()

    def drain(self, limit: int = 20) -> DrainResult:
        """Upload every due item (at most ``limit``); stops early when offline or signed out."""
        result = DrainResult()
        for item in self.queue.due()[:limit]:
            if not self.queue.claim(item.key):
                continue
            try:
                ext = item.audio_file.rsplit(".", 1)[-1]
                meta = item.metadata
                if not meta.get("session_token"):  # recorded without one (offline, no stock left)
                    fresh = self.api.session_token()
                    if fresh and fresh.get("token"):
                        meta = {**meta, "session_token": fresh["token"]}
                body = self.api.upload_recording(self.queue.audio(item), f"take.{ext}", meta)
            except ApiError as exc:
                if exc.auth_problem:
                    self.queue.release(item.key, exc.code, "waiting for you to sign in again")
                    result.auth_required, result.message = True, exc.message
                    break
                if exc.code in WITHDRAWN_CODES:   # withdrawn elsewhere (the web map) before this upload
                    self.queue.release(item.key, exc.code, exc.message)
                    self.queue.withdraw(item.key)
                    result.withdrawn.append(item.key)
                    continue
                if exc.retryable:
                    delay = retry_delay(item.attempts + 1, self.rng)
                    self.queue.mark_retry(item.key, exc.code, exc.message, delay)
                    result.retry.append(item.key)
                    if exc.code == "offline":
                        result.offline, result.message = True, exc.message
                        break
                    continue
                self.queue.mark_rejected(item.key, exc.code, exc.message)
                result.rejected.append(item.key)
                continue
            except OSError as exc:  # the audio file vanished: keep the row, explain
                self.queue.mark_rejected(item.key, "audio_lost", f"The saved audio cannot be read ({exc}).")
                result.rejected.append(item.key)
                continue
            self.queue.mark_sent(item.key, str(body.get("id", "")), str(body.get("status", "received")))
            result.sent.append(item.key)
        return result

    def refresh(self) -> int:
        """Poll the outcome of uploaded items still being checked; returns how many changed."""
        changed = 0
        for item in self.queue.in_state(SENT):
            try:
                rec = self.api.recording(item.recording_id)
            except ApiError as exc:
                if exc.retryable or exc.auth_problem:
                    break
                if exc.code in WITHDRAWN_CODES or exc.status == 410:
                    changed += int(self.queue.withdraw(item.key))
                continue
            if rec.get("status") == WITHDRAWN:
                changed += int(self.queue.withdraw(item.key))
                continue
            changed += self.queue.apply_server_status(item.recording_id, str(rec.get("status", "")),
                                                      rec.get("reject_code") or "", rec.get("reject_reason") or "",
                                                      observation_id=rec.get("observation"))
        return changed

    def on_event(self, message: dict) -> bool:
        """Apply a websocket ``recording.update`` message; True when the queue changed."""
        if not isinstance(message, dict) or message.get("type") != "recording.update":
            return False
        rec = message.get("recording") or {}
        if rec.get("status") == WITHDRAWN:
            item = next((i for i in self.queue.in_state(SENT) if i.recording_id == str(rec.get("id", ""))), None)
            return item is not None and self.queue.withdraw(item.key)
        return self.queue.apply_server_status(str(rec.get("id", "")), str(rec.get("status", "")),
                                              rec.get("reject_code") or "", rec.get("reject_reason") or "",
                                              observation_id=rec.get("observation"))
