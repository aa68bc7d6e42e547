"""My finds (history, life list, edit, withdraw), the identification game's client, the map's tile
sources and the offline basemap builder, and the words the screens show — without a window."""
from __future__ import annotations

import json
import sqlite3

import pytest

from mobile import basemap_build
from mobile.api import ApiClient, Connectivity
from mobile.community import CommunityController
from mobile.game import GameClient
from mobile.history import History, life_list, merge
from mobile.observation_view import detail_lines, percent, plural
from mobile.offline_queue import ACCEPTED, SENT, WAITING, OfflineQueue


def meta(label: str, key: str) -> dict:
    return {"idempotency_key": key, "identification": {"label": label}, "location": {"lat": 18.3, "lng": -65.8}}


@pytest.fixture
def queue(tmp_path):
    q = OfflineQueue(tmp_path / "q")
    yield q
    q.close()


def test_history_merges_the_phone_and_the_server_and_counts_the_life_list(queue):
    queue.add("k-waiting-1", b"RIFF", meta("Bananaquit", "k-waiting-1"))
    queue.add("k-sent-0001", b"RIFF", meta("Adelaide's Warbler", "k-sent-0001"))
    queue.mark_sent("k-sent-0001", "rec-1")
    server = [{"id": "rec-1", "status": "accepted", "recorded_at": "2026-12-01T10:00:00Z",
               "observation": {"id": 5, "species": "Adelaide's Warbler", "status": "research"}},
              {"id": "rec-2", "status": "accepted", "recorded_at": "2026-11-30T10:00:00Z",
               "location": {"lat": 18.2, "lng": -65.9}, "notes": "other phone",
               "observation": {"id": 6, "species": "Adelaide's Warbler", "status": "needs_id"}},
              {"id": "rec-3", "status": "rejected", "reject_reason": "Too quiet", "recorded_at": "2026-11-29T10:00:00Z"}]
    entries = merge(queue.items(), server)
    assert len(entries) == 4  # rec-1 once: the phone's entry with the server's news
    by_rec = {e.recording_id: e for e in entries}
    assert by_rec["rec-1"].on_phone and by_rec["rec-1"].state == ACCEPTED and by_rec["rec-1"].observation_id == "5"
    assert not by_rec["rec-2"].on_phone and by_rec["rec-2"].notes == "other phone"
    assert by_rec["rec-3"].state_text.endswith("Too quiet")
    assert life_list(entries) == [("Adelaide's Warbler", 2)]  # accepted only; the waiting Bananaquit not yet


def test_edit_and_withdraw_a_take_before_upload(queue):
    item = queue.add("k-waiting-1", b"RIFF", meta("Bananaquit", "k-waiting-1"))
    h = History(ApiClient("http://127.0.0.1:9", connectivity=Connectivity(online=False)), queue)
    entry = merge(queue.items(), None)[0]
    h.edit(entry, "Puerto Rican Tody", "by the stream")
    assert (queue.get(item.key).label, queue.get(item.key).metadata["notes"]) == ("Puerto Rican Tody", "by the stream")
    assert queue.claim(item.key)  # the uploader takes it: not withdrawable now, nothing lost
    with pytest.raises(ValueError):
        h.withdraw(merge(queue.items(), None)[0])
    assert queue.get(item.key) is not None
    queue.release(item.key, "offline", "offline")
    h.withdraw(merge(queue.items(), None)[0])  # offline is fine: it was never uploaded
    assert queue.items() == [] and not (queue.audio_dir / item.audio_file).exists()


def test_uploaded_records_change_and_withdraw_through_the_server(queue, fake_server):
    queue.add("k-sent-0001", b"RIFF", meta("Bananaquit", "k-sent-0001"))
    queue.mark_sent("k-sent-0001", "rec-1")
    fake_server.routes[("PATCH", "/api/v1/recordings/rec-1/")] = lambda h: (200, {"id": "rec-1"})
    fake_server.routes[("POST", "/api/v1/recordings/rec-1/withdraw/")] = lambda h: (200, {"status": "withdrawn"})
    api = ApiClient(fake_server.url, token="t")
    h = History(api, queue)
    entry = merge(queue.items(), None)[0]
    assert entry.state == SENT and entry.label_editable
    h.edit(entry, "Bananaquit", "heard twice")  # the label did not change: only the notes are sent
    assert json.loads(fake_server.requests[-1][3]) == {"notes": "heard twice"}
    api.connectivity.online = False
    with pytest.raises(Exception):
        h.withdraw(entry)  # offline: the server must hear it first, so the queue keeps the item
    assert len(queue.items()) == 1
    api.connectivity.online = True
    h.withdraw(entry)
    assert fake_server.requests[-1][:2] == ("POST", "/api/v1/recordings/rec-1/withdraw/")
    assert queue.items() == []


def test_the_identification_game_counts_the_points_it_earned(fake_server):
    state = {"xp": 100}
    queue = {"results": [{"observation": 41, "species": "Bananaquit", "audio_url": f"{fake_server.url}/a/41"},
                         {"observation": 42, "species": "Puerto Rican Tody", "audio_url": f"{fake_server.url}/a/42"}]}

    def earn(points):
        def handler(_h):
            state["xp"] += points
            return 201, {"grade": {"status": "research"}}
        return handler

    fake_server.routes.update({
        ("GET", "/api/v1/game/identify/"): lambda h: (200, queue),
        ("GET", "/api/v1/game/profile/"): lambda h: (200, {"xp": state["xp"]}),
        ("POST", "/api/v1/observations/41/quality/"): earn(2),
        ("POST", "/api/v1/observations/41/identifications/"): earn(10),
    })
    ctl = CommunityController(GameClient(ApiClient(fake_server.url, token="t")))
    assert ctl.load().current["observation"] == 41
    ctl.vote("audible", True)
    ctl.vote("audible", True)  # once per metric: the second tap sends nothing
    assert sum(1 for r in fake_server.requests if r[1].endswith("/quality/")) == 1
    st = ctl.identify("Bananaquit", agree=True)
    assert (st.points, st.identified, st.current["observation"]) == (12, 1, 42)
    assert "+10 points" in st.feedback and "research grade" in st.feedback
    body = json.loads(next(r[3] for r in fake_server.requests if r[1].endswith("/identifications/")))
    assert body == {"species": "Bananaquit", "kind": "agree"}


def test_the_identification_game_explains_the_level_it_needs(fake_server):
    fake_server.routes[("GET", "/api/v1/game/identify/")] = lambda h: (
        403, {"error": {"code": "level_too_low", "message": "Identifying needs level 2."}})
    st = CommunityController(GameClient(ApiClient(fake_server.url, token="t"))).load()
    assert st.locked == "Identifying needs level 2." and st.current is None


def test_words_on_screen():
    assert [plural(1, "recording"), plural(2, "recording"), plural(2, "species", "species")] == [
        "1 recording", "2 recordings", "2 species"]
    assert [percent(0.001), percent(0.004), percent(0.02), percent(0.955)] == ["<1%", "<1%", "2%", "96%"]
    title, body = detail_lines({"species": {"common_name": "Puerto Rican Parrot", "scientific_name": "Amazona vittata"},
                                "observed_at": "2026-12-01", "obscured": True, "grade": "research",
                                "locality": "never shown", "audio_url": None})
    assert title == "Puerto Rican Parrot" and "approximately" in body and "never shown" not in body
    assert "No public recording." in body


def test_tile_sources_fall_back_to_what_the_phone_has(tmp_path, monkeypatch):
    from mobile.ui import map_sources

    monkeypatch.setenv("DAWN_MBTILES", str(tmp_path / "missing.mbtiles"))
    source, notice = map_sources.choose_source(str(tmp_path / "cache"), lambda m: None, url="")
    assert isinstance(source, map_sources.BlankTiles) and "plain background" in notice
    failures = []
    source, notice = map_sources.choose_source(str(tmp_path / "cache"), failures.append,
                                               url="http://127.0.0.1:9/{z}/{x}/{y}.png")
    assert isinstance(source, map_sources.UrlTiles) and notice == ""


def test_the_basemap_builder_writes_tms_rows_of_the_region(tmp_path):
    # a one-square "country" around Puerto Rico in TopoJSON (quantised, delta-encoded arcs)
    topo = {"type": "Topology", "transform": {"scale": [0.01, 0.01], "translate": [-68, 17]},
            "arcs": [[[0, 0], [300, 0], [0, 200], [-300, 0], [0, -200]]],
            "objects": {"countries": {"type": "GeometryCollection",
                                      "geometries": [{"type": "Polygon", "arcs": [[0]], "id": "630"}]}}}
    src = tmp_path / "topo.json"
    src.write_text(json.dumps(topo))
    rings = basemap_build.decode_topojson(topo, basemap_build.BOUNDS)
    assert rings and rings[0][0] == (-68.0, 17.0) and rings[0][2] == (-65.0, 19.0)
    out = basemap_build.build(tmp_path / "pr.mbtiles", topojson=src, min_zoom=6, max_zoom=8)
    assert basemap_build.current(out)
    db = sqlite3.connect(out)
    rows = db.execute("SELECT zoom_level, tile_column, tile_row FROM tiles").fetchall()
    meta = dict(db.execute("SELECT name, value FROM metadata"))
    db.close()
    assert meta["format"] == "png" and meta["minzoom"] == "6" and meta["maxzoom"] == "8"
    xs, ys = basemap_build.tile_range(basemap_build.BOUNDS, 8)
    assert {(x, 2 ** 8 - 1 - y) for x in xs for y in ys} == {(c, r) for z, c, r in rows if z == 8}  # TMS rows


def test_past_days_for_the_listen_screen():
    from datetime import datetime, timezone

    from mobile.ui.listen import day_choices

    assert day_choices(datetime(2026, 12, 6, 1, tzinfo=timezone.utc), 3) == ["Today", "2026-12-05", "2026-12-04"]


def test_species_cards_use_the_packs_picture_with_its_attribution(tmp_path, fake_server):
    from mobile.ui.species_card import card_for, fetch_image

    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    fake_server.routes[("GET", "/media/species/bq.png")] = lambda h: (200, png, {"Content-Type": "image/png"})
    fake_server.routes[("GET", "/media/species/bad.png")] = lambda h: (200, b"<html>", {"Content-Type": "text/html"})
    api = ApiClient(fake_server.url)
    entry = {"image_url": "/media/species/bq.png", "image_attribution": "Photo: A. Birder, CC BY 4.0"}
    pack = {"Bananaquit": entry}
    picture, credit = card_for("Bananaquit", pack, tmp_path)  # not fetched yet: a reference clip's sonogram
    assert credit == "Sonogram of a reference recording (XC32051, xeno-canto)" and picture.size[0] > 100
    path = fetch_image(api, "Bananaquit", entry, tmp_path)
    assert path.read_bytes() == png
    assert card_for("Bananaquit", pack, tmp_path) == (str(path), "Photo: A. Birder, CC BY 4.0")
    with pytest.raises(ValueError):
        fetch_image(api, "Dodo", {"image_url": "/media/species/bad.png"}, tmp_path)  # not an image: nothing kept
    assert not any(p.name.endswith(".part") for p in (tmp_path / "species").iterdir())
