"""Start the real Kivy app in this process (under Xvfb), walk every screen, save screenshots and
check the layout: no text cut off, no sibling widgets overlapping, nothing outside the window, no
stock (unthemed) Kivy widget on screen.

The first steps run offline (record → mark → identify → queue). The map, the artistic mix, the
identification game and the record's edit/withdraw then talk to a small local HTTP server
(``tests/mobile/fakeserver.py``) that answers in the API's shapes; what the screens did is reported
(details opened with a clip played, points earned, a withdrawn take gone from queue and history).

Usage: python tests/mobile/ui_walk.py WIDTH HEIGHT OUT_DIR DATA_DIR  (prints one JSON line)
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
W, H, OUT, DATA = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
OUT.mkdir(parents=True, exist_ok=True)
T0 = time.perf_counter()

from kivy.config import Config  # noqa: E402

Config.set("graphics", "width", str(W))
Config.set("graphics", "height", str(H))
Config.set("graphics", "resizable", "0")
Config.set("input", "mouse", "mouse,disable_multitouch")

from kivy.clock import Clock  # noqa: E402
from kivy.core.window import Window  # noqa: E402
from kivy.uix.label import Label  # noqa: E402
from kivy.uix.floatlayout import FloatLayout  # noqa: E402  (RelativeLayout and Screen are FloatLayouts)
from kivy.uix.layout import Layout  # noqa: E402
from kivy.uix.screenmanager import ScreenManager  # noqa: E402
from kivy.uix.scrollview import ScrollView  # noqa: E402

from mobile.api import Connectivity  # noqa: E402
from mobile.services.audio_out import CapturingAudioOut  # noqa: E402
from mobile.services.factory import Services  # noqa: E402
from mobile.services.location import SimulatedWalk  # noqa: E402
from mobile.services.microphone import FileMicrophone  # noqa: E402
from mobile.services.secure_store import MemorySecureStore  # noqa: E402
from mobile.ui.app import DawnChorusApp  # noqa: E402
from tests.mobile.walk_server import CLIP_PLAYS, fake_api  # noqa: E402

STOCK = {"Button", "ToggleButton", "Spinner", "SpinnerOption", "Slider", "Switch", "ProgressBar", "TextInput",
         "CheckBox"}
problems: list[str] = []
behaviour: dict = {}
shots: list[str] = []
timings: dict[str, float] = {}


def visible(w) -> bool:
    while w is not None:
        if getattr(w, "opacity", 1) == 0 or w.width <= 0 or w.height <= 0:
            return False
        w = w.parent if w.parent is not w else None
    return True


def check(widget, screen: str) -> None:
    """Recursive layout checks on the visible widget tree."""
    in_scroll = False
    p = widget.parent
    while p is not None and p is not p.parent:
        if isinstance(p, ScrollView):
            in_scroll = True
            break
        p = p.parent
    if isinstance(widget, Label) and widget.text and visible(widget):
        widget.texture_update()
        tw, th = widget.texture_size
        if tw > widget.width + 2 or th > widget.height + 2:
            problems.append(f"{screen}: text cut off ({tw}x{th} in {widget.width:.0f}x{widget.height:.0f}): "
                            f"{widget.text[:40]!r}")
    if type(widget).__name__ in STOCK and visible(widget):
        problems.append(f"{screen}: a stock {type(widget).__name__} ({getattr(widget, 'text', '')[:30]!r})")
    if visible(widget) and not in_scroll:
        x, y = widget.to_window(widget.x, widget.y)
        if x < -1 or x + widget.width > Window.width + 1 or (y < -1 or y + widget.height > Window.height + 1):
            problems.append(f"{screen}: {type(widget).__name__} outside the window")
    if isinstance(widget, Layout) and not isinstance(widget, (FloatLayout, ScreenManager)):
        kids = [c for c in widget.children if visible(c)]
        for i, a in enumerate(kids):
            for b in kids[i + 1:]:
                if a.x < b.right - 1 and b.x < a.right - 1 and a.y < b.top - 1 and b.y < a.top - 1:
                    problems.append(f"{screen}: {type(a).__name__} overlaps {type(b).__name__} in "
                                    f"{type(widget).__name__}")
    for child in widget.children:
        check(child, screen)


walk = SimulatedWalk()
services = Services(FileMicrophone(ROOT / "fixtures/audio/XC173620_adelaides_warbler.ogg"), walk, walk,
                    CapturingAudioOut(), MemorySecureStore())
services.secure_store.set("api_token", "offline-test-token")
services.secure_store.set("username", "robin")
server = fake_api(walk.lat0, walk.lng0)
app = DawnChorusApp(data_dir=DATA, server_url=server.url, services=services)
app.synchronous = True


def relayout(widget) -> None:
    for child in widget.children:
        relayout(child)
    if isinstance(widget, Layout) and "Recycle" not in type(widget).__name__:
        widget.do_layout()


def shot(name: str) -> None:
    relayout(app.root)
    relayout(app.root)
    check(app.root, name)
    path = OUT / f"{W}x{H}_{name}.png"
    Clock.schedule_once(lambda _dt: save_png(path), 0.6)  # after the next frames are drawn


def save_png(path: Path) -> None:
    sm = app.root.ids.sm
    if os.environ.get("WALK_DEBUG"):
        print("DBG", path.name, sm.pos, sm.size, sm.current_screen.pos, sm.current_screen.size, sm.current_screen.parent is sm, flush=True)
    Window.screenshot(name=str(path))
    produced = sorted(OUT.glob(path.stem + "*.png"), key=lambda p: p.stat().st_mtime)[-1]
    produced.replace(path)
    shots.append(path.name)


def step_login():
    app.client.set_online(False)
    app.refresh_status()
    app.root.go("login")


def step_setup():
    app.root.go("setup")
    app.root.ids.sm.get_screen("setup").download()  # offline: explains, keeps the shipped model


def step_record():
    app.root.go("record")
    timings["cold_start_to_record_s"] = time.perf_counter() - T0
    scr = app.root.ids.sm.get_screen("record")
    scr.set_gain(6)
    app.client.start_recording()  # the file mic pumps the whole clip now
    scr.recording = True
    app.client.recorder.mic.finished.clear()  # the file was pumped at once; show the live view
    scr.update_live()


def step_mark():
    scr = app.root.ids.sm.get_screen("record")
    scr.stop()
    mark = app.client.mark
    app.root.ids.sm.get_screen("mark").ids.waveform.selection = list(mark.select(1.0, 4.0))


def step_identify():
    app.root.ids.sm.get_screen("mark").identify()


def step_queue():
    scr = app.root.ids.sm.get_screen("identify")
    behaviour["licence_default"] = scr.ids.licence.licence
    scr.ids.licence.chips["cc-by-4.0"].trigger_action(0)  # the player's tap on a licence chip
    scr.save()
    behaviour["queued"] = [(it.label, it.state) for it in app.client.queue.items()]
    behaviour["queued_licence"] = [it.metadata.get("license") for it in app.client.queue.items()]


def step_record_detail():
    """Open the queued take from My finds, change its label and notes (saved in the queue)."""
    finds = app.root.ids.sm.get_screen("queue")
    finds.open(finds.entries[0].key)
    detail = app.root.ids.sm.get_screen("record_detail")
    detail.ids.picker.text = "Bananaquit"
    detail.ids.notes.text = "Two birds in the canopy"
    behaviour["detail_licence"] = [detail.ids.licence.licence, detail.can_set_licence]
    item = app.client.queue.items()[0]
    behaviour["before_edit"] = [item.label, item.metadata.get("notes", "")]


def step_map():
    app.root.ids.sm.get_screen("record_detail").save()
    item = app.client.queue.items()[0]
    behaviour["after_edit"] = [item.label, item.metadata.get("notes", "")]
    app.client.set_online(True)
    app.root.go("map")
    scr = app.root.ids.sm.get_screen("map")
    m = scr.ids.frame.map
    m.show(walk.lat0, walk.lng0, 14)
    Clock.schedule_once(lambda _dt: tap_first_point(scr), 0.3)


def tap_first_point(scr) -> None:
    """A real tap (down + up at the same spot) on the drawn dot of observation 7."""
    from kivy.input.motionevent import MotionEvent

    m = scr.ids.frame.map
    m.overlay.reposition()
    hit = next(((x, y) for x, y, c in m.drawn if 7 in c.ids), None)
    behaviour["map_points"] = len(m.points)
    behaviour["map_cells"] = len(m.cells)
    behaviour["map_areas"] = len(m.areas)
    if hit is None:
        problems.append("map: observation 7 is not drawn")
        return
    before = len(CLIP_PLAYS)
    m.tap(*hit)
    scr.play_detail()
    behaviour["map_detail"] = [scr.detail_title, scr.has_clip, len(CLIP_PLAYS) - before,
                               len(services.audio_out.played) if hasattr(services.audio_out, "played") else -1]


def step_tiles_offline():
    """A configured tile server that is unreachable: said in words, the offline basemap takes over."""
    from mobile.ui.map_sources import OfflineTiles, UrlTiles

    m = app.root.ids.sm.get_screen("map").ids.frame.map
    app.root.ids.sm.get_screen("map").close_detail()
    m.map_source = UrlTiles("http://127.0.0.1:9/{z}/{x}/{y}.png", m._tiles_failed, cache_dir=m.cache_dir,
                            cache_key="walk-offline", min_zoom=3, max_zoom=18)
    m.remove_all_tiles()
    m.trigger_update(True)
    Clock.schedule_once(lambda _dt: behaviour.__setitem__(
        "tiles_offline", [app.root.ids.sm.get_screen("map").tiles_notice, isinstance(m.map_source, OfflineTiles)]),
        0.35)


def step_soundscape():
    app.root.go("soundscape")
    scr = app.root.ids.sm.get_screen("soundscape")
    scr.pick_day(scr.days[1])
    scr.pick_source("Artistic mix")
    before = len(CLIP_PLAYS)
    scr.toggle()  # the one Play button: fetches the spec, then the day's mix of the busiest cell
    behaviour["mix"] = [scr.playing, scr.message, len(CLIP_PLAYS) - before]


def step_game():
    app.root.go("game")


PROFILE = {"player": 1, "name": "robin", "xp": 340, "level": 3, "title": "Song Sleuth", "next_level_xp": 600,
           "unlocked_scenarios": ["quiz", "hunt", "timetravel"], "team": {"id": 4, "name": "El Yunque Owls"},
           "badges": [{"slug": "first-find", "name": "First find"}, {"slug": "early-bird", "name": "Early bird"},
                      {"slug": "ten-species", "name": "Ten species"}],
           "streaks": {"daily_recording": 4, "adopt_best": 0}}
BOARD = {"board": "alltime", "size": 212, "me": {"rank": 37, "score": 340, "percentile": 82.5, "band": "top 20%"},
         "top": [{"rank": 1, "player": 9, "score": 2210, "name": "coqui_fan"},
                 {"rank": 2, "player": 3, "score": 1985, "name": "maria.birds"},
                 {"rank": 3, "player": 12, "score": 1710, "name": "a_very_long_player_name_indeed"}],
         "around": [{"rank": r, "player": 100 + r, "score": 380 - 8 * (r - 32), "name": "robin" if r == 37 else f"p{r}"}
                    for r in range(32, 43)]}
QUESTS = [{"id": 1, "title": "Dawn chorus week", "target_count": 10, "progress": {"count": 6, "completed": False}},
          {"id": 2, "title": "Find three warblers in El Yunque before Sunday", "target_count": 3,
           "progress": {"count": 3, "completed": True}}]


def step_game():
    app.client.set_online(False)
    app.root.go("game")
    scr = app.root.ids.sm.get_screen("game")
    scr.message = ""
    scr.show_profile(PROFILE)  # offline here: the server's shapes, as the game API returns them
    scr.show_board(BOARD)
    scr.show_quests(QUESTS)
    # realtime: the board on screen changed (it is followed on the events socket), a quest is done
    app.on_event({"type": "leaderboard.changed", "board": "alltime", "changes": [{"player": 9, "score": 2300}]})
    app.on_event({"type": "quest.progress", "quest": {"id": 2, "title": "Find three warblers"}, "count": 3,
                  "target": 3, "completed": True})
    behaviour["live"] = [scr.board_id, sorted(app.client.followed_boards), scr.live, app.banner]


def step_quiz():
    from mobile.game import QuizState

    app.root.go("quiz")
    app.root.ids.sm.get_screen("quiz").show(QuizState(
        session="s", question={"id": "q", "audio_url": "/a", "choices": [
            "Puerto Rican Spindalis", "Bananaquit", "Adelaide's Warbler", "Pearly-eyed Thrasher"]},
        answered=2, correct=1, points=5, feedback="Correct! +5 points"))


def step_hunt():
    app.client.set_online(False)
    scr = app.root.ids.sm.get_screen("scenario")
    scr.kind = "hunt"
    app.root.go("scenario")
    Clock.schedule_once(lambda _dt: show_hunt(scr), 0.2)  # after on_enter's refresh (offline: an empty hunt)


def show_hunt(scr) -> None:
    lat, lng = walk.lat0, walk.lng0
    scr.show({"id": 3, "species": "Bananaquit", "active": True, "seconds_left": 2514, "score": 2, "min_spacing_m": 200,
              "finds": [{"observation": 5, "lat": lat + 0.002, "lng": lng + 0.001},
                        {"observation": 6, "lat": lat - 0.001, "lng": lng + 0.004}],
              "others": [{"lat": lat + 0.003 * i % 0.01 - 0.004, "lng": lng - 0.002 * i % 0.008 + 0.003}
                         for i in range(1, 9)]})


def step_timetravel():
    scr = app.root.ids.sm.get_screen("scenario")
    scr.kind = "timetravel"
    scr.refresh()
    lat, lng = walk.lat0, walk.lng0
    scr.show({"species": "Adelaide's Warbler", "step": 2, "total": 5, "radius_m": 50, "completed": False,
              "waypoints": [{"index": i, "lat": lat + 0.0015 * i, "lng": lng + 0.001 * (i % 2), "year": 2015 + 2 * i,
                             "unlocked": i < 2} for i in range(5)]})


def step_community():
    app.client.set_online(True)
    app.root.go("community")
    scr = app.root.ids.sm.get_screen("community")
    scr.refresh()  # loads others' recordings that need an identification (on_enter comes a frame later)
    first = scr.species
    scr.listen()
    scr.vote("audible", True)
    scr.agree()  # +10 XP on the server's profile: the screen shows the points earned
    behaviour["community"] = [first, scr.species, scr.ctl.state.points, scr.ctl.state.identified, scr.progress]


def step_learn():
    app.client.set_online(False)
    app.root.go("learn")


TEAMS = [{"id": 4, "name": "El Yunque Owls", "max_members": 8, "size": 3,
          "members": [{"player": 1, "name": "robin"}, {"player": 9, "name": "coqui_fan"},
                      {"player": 3, "name": "maria.birds"}]},
         {"id": 5, "name": "Coquí Chorus of the Eastern Karst Hills and Valleys", "max_members": 6, "size": 6},
         {"id": 6, "name": "Dawn Patrol", "max_members": 8, "size": 2}]


def step_teams():
    scr = app.root.ids.sm.get_screen("teams")
    app.root.go("teams")
    Clock.schedule_once(lambda _dt: scr.show(PROFILE, TEAMS), 0.2)  # after on_enter's (offline) refresh


def step_withdrawn():
    """Withdraw the queued take from its page (two taps): gone from the queue and from My finds."""
    app.root.ids.sm.get_screen("queue").open(app.client.queue.items()[0].key)
    detail = app.root.ids.sm.get_screen("record_detail")
    detail.withdraw()
    detail.withdraw()
    finds = app.root.ids.sm.get_screen("queue")
    Clock.schedule_once(lambda _dt: behaviour.__setitem__("withdrawn", [
        len(app.client.queue.items()), len(finds.entries), app.root.ids.sm.current, finds.empty_text]), 0.3)


UPLOADED = {"id": "rec-9", "status": "accepted", "license": "cc-by-nc-4.0", "notes": "", "claimed_species": "Bananaquit",
            "recorded_at": "2026-12-05T06:10:00Z", "location": {"lat": walk.lat0 + 0.002, "lng": walk.lng0},
            "observation": {"id": 55, "species": "Bananaquit", "status": "research"}}


def step_record_licence():
    """An uploaded, analysed record from the server: its page shows its licence; the player taps CC0."""
    server.routes[("GET", "/api/v1/recordings/")] = lambda h: (200, {"count": 1, "next": None, "results": [UPLOADED]})
    server.routes[("PATCH", "/api/v1/observations/55/terms/")] = lambda h: (200, {"id": 55})
    from mobile.history import History

    app.client.set_online(True)
    app.refresh_status()
    entries, note = History(app.client.api, app.client.queue).entries(True)
    entry = next((e for e in entries if e.recording_id == "rec-9"), None)
    if entry is None:
        raise RuntimeError(f"the uploaded record is not in the history: {note} {entries}")
    detail = app.root.ids.sm.get_screen("record_detail")
    detail.entry = None
    detail.entry = entry
    app.root.go("record_detail")
    behaviour["uploaded_licence"] = [detail.ids.licence.licence, detail.can_set_licence]
    detail.ids.licence.chips["cc0-1.0"].trigger_action(0)


def step_licence_saved():
    """Save: the new licence goes to the observation's terms."""
    app.root.ids.sm.get_screen("record_detail").save()
    patches = [(path, json.loads(body)) for method, path, _auth, body in server.requests if method == "PATCH"]
    behaviour["terms_patch"] = patches


STEPS = [("login", step_login), ("setup", step_setup), ("record", step_record), ("mark", step_mark),
         ("identify", step_identify), ("queue", step_queue), ("record_detail", step_record_detail),
         ("map", step_map), ("tiles_offline", step_tiles_offline), ("soundscape", step_soundscape),
         ("game", step_game), ("quiz", step_quiz), ("community", step_community), ("hunt", step_hunt),
         ("timetravel", step_timetravel), ("learn", step_learn), ("teams", step_teams),
         ("withdrawn", step_withdrawn), ("record_licence", step_record_licence),
         ("licence_saved", step_licence_saved)]
state = {"i": 0}


def run_step(_dt):
    i = state["i"]
    if i >= len(STEPS):
        print(json.dumps({"shots": shots, "problems": problems, "timings": timings, "behaviour": behaviour,
                          "screen": app.root.ids.sm.current}), flush=True)
        server.close()
        app.stop()
        return
    name, fn = STEPS[i]
    try:
        fn()
    except Exception as exc:  # noqa: BLE001
        problems.append(f"{name}: step failed: {exc!r}")
    Clock.schedule_once(lambda _dt: (shot(name), state.__setitem__("i", i + 1), Clock.schedule_once(run_step, 1.0)),
                        0.4)


Clock.schedule_once(run_step, 0.5)
app.run()
