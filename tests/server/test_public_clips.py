"""Raw audio stays private; everyone else hears the public clip, which carries no tags (issue 24, 1-2).

The upload is a real bird clip whose Ogg container carries a Vorbis comment with a GPS position
(``GPS=18.299111,-65.801234``). Every route that serves audio is fetched as each role, and the
served bytes are read back: no tag, and not the upload's bytes, for anyone but the owner.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from django.core.management import call_command
from mutagen.flac import FLAC
from mutagen.oggopus import OggOpus

from ml.runtime.audio import decode
from server.accounts.models import Role
from server.maps.public_clip_backfill import IMPORTED_CLIP_S, backfill
from server.observations import public_clips
from server.observations.models import Observation
from server.platform import storage as files
from server.recordings.models import Recording, Status
from server.recordings.tasks import analyse_recording

from .conftest import client_for, make_user, metadata, submit

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "audio"
WARBLER = "XC173620_adelaides_warbler.ogg"
GPS = "18.299111,-65.801234"
LEAKS = (b"18.299111", b"65.801234", b"GPS")
SEGMENT = (1.0, 4.0)


def gps_tagged(data: bytes) -> bytes:
    """``data`` (Ogg/Opus) with the location written into its Vorbis comments, as a phone app might."""
    buf = io.BytesIO(data)
    tags = OggOpus(buf)
    tags["GPS"] = GPS
    tags["comment"] = f"GPS {GPS}"
    tags["title"] = "backyard, lat 18.299111 lng -65.801234"
    tags.save(buf)
    return buf.getvalue()


@pytest.fixture
def tagged_upload() -> bytes:
    data = gps_tagged((FIXTURES / WARBLER).read_bytes())
    assert all(leak in data for leak in LEAKS)
    assert OggOpus(io.BytesIO(data)).tags["GPS"] == [GPS]
    return data


@pytest.fixture
def accepted(api, catalogue, tagged_upload) -> Observation:
    meta = metadata(segment={"start_s": SEGMENT[0], "end_s": SEGMENT[1]},
                    identification={"label": "Adelaide's Warbler", "confidence": 0.8, "model_version": "phone"})
    response = submit(api, tagged_upload, meta)
    assert response.status_code == 201, response.content
    rec_id = response.json()["id"]
    analyse_recording(rec_id)
    rec = Recording.objects.get(pk=rec_id)
    assert rec.status == Status.ACCEPTED, (rec.reject_code, rec.reject_reason)
    return rec.observation


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def assert_tag_free(data: bytes) -> None:
    for leak in LEAKS:
        assert leak not in data


def assert_public_clip(data: bytes) -> None:
    """Ogg/Opus whose comment header holds only the encoder's vendor string."""
    assert data[:4] == b"OggS" and b"OpusHead" in data[:200]
    clip = OggOpus(io.BytesIO(data))
    assert list(clip.tags.keys()) == [] and "libopus" in clip.tags.vendor
    assert_tag_free(data)


def test_analysis_makes_a_tag_free_opus_clip_of_the_marked_segment(accepted, tagged_upload):
    anon = client_for(None)
    detail = anon.get(f"/api/v1/map/observations/{accepted.pk}/").json()
    assert re.fullmatch(r"http://testserver/api/v1/clips/[A-Za-z0-9_-]{32}\.ogg", detail["audio_url"])
    response = anon.get(detail["audio_url"])
    assert response.status_code == 200 and response["Content-Type"] == "audio/ogg"
    assert response["Cache-Control"].startswith("public")
    data = body_of(response)
    assert_public_clip(data)
    assert OggOpus(io.BytesIO(data)).info.length == pytest.approx(SEGMENT[1] - SEGMENT[0], abs=0.03)
    # the segment, not the start of the file: it matches the upload's samples from 1.0 s on
    clip, sr = decode(data, sample_rate=24_000)
    source, _ = decode(tagged_upload, sample_rate=24_000)
    lo = int(SEGMENT[0] * sr)
    n = min(clip.size, source.size - lo)
    assert np.corrcoef(envelope(clip[:n]), envelope(source[lo:lo + n]))[0, 1] > 0.9
    assert np.corrcoef(envelope(clip[:n]), envelope(source[:n]))[0, 1] < 0.5


def envelope(x: np.ndarray, frame: int = 480) -> np.ndarray:
    """RMS per 20 ms at 24 kHz: what a lossy codec keeps of the waveform."""
    n = x.size // frame * frame
    return np.sqrt(np.mean(x[:n].reshape(-1, frame) ** 2, axis=1))


def test_clip_url_is_random_not_derived_from_the_observation(accepted):
    token = accepted.public_clip_token
    assert len(token) >= 32
    for known in (str(accepted.pk), str(accepted.recording_id), accepted.recording.audio_sha256):
        assert known not in token and token not in known
    first_url = public_clips.clip_url(accepted)
    backfill(Observation.objects.filter(pk=accepted.pk), force=True)   # the same audio, a new clip
    accepted.refresh_from_db()
    assert accepted.public_clip_token != token and public_clips.clip_url(accepted) != first_url
    assert client_for(None).get(first_url).status_code == 404


def test_unknown_or_malformed_clip_tokens_are_404(accepted):
    anon = client_for(None)
    for token in ("A" * 32, "x", "..%2F..%2Fetc%2Fpasswd", accepted.public_clip_token[:-1]):
        response = anon.get(f"/api/v1/clips/{token}.ogg")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_map_audio_route_gives_raw_bytes_only_to_owner_and_tag_free_copy_to_researchers(
        accepted, api, other_player, researcher, admin_user, tagged_upload):
    url = f"/api/v1/map/observations/{accepted.pk}/audio/"
    clip_url = public_clips.clip_url(accepted)
    for client in (client_for(None), client_for(other_player)):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == clip_url
        assert response["Cache-Control"].startswith("private")
        assert_public_clip(body_of(client.get(response["Location"])))
    own = api.get(url)
    assert own.status_code == 200 and own["Cache-Control"].startswith("private")
    assert body_of(own) == tagged_upload            # the owner keeps the original bytes
    for privileged in (researcher, admin_user):
        response = client_for(privileged).get(url)
        assert response.status_code == 200 and response["Content-Type"] == "audio/flac"
        assert response["Cache-Control"].startswith("private")
        data = body_of(response)
        assert_tag_free(data)
        flac = FLAC(io.BytesIO(data))
        assert not flac.tags and not flac.pictures
        copy, sr = sf.read(io.BytesIO(data), dtype="float32")
        original, sr0 = sf.read(io.BytesIO(tagged_upload), dtype="float32")
        assert sr == sr0 and copy.shape == original.shape
        assert np.max(np.abs(copy - original)) < 1e-3        # the same samples, 16-bit


def test_recording_audio_route_owner_original_researcher_tag_free(accepted, api, other_player, researcher,
                                                                    tagged_upload):
    url = f"/api/v1/recordings/{accepted.recording_id}/audio/"
    assert client_for(other_player).get(url).status_code == 404
    assert client_for(None).get(url).status_code == 401
    assert body_of(api.get(url)) == tagged_upload
    response = client_for(researcher).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "audio/flac"
    data = body_of(response)
    assert_tag_free(data) and not FLAC(io.BytesIO(data)).tags


def level(user, xp: int = 60):
    from server.game.ledger import award

    award(user.pk, "quest_step", "test-xp", xp)
    return user


def test_quiz_and_identify_audio_serve_the_public_clip(accepted, catalogue, tagged_upload):
    from server.game.models import QuizQuestion

    player = level(make_user("kestrel", Role.PLAYER))
    client = client_for(player)
    clip = public_clips.read_clip(accepted)
    start = client.post("/api/v1/game/quiz/")
    assert start.status_code == 201, start.content
    question = start.json()["question"]
    assert QuizQuestion.objects.get(pk=question["id"]).observation_id == accepted.pk
    assert accepted.public_clip_token not in question["audio_url"]
    quiz = client.get(question["audio_url"])
    assert quiz.status_code == 200 and quiz["Cache-Control"].startswith("private")
    assert body_of(quiz) == clip
    queue = client.get("/api/v1/game/identify/").json()["results"]
    item = next(i for i in queue if i["observation"] == accepted.pk)
    identify = client.get(item["audio_url"])
    assert identify.status_code == 200 and body_of(identify) == clip
    assert body_of(identify) != tagged_upload


def test_export_media_and_soundscape_use_the_public_clip(accepted, researcher):
    import csv
    import zipfile

    from server.soundscapes.clips import recording_clip

    clip_url = public_clips.clip_url(accepted)
    client = client_for(researcher)
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/map/export.csv").content.decode())))
    row = next(r for r in rows if r["occurrenceID"] == f"dawnchorus:obs:{accepted.pk}")
    assert row["associatedMedia"] == f"http://testserver{clip_url}"
    archive = zipfile.ZipFile(io.BytesIO(body_of(client.get("/api/v1/map/export.zip"))))
    assert f"http://testserver{clip_url}" in archive.read("multimedia.txt").decode()
    assert f"/map/observations/{accepted.pk}/audio/" not in archive.read("multimedia.txt").decode()
    soundscape = recording_clip(str(accepted.recording_id), "Adelaide's Warbler")
    served = body_of(client.get(f"/api/v1/soundscapes/clips/{soundscape.sha256}/"))
    assert served == public_clips.read_clip(accepted)


def test_speech_in_the_segment_is_muted_in_the_clip(api, catalogue):
    """A take with speech beside birdsong: the clip is silent where the speech was."""
    bird, sr = decode((FIXTURES / WARBLER).read_bytes(), sample_rate=24_000)
    voice, _ = decode((FIXTURES / "speech_espeak.wav").read_bytes(), sample_rate=24_000)
    take = np.concatenate([bird[:3 * sr], 0.8 * voice[:int(1.2 * sr)] / np.max(np.abs(voice)), bird[3 * sr:]])
    buf = io.BytesIO()
    sf.write(buf, take, sr, format="WAV", subtype="PCM_16")
    meta = metadata(segment={"start_s": 0.0, "end_s": take.size / sr},
                    identification={"label": "Adelaide's Warbler", "confidence": 0.8, "model_version": "phone"})
    rec_id = submit(api, buf.getvalue(), meta, filename="take.wav").json()["id"]
    analyse_recording(rec_id)
    rec = Recording.objects.get(pk=rec_id)
    if rec.status != Status.ACCEPTED or not rec.speech_muted:
        pytest.skip(f"speech not detected in the mixed take ({rec.reject_code})")
    clip, csr = decode(public_clips.read_clip(rec.observation), sample_rate=24_000)
    spans = rec.analysis["speech"]["segments"]
    for start, end in spans:
        inside = clip[int((start + 0.05) * csr):int((end - 0.05) * csr)]
        assert np.sqrt(np.mean(inside ** 2)) < 1e-3


def test_no_clip_where_the_licence_forbids_publishing(make_xc_obs):
    closed = make_xc_obs("")                                   # unknown licence
    rights = make_xc_obs("All rights reserved", source_id="32051")
    counts = backfill(Observation.objects.filter(pk__in=[closed.pk, rights.pk]))
    assert counts.made == 0 and counts.no_audio == 2
    for obs in (closed, rights):
        obs.refresh_from_db()
        assert obs.public_clip_token is None
        assert client_for(None).get(f"/api/v1/map/observations/{obs.pk}/").json()["audio_url"] is None
        response = client_for(None).get(f"/api/v1/map/observations/{obs.pk}/audio/")
        assert response.status_code == 404 and response.json()["error"]["code"] == "audio_unavailable"


def test_a_clip_stops_being_served_when_the_licence_closes(accepted):
    url = public_clips.clip_url(accepted)
    Observation.objects.filter(pk=accepted.pk).update(license="All rights reserved")
    assert client_for(None).get(url).status_code == 404
    accepted.refresh_from_db()
    assert backfill(Observation.objects.filter(pk=accepted.pk)).removed == 1
    accepted.refresh_from_db()
    assert accepted.public_clip_token is None


def test_licence_rule():
    allows = public_clips.licence_allows
    for open_licence in ("https://creativecommons.org/licenses/by-nc-sa/4.0/",
                         "//creativecommons.org/licenses/by-nc-nd/2.5/", "https://creativecommons.org/publicdomain/zero/1.0/",
                         "CC0", "CC BY 4.0", "Public domain"):
        assert allows(open_licence), open_licence
    for closed in ("", "All rights reserved", "https://example.org/licence", "proprietary"):
        assert not allows(closed), closed


@pytest.fixture
def make_xc_obs(catalogue):
    from django.contrib.gis.geos import Point

    from server.observations.services import build_observation
    from server.species.models import Species

    def make(licence: str, source_id: str = "173620") -> Observation:
        obs = build_observation(species=Species.objects.get(label="Adelaide's Warbler"),
                                location=Point(-66.86, 17.97, srid=4326), seed=f"xc:{source_id}",
                                observed_at="2014-03-10T11:44:00Z", source="xeno-canto", source_id=source_id,
                                source_url=f"https://xeno-canto.org/{source_id}", status="research", license=licence)
        obs.save()
        return obs

    return make


def test_backfill_command_makes_clips_for_imports_and_is_idempotent(make_xc_obs, accepted, media_root):
    imported = make_xc_obs("https://creativecommons.org/licenses/by-nc-sa/4.0/")
    files.delete(public_clips.clip_name(accepted))                                    # an observation from before
    Observation.objects.filter(pk=accepted.pk).update(public_clip_token=None)
    out = io.StringIO()
    call_command("make_public_clips", stdout=out)
    assert "made 2" in out.getvalue()
    tokens = dict(Observation.objects.filter(pk__in=[imported.pk, accepted.pk]).values_list("pk", "public_clip_token"))
    assert all(tokens.values())
    for pk in tokens:
        obs = Observation.objects.get(pk=pk)
        data = public_clips.read_clip(obs)
        assert_public_clip(data)
        assert OggOpus(io.BytesIO(data)).info.length <= IMPORTED_CLIP_S + 0.03
    again = io.StringIO()
    call_command("make_public_clips", stdout=again)
    assert "made 0" in again.getvalue() and "kept 2" in again.getvalue()
    assert dict(Observation.objects.filter(pk__in=tokens).values_list("pk", "public_clip_token")) == tokens
    assert len(list((media_root / "public" / "clips").rglob("*.ogg"))) == 2     # no orphan files


def test_a_failed_analysis_transaction_leaves_no_clip_file(api, catalogue, tagged_upload, media_root):
    """The clip is written before the observation row commits; a rollback removes it again."""
    from server.recordings import outcome

    def boom(*args, **kwargs):
        raise RuntimeError("finishing failed")

    meta = metadata(segment={"start_s": SEGMENT[0], "end_s": SEGMENT[1]},
                    identification={"label": "Adelaide's Warbler", "confidence": 0.8, "model_version": "phone"})
    rec_id = submit(api, tagged_upload, meta).json()["id"]
    with pytest.MonkeyPatch.context() as patch:   # fails after the observation row and its clip are written
        patch.setattr(outcome, "finish", boom)
        with pytest.raises(RuntimeError):
            analyse_recording(rec_id)
    assert not Observation.objects.filter(recording_id=rec_id).exists()
    assert list((media_root / "public").rglob("*.ogg")) == []


def test_a_soundscape_clip_made_from_the_upload_earlier_is_replaced_and_gone(accepted, researcher, tagged_upload):
    from server.soundscapes.clips import recording_clip, store
    from server.soundscapes.models import Clip

    sha, rel = store(tagged_upload)                       # as the soundscape builder once stored it
    Clip.objects.create(sha256=sha, path=rel, kind=Clip.Kind.RECORDING, recording=accepted.recording,
                        species_label="Adelaide's Warbler", duration_s=6.0)
    client = client_for(researcher)
    assert client.get(f"/api/v1/soundscapes/clips/{sha}/").status_code == 200
    fresh = recording_clip(str(accepted.recording_id), "Adelaide's Warbler")
    assert fresh.sha256 != sha and not Clip.objects.filter(sha256=sha).exists()
    assert client.get(f"/api/v1/soundscapes/clips/{sha}/").status_code == 404
    assert_public_clip(body_of(client.get(f"/api/v1/soundscapes/clips/{fresh.sha256}/")))
