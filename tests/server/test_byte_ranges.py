"""Audio answers byte ranges (server/common/byte_ranges.py): what lets a browser seek.

The parser is checked on its own; then every route a browser plays (the public clip, the owner's and a
researcher's private audio, the game's clip, a soundscape clip) is asked for a range, a suffix, an
unsatisfiable range and a malformed one, and the bytes are compared with the whole file.
"""
from __future__ import annotations

import pytest

from server.common.byte_ranges import Unsatisfiable, parse_range
from server.observations import public_clips

from .conftest import client_for
from .test_public_clips import accepted, body_of, tagged_upload  # noqa: F401  (fixtures)


@pytest.mark.parametrize("header, size, expected", [
    ("bytes=0-99", 1000, (0, 99)),
    ("bytes=100-", 1000, (100, 999)),
    ("bytes=-100", 1000, (900, 999)),
    ("bytes=-5000", 1000, (0, 999)),           # a suffix longer than the file: all of it
    ("bytes=990-5000", 1000, (990, 999)),      # an end past the file is cut to it
    ("bytes=999-999", 1000, (999, 999)),
    (" bytes=0-0 ", 1000, (0, 0)),
])
def test_one_range_is_parsed(header, size, expected):
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("header", [None, "", "bytes=", "bytes=-", "bytes=a-b", "items=0-9", "bytes=5-2",
                                    "bytes=0-1,5-6", "bytes 0-9", "bytes=0x10-", "bytes=１-２", "bytes=0-9;x"])
def test_malformed_or_multiple_ranges_are_ignored(header):
    assert parse_range(header, 1000) is None


@pytest.mark.parametrize("header, size", [("bytes=1000-", 1000), ("bytes=5000-6000", 1000), ("bytes=-0", 1000),
                                          ("bytes=0-", 0), ("bytes=-10", 0)])
def test_ranges_that_select_nothing_are_unsatisfiable(header, size):
    with pytest.raises(Unsatisfiable):
        parse_range(header, size)


def check_ranges(client, url: str) -> bytes:
    """Asks ``url`` for its whole body and for ranges of it; returns the whole body."""
    whole = client.get(url)
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    data = body_of(whole)
    size = len(data)
    assert size > 200

    part = client.get(url, HTTP_RANGE="bytes=10-109")
    assert part.status_code == 206 and part["Accept-Ranges"] == "bytes"
    assert part["Content-Range"] == f"bytes 10-109/{size}" and part["Content-Length"] == "100"
    assert body_of(part) == data[10:110]
    assert part["Content-Type"] == whole["Content-Type"]

    tail = client.get(url, HTTP_RANGE="bytes=-50")
    assert tail.status_code == 206 and body_of(tail) == data[-50:]
    assert tail["Content-Range"] == f"bytes {size - 50}-{size - 1}/{size}"

    rest = client.get(url, HTTP_RANGE=f"bytes={size - 7}-")
    assert rest.status_code == 206 and body_of(rest) == data[-7:]

    for bad in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=-0"):
        refused = client.get(url, HTTP_RANGE=bad)
        assert refused.status_code == 416, bad
        assert refused.json()["error"]["code"] == "range_not_satisfiable"
        assert refused["Content-Range"] == f"bytes */{size}"

    for malformed in ("bytes=zz-", "bytes=9-2", "pages=1-2", "bytes=0-1,4-5", "bytes"):
        full = client.get(url, HTTP_RANGE=malformed)
        assert full.status_code == 200 and body_of(full) == data, malformed

    stale = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"not-this-version"')
    assert stale.status_code == 200 and body_of(stale) == data  # If-Range that does not match: all of it
    return data


@pytest.mark.django_db
def test_public_clip_answers_ranges(accepted):  # noqa: F811
    check_ranges(client_for(None), public_clips.clip_url(accepted))


@pytest.mark.django_db
def test_private_audio_answers_ranges_for_owner_and_researcher(accepted, api, researcher, tagged_upload):  # noqa: F811
    own = check_ranges(api, f"/api/v1/recordings/{accepted.recording_id}/audio/")
    assert own == tagged_upload
    check_ranges(client_for(researcher), f"/api/v1/map/observations/{accepted.pk}/audio/")  # the FLAC copy


@pytest.mark.django_db
def test_game_clip_answers_ranges(accepted, other_player):  # noqa: F811
    from server.game.ledger import award

    award(other_player.pk, "quest_step", "test-xp", 60)  # identifying needs level 2
    check_ranges(client_for(other_player), f"/api/v1/game/identify/{accepted.pk}/audio/")


@pytest.mark.django_db
def test_soundscape_clip_honours_if_range_with_its_etag(accepted, player):  # noqa: F811
    from server.platform import storage as files
    from server.soundscapes.models import Clip

    data = public_clips.read_clip(accepted)
    sha = files.sha256_hex(data)
    name = f"soundscapes/clips/{sha}.ogg"
    files.put(name, data)
    Clip.objects.create(sha256=sha, path=name, kind=Clip.Kind.FIXTURE, species_label="x", duration_s=3.0)
    url = f"/api/v1/soundscapes/clips/{sha}/"
    client = client_for(player)
    check_ranges(client, url)
    fresh = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=f'"{sha}"')
    assert fresh.status_code == 206 and body_of(fresh) == data[:10] and fresh["ETag"] == f'"{sha}"'
