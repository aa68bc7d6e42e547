"""Recording session tokens (in-app recorder only), replayed audio. (Rate limits: tests/server/platform/test_throttling.py.)"""
from __future__ import annotations

import pytest
from django.core import signing

from server.recordings import session_token
from server.recordings.models import Recording

from ..conftest import client_for, metadata, submit

pytestmark = pytest.mark.django_db


def test_session_token_is_required_bound_single_use(api, other_player, catalogue, bird_clips, media_root):
    clip = bird_clips[0]
    missing = submit(api, clip.data, metadata(session_token=""))
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "recording_token_missing"
    forged = submit(api, clip.data, metadata(session_token="abc:def"))
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "recording_token_invalid"
    theirs = client_for(other_player).post("/api/v1/recordings/session-token/").json()["token"]
    stolen = submit(api, clip.data, metadata(session_token=theirs))
    assert stolen.status_code == 403 and stolen.json()["error"]["code"] == "recording_token_invalid"
    issued = api.post("/api/v1/recordings/session-token/")
    assert issued.status_code == 201 and issued.json()["expires_at"]
    token = issued.json()["token"]
    first_meta = metadata(session_token=token)
    assert submit(api, clip.data, first_meta).status_code == 201
    # the offline queue re-sending the same upload is harmless (idempotency key, same token)
    assert submit(api, clip.data, first_meta).status_code == 200
    reused = submit(api, bird_clips[1].data, metadata(session_token=token))
    assert reused.status_code == 403 and reused.json()["error"]["code"] == "recording_token_reused"
    assert Recording.objects.count() == 1
    stored = list((media_root / "audio").rglob("*.*"))
    assert len(stored) == 1   # nothing stored for refused uploads


def test_expired_session_token(api, player, catalogue, bird_clips, settings):
    from datetime import datetime, timedelta, timezone

    token = api.post("/api/v1/recordings/session-token/").json()["token"]
    # a file recorded an hour before the session began cannot use it
    before = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    old_file = submit(api, bird_clips[0].data, metadata(session_token=token, recorded_at=before))
    assert old_file.status_code == 403 and old_file.json()["error"]["code"] == "recording_token_expired"
    # uploaded after the upload window (offline queues get 7 days by default)
    settings.RECORDING_TOKEN_UPLOAD_TTL_S = -1
    late = submit(api, bird_clips[0].data, metadata(session_token=token))
    assert late.status_code == 403 and late.json()["error"]["code"] == "recording_token_expired"
    settings.RECORDING_TOKEN_UPLOAD_TTL_S = 7 * 86400
    assert submit(api, bird_clips[0].data, metadata(session_token=token)).status_code == 201
    assert Recording.objects.count() == 1
    with pytest.raises(Exception):
        session_token.verify(signing.dumps({"u": player.pk}, salt="other"), player.pk)


def test_replayed_audio_earns_nothing(game, player, other_player, bird_clips):
    """Replay is analysis' decision, carried by the event: the game takes it from there."""
    from server.game.ledger import total_xp
    from server.recordings.events import dispatch

    from .helpers import accept, analysed_event

    accept(player, bird_clips[0])
    replay = accept(other_player, bird_clips[0], lat=18.32, signal=False)
    dispatch(analysed_event(replay, replay=True))
    assert total_xp(other_player.pk) == 0
    dispatch(analysed_event(replay, replay=False))
    assert total_xp(other_player.pk) > 0
