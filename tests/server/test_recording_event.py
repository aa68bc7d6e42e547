"""The one domain event that ends analysis (``server.recordings.events.RecordingAnalysed``): sent once,
after commit only, carrying the decision; every subscriber reacts to it and only the realtime publisher
talks to clients."""
from __future__ import annotations

import io
import logging

import numpy as np
import pytest
import soundfile as sf
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from server.asgi import application
from server.game.models import PointEvent
from server.maps.live import groups_for_point
from server.realtime import publish
from server.recordings import outcome
from server.recordings.events import RecordingAnalysed, recording_analysed
from server.recordings.models import Recording, Status
from server.recordings.tasks import analyse_recording
from server.soundscapes.cells import cell_of
from server.soundscapes.models import CellSpec

from .conftest import api_token, client_for, metadata, submit, ws_subprotocols

pytestmark = pytest.mark.django_db
SENSITIVE = "Puerto Rican Amazon"


def submitted(client, data: bytes, label: str | None = None) -> Recording:
    extra = {} if label is None else {"identification": {"label": label, "confidence": 0.7, "model_version": "phone"}}
    response = submit(client, data, metadata(**extra))
    assert response.status_code == 201, response.content
    return Recording.objects.get(pk=response.json()["id"])


@pytest.fixture
def sent():
    """Every RecordingAnalysed dispatched while the test runs."""
    got: list[RecordingAnalysed] = []

    def record(sender, event, **kwargs):
        got.append(event)

    recording_analysed.connect(record, dispatch_uid="test-recorder")
    yield got
    recording_analysed.disconnect(dispatch_uid="test-recorder")


@pytest.fixture
def pushed(monkeypatch):
    """Every (group, message) handed to the realtime publisher, instead of Redis."""
    got: list[tuple[str, dict]] = []
    monkeypatch.setattr(publish, "send", lambda messages: got.extend(messages))
    return got


def test_the_event_is_sent_once_after_commit_with_the_decision(api, player, catalogue, bird_clips, sent,
                                                               django_capture_on_commit_callbacks):
    clip = bird_clips[0]
    rec = submitted(api, clip.data, clip.label)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert analyse_recording(str(rec.pk)) == Status.ACCEPTED
    assert sent == []                       # nothing before the commit ...
    for callback in callbacks:
        callback()
    assert len(sent) == 1                   # ... then exactly one event
    event = sent[0]
    rec.refresh_from_db()
    obs = rec.observation
    assert (event.recording_id, event.owner_id, event.status, event.replay) == (str(rec.pk), player.pk, "accepted",
                                                                                  False)
    decided = event.observation
    assert decided.id == obs.pk and decided.species_label == clip.label and decided.status == obs.status
    assert (decided.true_point.lng, decided.true_point.lat) == (rec.location.x, rec.location.y)
    assert (decided.public_point.lng, decided.public_point.lat) == (obs.public_location.x, obs.public_location.y)
    assert decided.obscured is False and decided.published_observed_at == obs.observed_at.isoformat()
    with django_capture_on_commit_callbacks(execute=True):   # a redelivered task
        assert analyse_recording(str(rec.pk)) == "skipped"
    assert len(sent) == 1


def test_a_rolled_back_analysis_sends_nothing(api, catalogue, bird_clips, sent, monkeypatch,
                                              django_capture_on_commit_callbacks):
    clip = bird_clips[0]
    rec = submitted(api, clip.data, clip.label)

    def boom(*args, **kwargs):
        raise RuntimeError("finishing failed")

    monkeypatch.setattr(outcome, "finish", boom)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        analyse_recording(str(rec.pk))
    assert sent == []


def test_a_rejected_recording_sends_the_decision_without_an_observation(api, catalogue, sent, pushed,
                                                                         django_capture_on_commit_callbacks):
    buf = io.BytesIO()
    sf.write(buf, np.zeros(16000 * 4), 16000, format="WAV", subtype="PCM_16")   # silence
    rec = submitted(api, buf.getvalue())
    with django_capture_on_commit_callbacks(execute=True):
        assert analyse_recording(str(rec.pk)) == Status.REJECTED
    rec.refresh_from_db()
    assert [(e.status, e.reject_code, e.observation) for e in sent] == [("rejected", rec.reject_code, None)]
    assert pushed == [(f"user.{rec.owner_id}", {
        "type": "recording.update", "recording": {"id": str(rec.pk), "status": "rejected", "reject_code": rec.reject_code,
                                                  "reject_reason": rec.reject_reason, "observation": None},
        "observation": None})]


def test_every_subscriber_reacts_and_the_player_gets_one_outcome_message(api, player, catalogue, bird_clips, pushed,
                                                                         django_capture_on_commit_callbacks):
    clip = bird_clips[0]
    rec = submitted(api, clip.data, clip.label)
    with django_capture_on_commit_callbacks(execute=True):
        analyse_recording(str(rec.pk))
    obs = Recording.objects.get(pk=rec.pk).observation
    # game: points for the owner
    assert PointEvent.objects.filter(player=player, rule="recording_accepted", observation_id=obs.pk).exists()
    # soundscapes: the public point's cell is stale for live and the day
    cell = cell_of(obs.public_location.y, obs.public_location.x)
    assert set(CellSpec.objects.filter(cell=cell, stale=True).values_list("window", flat=True)) == {
        "live", obs.observed_at.date().isoformat()}
    # maps: the live map's cell groups of the public point
    to_map = [(g, m) for g, m in pushed if m["type"] == "map.observation"]
    assert sorted(g for g, _ in to_map) == sorted(groups_for_point(obs.public_location.x, obs.public_location.y))
    assert all(m["event"] == "observation.created" and m["public"]["id"] == obs.pk for _, m in to_map)
    # realtime: one outcome message to the owner, which names the observation
    outcomes = [m for g, m in pushed if m["type"] == "recording.update"]
    assert [g for g, m in pushed if m["type"] == "recording.update"] == [f"user.{player.pk}"]
    assert outcomes[0]["recording"]["status"] == "accepted" and outcomes[0]["observation"]["id"] == obs.pk
    assert "observation.accepted" not in {m["type"] for _, m in pushed}


def test_an_obscured_outcome_carries_the_public_point_and_date_only(api, catalogue, bird_clips, pushed,
                                                                    django_capture_on_commit_callbacks):
    rec = submitted(api, bird_clips[0].data, SENSITIVE)
    with django_capture_on_commit_callbacks(execute=True):
        analyse_recording(str(rec.pk))
    obs = Recording.objects.get(pk=rec.pk).observation
    assert obs.obscured
    message = next(m for _, m in pushed if m["type"] == "recording.update")
    assert message["observation"]["geometry"]["coordinates"] == [obs.public_location.x, obs.public_location.y]
    assert message["observation"]["observed_at"] == obs.observed_at.date().isoformat()
    assert all(m["public"] is None for _, m in pushed if m["type"] == "map.observation")   # never to the public


def test_replay_is_decided_by_analysis_and_earns_nothing(api, other_player, catalogue, bird_clips, sent,
                                                         django_capture_on_commit_callbacks):
    first = submitted(api, bird_clips[0].data, bird_clips[0].label)
    again = submitted(client_for(other_player), bird_clips[1].data, bird_clips[1].label)
    # the second upload's bytes were seen before (set here: the fingerprint would reject a real copy)
    Recording.objects.filter(pk=again.pk).update(audio_sha256=first.audio_sha256)
    with django_capture_on_commit_callbacks(execute=True):
        analyse_recording(str(first.pk))
        assert analyse_recording(str(again.pk)) == Status.ACCEPTED
    assert [e.replay for e in sent] == [False, True]
    assert PointEvent.objects.filter(player=first.owner).exists()
    assert not PointEvent.objects.filter(player=other_player).exists()


def test_a_failing_subscriber_or_publisher_never_fails_the_task(api, player, catalogue, bird_clips, sent, monkeypatch,
                                                                caplog, django_capture_on_commit_callbacks):
    def boom(sender, event, **kwargs):
        raise RuntimeError("subscriber failed")

    def redis_down(items):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(publish._outbox, "put", redis_down)
    recording_analysed.connect(boom, dispatch_uid="test-boom")
    try:
        rec = submitted(api, bird_clips[0].data, bird_clips[0].label)
        with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
            assert analyse_recording(str(rec.pk)) == Status.ACCEPTED
    finally:
        recording_analysed.disconnect(dispatch_uid="test-boom")
    assert len(sent) == 1                                              # the others still ran
    assert PointEvent.objects.filter(player=player).exists()
    assert "subscriber failed" in caplog.text and "dropped" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_the_owner_hears_one_message_per_outcome_on_the_websocket(player, catalogue, bird_clips):
    api = client_for(player)
    clip = bird_clips[0]
    rec = submitted(api, clip.data, clip.label)
    protocols = ws_subprotocols(api_token(player))

    async def scenario() -> list[dict]:
        comm = WebsocketCommunicator(application, "/ws/v1/events/", headers=[(b"origin", b"http://127.0.0.1")],
                                     subprotocols=protocols)
        assert (await comm.connect())[0]
        assert (await comm.receive_json_from(timeout=10))["authenticated"] is True
        from channels.db import database_sync_to_async
        await database_sync_to_async(analyse_recording)(str(rec.pk))
        got = [await comm.receive_json_from(timeout=10)]
        while not await comm.receive_nothing(timeout=1.0):
            got.append(await comm.receive_json_from(timeout=1))
        await comm.disconnect()
        return got

    got = async_to_sync(scenario)()
    outcomes = [m for m in got if m["type"] == "recording.update"]
    assert len(outcomes) == 1 and outcomes[0]["recording"]["id"] == str(rec.pk), got
    assert outcomes[0]["observation"]["id"] == Recording.objects.get(pk=rec.pk).observation.pk
    assert not {"observation.accepted", "observation.created"} & {m["type"] for m in got}
