"""?audio=wav: the routes phones play answer 16-bit PCM WAV (a phone build has no libsndfile or libopus),
naming their source clip in X-Clip-SHA256; the phone reads it with the standard library."""
from __future__ import annotations

import pytest

from mobile.pcm import read_wav
from server.common.phone_audio import PHONE_RATE
from server.observations import public_clips

from .conftest import client_for
from .test_public_clips import accepted, body_of, tagged_upload  # noqa: F401  (fixtures)


def soundscape_clip(accepted) -> str:  # noqa: F811
    from server.platform import storage as files
    from server.soundscapes.models import Clip

    data = public_clips.read_clip(accepted)
    sha = files.sha256_hex(data)
    name = f"soundscapes/clips/{sha}.ogg"
    files.put(name, data)
    Clip.objects.create(sha256=sha, path=name, kind=Clip.Kind.FIXTURE, species_label="x", duration_s=3.0)
    return sha


@pytest.mark.django_db
def test_a_soundscape_clip_comes_as_wav_for_phones(accepted, player):  # noqa: F811
    sha = soundscape_clip(accepted)
    client = client_for(player)
    url = f"/api/v1/soundscapes/clips/{sha}/"
    original = client.get(url)
    assert original["Content-Type"] == "audio/ogg" and body_of(original)[:4] == b"OggS"
    wav = client.get(url, {"audio": "wav"})
    assert wav.status_code == 200 and wav["Content-Type"] == "audio/wav"
    assert wav["X-Clip-SHA256"] == sha and wav["ETag"] == f'"{sha}-wav"'
    body = body_of(wav)
    x, sr = read_wav(body)
    assert sr == PHONE_RATE and x.shape[1] == 1 and x.shape[0] / sr == pytest.approx(3.0, abs=0.2)
    assert float(abs(x).max()) > 1e-3
    part = client.get(url, {"audio": "wav"}, HTTP_RANGE="bytes=0-11")
    assert part.status_code == 206 and body_of(part) == body[:12]
    assert client.get(url, {"audio": "wav"}, HTTP_IF_NONE_MATCH=f'"{sha}-wav"').status_code == 304
    bad = client.get(url, {"audio": "mp3"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_audio_format"


@pytest.mark.django_db
def test_the_game_clip_comes_as_wav_for_phones(accepted, other_player):  # noqa: F811
    from server.game.ledger import award

    award(other_player.pk, "quest_step", "test-xp", 60)  # identifying needs level 2
    wav = client_for(other_player).get(f"/api/v1/game/identify/{accepted.pk}/audio/", {"audio": "wav"})
    assert wav.status_code == 200 and wav["Content-Type"] == "audio/wav" and wav["Cache-Control"] == "private, no-store"
    x, sr = read_wav(body_of(wav))
    assert sr == PHONE_RATE and x.shape[0] > sr


@pytest.mark.django_db
def test_the_public_clip_comes_as_wav_for_phones(accepted):  # noqa: F811
    wav = client_for(None).get(public_clips.clip_url(accepted), {"audio": "wav"})
    assert wav.status_code == 200 and wav["Content-Type"] == "audio/wav"
    x, sr = read_wav(body_of(wav))
    assert sr == PHONE_RATE and x.shape[0] > sr
