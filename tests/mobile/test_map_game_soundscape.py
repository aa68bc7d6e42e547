"""Map maths, game helpers, the soundscape player (real clips, real HTTP) and the FL client."""
import hashlib
import json

import numpy as np
import pytest

from mobile import geo
from mobile.api import ApiClient
from mobile.fl import FLClient, FLUnavailable, eligible
from mobile import game
from mobile.api import ApiError
from mobile.game import GameClient, board_name, quest_fraction, xp_progress
from mobile.services.location import SimulatedWalk, offset
from mobile.soundscape import SoundscapeController

from .conftest import AUDIO


def test_projection_clusters_and_scale_bar():
    a, b = geo.project(18.3, -65.8, 10), geo.project(18.3, -65.8, 11)
    assert b[0] == pytest.approx(2 * a[0]) and b[1] == pytest.approx(2 * a[1])
    pts = [{"id": 1, "lat": 18.3, "lng": -65.8}, {"id": 2, "lat": 18.30001, "lng": -65.80001, "own": True},
           {"id": 3, "lat": 18.4, "lng": -65.6}]
    far = geo.cluster(pts, 16)
    near = geo.cluster(pts, 5)
    assert len(far) == 2 and far[0].count == 2 and far[0].own and len(near) == 1 and near[0].count == 3
    metres, px, label = geo.scale_bar(18.3, 14, 150)
    assert px <= 150 and str(int(metres))[0] in "125" and label.endswith("m")
    x, y = geo.to_screen(18.3, -65.8, (18.3, -65.8), 14, (400, 800))
    assert (x, y) == (200, 400)
    feats = {"features": [{"id": 7, "geometry": {"type": "Point", "coordinates": [-65.8, 18.3]},
                           "properties": {"species": "Bananaquit", "recordist": "robin"}}, {"geometry": None}]}
    center, zoom = geo.fit_view([(18.30, -65.80), (18.32, -65.76)], (400, 600))
    assert center == pytest.approx((18.31, -65.78))
    for lat, lng in [(18.30, -65.80), (18.32, -65.76)]:
        x, y = geo.to_screen(lat, lng, center, zoom, (400, 600))
        assert 39 <= x <= 361 and 59 <= y <= 541  # inside the 80 % margin
    assert geo.fit_view([(18.3, -65.8)], (400, 600), max_zoom=16)[1] == 16
    assert geo.features_to_points(feats, "robin") == [{"id": 7, "lat": 18.3, "lng": -65.8, "species": "Bananaquit",
                                                       "own": True}]
    hidden = {"id": 8, "geometry": {"type": "Point", "coordinates": [-65.84, 18.36]},
              "properties": {"species": "Yellow-shouldered Blackbird", "obscured": True, "recordist": "",
                             "cell": [-66.0, 18.2, -65.8, 18.4]}}
    feats["features"] += [hidden, dict(hidden, id=9)]
    assert [p["id"] for p in geo.features_to_points(feats, "robin")] == [7]  # an obscured one is no dot
    assert geo.obscured_cells(feats) == [(-66.0, 18.2, -65.8, 18.4)]          # but its cell, once


def test_game_helpers_follow_the_server_shapes():
    assert xp_progress({"xp": 150, "level_xp": 100, "next_level_xp": 200}) == 0.5
    assert xp_progress({"xp": 5, "next_level_xp": None}) == 1.0
    assert quest_fraction({"target_count": 4, "progress": {"count": 3, "completed": False}}) == 0.75
    assert quest_fraction({"target_count": 3, "progress": {"count": 1, "completed": True}}) == 1.0
    assert quest_fraction({"target_count": 0, "progress": "junk"}) == 0.0
    assert board_name("Local", cell="882a100d2dfffff") == "area-882a100d2dfffff" and board_name("Weekly") == "weekly"
    assert board_name("Team") is None and board_name("Team", team=7) == "team-7" and board_name("Local") is None
    view = {"board": "alltime", "size": 40, "top": [{"rank": 1, "player": 3, "score": 90, "name": "ana"}],
            "me": {"rank": 12, "score": 20, "percentile": 72.5, "band": "top 30%"},
            "around": [{"rank": 11, "player": 4, "score": 21, "name": "bo"},
                       {"rank": 12, "player": 5, "score": 20, "name": "me"}]}
    rows = game.board_rows(view)
    assert rows == ["1. ana — 90", "11. bo — 21", "12. me — 20  (you)"]
    assert "#12 of 40" in game.board_summary(view) and "Record" in game.board_summary({"size": 3, "me": None})
    hunt = {"species": "Bananaquit", "active": True, "seconds_left": 125, "score": 1, "min_spacing_m": 200,
            "finds": [{"observation": 1, "lat": 18.3, "lng": -65.8}], "others": [{"lat": 18.31, "lng": -65.79}]}
    assert [p["own"] for p in game.map_points("hunt", hunt)] == [True, False]
    assert "2:05 left" in game.scenario_summary("hunt", hunt)
    route = {"species": "Bananaquit", "step": 1, "total": 3, "radius_m": 50, "completed": False,
             "waypoints": [{"index": 0, "lat": 18.3, "lng": -65.8, "year": 2019, "unlocked": True},
                           {"index": 1, "lat": 18.31, "lng": -65.8, "year": 2021, "unlocked": False}]}
    assert "waypoint 2 of 3 (2021)" in game.scenario_summary("timetravel", route)
    assert [p["own"] for p in game.map_points("timetravel", route)] == [True, False]
    shuffled = {"waypoints": list(reversed(route["waypoints"])) + [{"index": 2, "lat": None, "lng": 1}]}
    assert game.route_line("timetravel", shuffled) == [[18.3, -65.8], [18.31, -65.8]]   # in order, bad points left out
    assert game.route_line("hunt", hunt) == []


def test_team_rows_say_who_can_join_what():
    teams = [{"id": 4, "name": "Owls", "max_members": 8, "size": 3, "members": [{"name": "robin"}]},
             {"id": 5, "name": "Coquís", "max_members": 2, "size": 2}, {"id": "x", "name": "junk"}]
    rows = game.team_rows(teams, None)
    assert [(r["id"], r["can_join"]) for r in rows] == [(4, True), (5, False)]
    assert rows[1]["text"].endswith("(full)") and "3/8 members" in rows[0]["text"]
    assert not any(r["can_join"] for r in game.team_rows(teams, 4))   # already in a team: leave first
    assert "Owls (3/8)" in game.my_team_text(teams[0]) and "robin" in game.my_team_text(teams[0])
    assert "not in a team" in game.my_team_text(None)


def test_game_client_paths_and_the_quiz_controller(fake_server):
    fake_server.routes[("GET", "/api/v1/game/leaderboards/weekly/")] = lambda h: (200, {"around": [{"rank": 1}]})
    fake_server.routes[("POST", "/api/v1/game/quiz/")] = lambda h: (201, {"session": "s1", "question": {
        "id": "q1", "audio_url": "/a", "choices": ["A", "B", "C", "D"]}})
    fake_server.routes[("POST", "/api/v1/game/quiz/s1/answer/")] = lambda h: (200, {
        "correct": False, "correct_choice": "C", "points": 0, "next_question": None})
    api = ApiClient(fake_server.url, token="t")
    g = GameClient(api)
    assert g.leaderboard("weekly")["around"] == [{"rank": 1}]
    assert fake_server.requests[-1][1] == "/api/v1/game/leaderboards/weekly/"
    quiz = game.QuizController(g)
    assert quiz.start().choices == ["A", "B", "C", "D"]
    with pytest.raises(ApiError):
        quiz.answer("E")  # never sent: not one of the four
    st = quiz.answer("B")
    assert json.loads(fake_server.requests[-1][3]) == {"question": "q1", "choice": "B"}
    assert st.finished and st.answered == 1 and st.correct == 0 and "it was C" in st.feedback
    with pytest.raises(ApiError):
        quiz.answer("A")


def test_soundscape_fetches_checks_clips_and_renders_20ms_blocks(tmp_path, fake_server):
    data = (AUDIO / "XC32051_bananaquit.ogg").read_bytes()
    good = hashlib.sha256(data).hexdigest()
    walk = SimulatedWalk(radius_m=1)
    lat, lng = offset(walk.lat0, walk.lng0, 20, 0)
    fake_server.routes[("GET", "/clips/1")] = lambda h: (200, data, {"Content-Type": "audio/ogg"})
    fake_server.routes[("GET", "/api/v1/soundscapes/")] = lambda h: (200, {"cells": [{"cell": "c1", "etag": "e", "sources": [
        {"lat": lat, "lng": lng, "species": "Bananaquit", "count": 3, "gain": 1.0, "rate": None,
         "clip": {"id": 1, "url": f"{fake_server.url}/clips/1", "sha256": good}},
        {"lat": lat, "lng": lng, "species": "Bad", "count": 1, "gain": 1.0,
         "clip": {"id": 2, "url": f"{fake_server.url}/clips/1", "sha256": "0" * 64}},
        {"id": "s3", "lat": lat, "lng": lng, "species": "No clip", "count": 2, "gain": 0.7, "rate": 1.1, "clip": None}]}]})
    sc = SoundscapeController(ApiClient(fake_server.url), walk, walk, tmp_path)
    assert sc.fetch() == 1 and sc.species() == ["Bananaquit"]  # the clip with a wrong hash is left out
    assert (tmp_path / f"{good}.audio").read_bytes() == data
    blocks = np.concatenate([sc.next_block() for _ in range(300)])  # 6 s: past the loop's random start gap
    assert blocks.shape == (288_000, 2) and np.abs(blocks).max() > 1e-3 and np.all(np.isfinite(blocks))
    sc.isolate("Nothing here")
    quiet = np.concatenate([sc.next_block() for _ in range(50)])
    assert np.abs(quiet[-960:]).max() < np.abs(blocks).max() / 10
    walk.available = False
    sc.next_block()
    assert "GPS" in sc.status


def _enroll_routes(fake_server):
    fake_server.routes[("POST", "/api/v1/fl/enrollment")] = lambda h: (200, {"opted_in": json.loads(h.body)["opted_in"]})


def _task(round_id=7, version="field-phinet-2026.12-s20261206", clip=0.5, sa=None, tensors=None):
    return {"task": {"round": round_id, "model": {"version": version, "model_set": "field", "sha256": "0" * 64,
                                                   "size_bytes": 10, "download_url": "/x"},
                     "trainable": {"part": "head", "tensors": tensors or {"bias": [33], "weight": [96, 33]}},
                     "hyperparameters": {"local_epochs": 2, "learning_rate": 0.05, "batch_size": 16,
                                         "proximal_mu": 0.0},
                     "clip_norm": clip, "secure_aggregation": sa, "deadline": "2099-01-01T00:00:00+00:00"}}


def test_fl_requires_opt_in_and_enough_data(tmp_path, fake_server):
    from mobile.offline_queue import OfflineQueue
    from ml.runtime.classifier import load_classifier

    assert not eligible(False, True, True, True, False)
    assert eligible(True, True, True, True, False) and not eligible(True, True, False, True, False)
    assert eligible(True, False, False, False, True)
    clf = load_classifier()
    fl = FLClient(ApiClient(fake_server.url), OfflineQueue(tmp_path / "q"), lambda: clf, tmp_path / "fl.json")
    with pytest.raises(FLUnavailable) as exc:
        fl.contribute()
    assert exc.value.code == "not_opted_in"
    assert "later" in fl.set_opt_in(True)  # the server does not know the endpoint: kept locally
    assert fl.prefs.opted_in and not fl.prefs.enrolled_on_server
    _enroll_routes(fake_server)
    fake_server.routes[("GET", "/api/v1/fl/task")] = lambda h: (200, {"task": None, "reason": "no_round"})
    with pytest.raises(FLUnavailable) as exc:
        fl.contribute()
    assert exc.value.code == "no_task" and fl.prefs.enrolled_on_server  # enrolment sent before the task
    assert json.loads(fake_server.requests[-2][3]) == {"opted_in": True}
    fake_server.routes[("GET", "/api/v1/fl/task")] = lambda h: (200, _task())
    with pytest.raises(FLUnavailable) as exc:
        fl.contribute()
    assert exc.value.code == "too_few" and fl.prefs.last_contributed is None
    fake_server.routes[("GET", "/api/v1/fl/task")] = lambda h: (200, _task(version="other-model"))
    with pytest.raises(FLUnavailable) as exc:
        fl.contribute()
    assert exc.value.code == "model_mismatch"
    fake_server.routes[("GET", "/api/v1/fl/task")] = lambda h: (200, _task(tensors={"weight": [3, 3]}))
    with pytest.raises(FLUnavailable) as exc:
        fl.contribute()
    assert exc.value.code == "bad_task"


def test_fl_trains_the_head_on_accepted_takes_and_uploads_a_clipped_update(tmp_path, fake_server):
    from mobile.offline_queue import OfflineQueue
    from ml.runtime.classifier import load_classifier
    from ml.runtime.federated.codec import decode, l2_norm

    q = OfflineQueue(tmp_path / "q")
    for i, (name, label) in enumerate([("XC173620_adelaides_warbler.ogg", "Adelaide's Warbler"),
                                       ("XC32051_bananaquit.ogg", "Bananaquit")]):
        key = f"dc-fl-000{i}"
        q.add(key, (AUDIO / name).read_bytes(), {"identification": {"label": label},
                                                 "segment": {"start_s": 0.0, "end_s": 6.0}}, "ogg")
        q.claim(key)
        q.mark_sent(key, f"r{i}")
        q.apply_server_status(f"r{i}", "accepted")
    _enroll_routes(fake_server)
    fake_server.routes[("GET", "/api/v1/fl/task")] = lambda h: (200, _task())
    fake_server.routes[("POST", "/api/v1/fl/updates")] = lambda h: (201, {"accepted": True, "round": 7})
    clf = load_classifier()
    fl = FLClient(ApiClient(fake_server.url), q, lambda: clf, tmp_path / "fl.json")
    fl.set_opt_in(True)
    outcome = fl.contribute()
    assert outcome.status == "sent" and outcome.answer == {"accepted": True, "round": 7}
    body = json.loads(fake_server.requests[-1][3])
    head = clf.head()
    update = decode(body["update"], {k: v.shape for k, v in head.items()})
    assert body["round"] == 7 and body["n_examples"] == 6 and body["model_version"] == clf.version
    assert 0 <= body["val_error"] <= 1 and body["train_loss"] > 0 and 0 < l2_norm(update) <= 0.5 * 1.02
    assert b"RIFF" not in fake_server.requests[-1][3] and b"OggS" not in fake_server.requests[-1][3]
    assert "Last contributed" in FLClient(None, q, None, tmp_path / "fl.json").last_contributed_text()
