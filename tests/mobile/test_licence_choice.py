"""The player's licence per record on the phone (mobile/history.py): chosen at save, changed in the queue
before upload, and through the observation's terms (PATCH /api/v1/observations/<id>/terms/) after; the
server's recordings list tells the phone the current licence. Bad choices change nothing."""
from __future__ import annotations

import json

import pytest

from mobile.api import ApiClient
from mobile.history import History, merge

from .test_finds_and_community import meta, queue  # noqa: F401 - the queue fixture


def test_a_queued_take_changes_its_licence_in_the_queue(queue):  # noqa: F811
    queue.add("k-wait-0001", b"RIFF", {**meta("Bananaquit", "k-wait-0001"), "license": "cc-by-nc-4.0"})
    h = History(ApiClient("http://127.0.0.1:9"), queue)
    entry = merge(queue.items(), None)[0]
    assert entry.licence == "cc-by-nc-4.0" and entry.licence_editable
    h.edit(entry, entry.label, "", "cc0-1.0")
    assert queue.items()[0].metadata["license"] == "cc0-1.0"
    with pytest.raises(ValueError):
        h.edit(merge(queue.items(), None)[0], entry.label, "", "cc-by-sa-4.0")   # not offered: nothing changes
    assert queue.items()[0].metadata["license"] == "cc0-1.0"


def test_after_upload_the_licence_changes_through_the_observations_terms(queue, fake_server):  # noqa: F811
    queue.add("k-sent-0002", b"RIFF", meta("Bananaquit", "k-sent-0002"))
    queue.mark_sent("k-sent-0002", "rec-2")
    server_rec = {"id": "rec-2", "status": "received", "license": "cc-by-nc-4.0", "observation": None}
    fake_server.routes[("GET", "/api/v1/recordings/")] = lambda h: (200, {"results": [server_rec], "next": None})
    fake_server.routes[("PATCH", "/api/v1/observations/55/terms/")] = lambda h: (200, {"id": 55})
    api = ApiClient(fake_server.url, token="t")
    h = History(api, queue)
    entry = h.entries(True)[0][0]
    assert not entry.licence_editable          # not analysed yet: no observation to carry the terms
    sent_before = len(fake_server.requests)
    with pytest.raises(ValueError, match="once the server has checked"):
        h.edit(entry, entry.label, entry.notes, "cc-by-4.0")
    assert len(fake_server.requests) == sent_before

    server_rec.update(status="accepted", observation={"id": 55, "species": "Bananaquit", "status": "research"})
    entry = h.entries(True)[0][0]
    assert entry.licence_editable and entry.licence == "cc-by-nc-4.0"
    h.edit(entry, entry.label, entry.notes, "cc-by-4.0")
    method, path, auth, body = fake_server.requests[-1]
    assert (method, path, auth, json.loads(body)) == ("PATCH", "/api/v1/observations/55/terms/", "Token t",
                                                      {"license": "cc-by-4.0"})
    before = len(fake_server.requests)
    h.edit(entry, entry.label, entry.notes, "cc-by-nc-4.0")   # unchanged: nothing is sent
    assert len(fake_server.requests) == before
