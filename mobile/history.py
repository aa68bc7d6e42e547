"""The player's history and life list: the phone's queue merged with the server's list of their
recordings (``GET /api/v1/recordings/``, own only), and the edits a record allows (no Kivy).

A take still on the phone (waiting, or rejected) is edited or withdrawn in the queue; an uploaded one
through the server (``PATCH /api/v1/recordings/<id>/``, ``POST …/withdraw/``). A withdrawn record
leaves the history, the queue and (server side) the map. The licence (a code of
:data:`mobile.controller.LICENCE_CHOICES`) changes in the queue before upload and through the
observation's terms (``PATCH /api/v1/observations/<id>/terms/``) once the server has made one.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from mobile.api import ApiClient
from mobile.controller import LICENCE_CHOICES
from mobile.offline_queue import ACCEPTED, REJECTED, SENT, STATE_TEXT, WAITING, OfflineQueue, QueueItem

DEFAULT_LICENCE = LICENCE_CHOICES[0][0]
SERVER_STATE = {"received": SENT, "analysing": SENT, "accepted": ACCEPTED, "rejected": REJECTED}


@dataclass(frozen=True)
class Entry:
    """One record in the history; ``key`` is the queue key when the take is on this phone."""

    key: str
    label: str
    created_at: float
    state: str
    state_text: str
    lat: float | None = None
    lng: float | None = None
    recording_id: str = ""
    observation_id: str = ""
    notes: str = ""
    on_phone: bool = True
    grade: str = ""
    licence: str = DEFAULT_LICENCE
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def editable_here(self) -> bool:
        """Not uploaded yet: the label and notes change in the queue."""
        return self.on_phone and self.state in (WAITING, REJECTED) and not self.recording_id

    @property
    def uploaded(self) -> bool:
        return bool(self.recording_id)

    @property
    def licence_editable(self) -> bool:
        """The licence changes in the queue before upload, and on the server once there is an observation."""
        return self.editable_here or bool(self.uploaded and self.observation_id)

    @property
    def label_editable(self) -> bool:
        """The species can change until the server has analysed the take."""
        return self.editable_here or (self.uploaded and self.state == SENT)


def _iso_ts(value) -> float:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def from_queue(item: QueueItem) -> Entry:
    loc = item.metadata.get("location") or {}
    return Entry(key=item.key, label=item.label, created_at=item.created_at, state=item.state,
                 state_text=item.status_text, lat=loc.get("lat"), lng=loc.get("lng"),
                 recording_id=item.recording_id or "", observation_id=item.observation_id or "",
                 notes=str(item.metadata.get("notes") or ""),
                 licence=str(item.metadata.get("license") or DEFAULT_LICENCE))


def from_server(rec: dict) -> Entry:
    obs = rec.get("observation") or {}
    state = SERVER_STATE.get(str(rec.get("status")), SENT)
    text = STATE_TEXT.get(state, state)
    if state == REJECTED and rec.get("reject_reason"):
        text = f"{text}: {rec['reject_reason']}"
    loc = rec.get("location") or {}
    return Entry(key=f"rec:{rec.get('id')}", label=str(obs.get("species") or rec.get("claimed_species") or "unknown"),
                 created_at=_iso_ts(rec.get("recorded_at") or rec.get("created_at")), state=state, state_text=text,
                 lat=loc.get("lat"), lng=loc.get("lng"), recording_id=str(rec.get("id") or ""),
                 observation_id=str(obs.get("id") or ""), notes=str(rec.get("notes") or ""), on_phone=False,
                 grade=str(obs.get("status") or ""), licence=str(rec.get("license") or DEFAULT_LICENCE))


def merge(items: list[QueueItem], server: list[dict] | None) -> list[Entry]:
    """Newest first; a recording known to both appears once (the phone's entry, with the server's news)."""
    by_rec = {str(r.get("id")): r for r in (server or []) if r.get("id")}
    out = []
    for item in items:
        entry = from_queue(item)
        rec = by_rec.pop(entry.recording_id, None) if entry.recording_id else None
        if rec is not None:
            news = from_server(rec)
            entry = Entry(**{**entry.__dict__, "state": news.state, "state_text": news.state_text,
                             "observation_id": news.observation_id or entry.observation_id,
                             "notes": news.notes or entry.notes, "grade": news.grade, "licence": news.licence,
                             "label": news.label if news.observation_id else entry.label})
        out.append(entry)
    out += [from_server(r) for r in by_rec.values()]
    return sorted(out, key=lambda e: -e.created_at)


def life_list(entries: list[Entry]) -> list[tuple[str, int]]:
    """(label, accepted records) of every species with at least one accepted record, most first."""
    counts: dict[str, int] = {}
    for e in entries:
        if e.state == ACCEPTED and e.label != "unknown":
            counts[e.label] = counts.get(e.label, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def when_text(ts: float) -> str:
    return time.strftime("%d %b %Y %H:%M", time.localtime(ts)) if ts else ""


class History:
    """Reads and edits the player's records (queue + server)."""

    def __init__(self, api: ApiClient, queue: OfflineQueue):
        self.api, self.queue = api, queue

    def server_recordings(self, pages: int = 5) -> list[dict]:
        out: list[dict] = []
        path: str | None = "/api/v1/recordings/"
        for _ in range(pages):
            if not path:
                break
            data = self.api.get_json(path)
            if isinstance(data, list):
                return out + data
            out += data.get("results") or []
            path = data.get("next")
        return out

    def entries(self, online: bool) -> tuple[list[Entry], str]:
        """(entries, note): the server's part is left out with a note when offline or failing."""
        server, note = None, ""
        if online:
            try:
                server = self.server_recordings()
            except Exception as exc:  # noqa: BLE001 - ApiError/offline: the phone's part still shows
                note = getattr(exc, "message", None) or str(exc)
        return merge(self.queue.items(), server), note

    def edit(self, entry: Entry, label: str, notes: str, licence: str | None = None) -> None:
        """Change the label, notes and licence: in the queue before upload, on the server after (the
        licence through the observation's terms; refused before the server has made the observation)."""
        if licence is not None and licence not in {code for code, _ in LICENCE_CHOICES}:
            raise ValueError("Choose one of the offered licences.")
        if entry.editable_here:
            if not self.queue.edit(entry.key, label=label, notes=notes, license=licence):
                raise ValueError("This record is being uploaded; try again in a moment.")
        elif entry.uploaded:
            new_licence = licence is not None and licence != entry.licence
            if new_licence and not entry.observation_id:
                raise ValueError("The licence can change once the server has checked this record.")
            body = {**({"label": label} if label != entry.label else {}),
                    **({"notes": notes} if notes != entry.notes else {})}
            if body:  # the server takes a label only before analysis (409 already_analysed after)
                self.api.request("PATCH", f"/api/v1/recordings/{entry.recording_id}/", json=body)
            if new_licence:
                self.api.request("PATCH", f"/api/v1/observations/{entry.observation_id}/terms/",
                                 json={"license": licence})
        else:
            raise ValueError("This record is being uploaded; try again in a moment.")

    def withdraw(self, entry: Entry) -> None:
        """Withdraw the record: off the server (when uploaded), then out of the queue with its audio."""
        if entry.uploaded:
            self.api.post_json(f"/api/v1/recordings/{entry.recording_id}/withdraw/")
        if entry.on_phone:
            if not self.queue.withdraw(entry.key):
                raise ValueError("This record is being uploaded; try again in a moment.")
