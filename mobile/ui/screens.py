"""Screen classes: thin glue between kv layouts and :class:`mobile.controller.FieldClient`."""
from __future__ import annotations


from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import NoTransition

from mobile import dsp, permissions
from mobile.controller import UserError
from mobile import game
from mobile.game import GameClient, QuizController, board_name, quest_fraction, xp_progress
from mobile.identify import display_name
from mobile.offline_queue import ACCEPTED
from mobile.observation_view import percent
from mobile.ui.common import DawnScreen, app, message_of
from mobile.ui.species_card import card_for, fetch_pictures
from mobile.ui.map_screen import MapScreen  # noqa: F401 - registered for root.kv
from mobile.ui.listen import SoundscapeScreen  # noqa: F401 - registered for root.kv
from mobile.ui.finds import QueueScreen, RecordDetailScreen  # noqa: F401 - registered for root.kv
from mobile.ui.community import CommunityScreen  # noqa: F401 - registered for root.kv
from mobile.ui.licence_picker import DEFAULT_LICENCE, LicencePicker  # noqa: F401 - registered for the kv files

NAV = ("record", "queue", "map", "soundscape", "game")


class RootLayout(BoxLayout):
    show_nav = BooleanProperty(False)

    def go(self, name: str) -> None:
        sm = self.ids.sm
        if not isinstance(sm.transition, NoTransition):
            sm.transition = NoTransition()
        if sm.transition.is_active:  # a switch in the same frame: finish it first
            sm.transition.stop()
        sm.current = name
        self.show_nav = name not in ("login", "setup")

    def refresh_current(self) -> None:
        screen = self.ids.sm.current_screen
        if hasattr(screen, "refresh"):
            screen.refresh()


# --- onboarding ---------------------------------------------------------------------------
class LoginScreen(DawnScreen):
    def submit(self, register: bool) -> None:
        c = app().client
        user, pw = self.ids.username.text, self.ids.password.text

        def done(_):
            self.message = ""
            app().client.start_realtime()
            app().root.go("setup")

        self.message = "Creating your account…" if register else "Signing in…"
        app().run_bg(lambda: (c.register if register else c.login)(user, pw), done,
                     lambda e: setattr(self, "message", message_of(e)))


class SetupScreen(DawnScreen):
    region_key = StringProperty("pr")
    permissions_text = StringProperty("")
    busy = BooleanProperty(False)

    def download(self) -> None:
        c = app().client
        region = next(r for r in c.regions if r.key == self.region_key)
        self.busy, self.message = True, f"Downloading the species pack and model for {region.name}…"

        def done(lines):
            self.busy = False
            self.message = ("You are offline: the species list and model that came with the app are used. "
                            "Download again when you are online.") if not c.online else "\n".join(lines)
            if c.online:  # the pack's pictures, once, for the species cards (kept for offline use)
                app().run_bg(lambda: fetch_pictures(c), lambda n: None, lambda e: None)

        app().run_bg(lambda: c.choose_region(region), done,
                     lambda e: (setattr(self, "busy", False), setattr(self, "message", message_of(e))))

    def allow(self) -> None:
        """Ask Android for the microphone and location (the explanation is on this screen)."""
        def done(result):
            self.permissions_text = permissions.denied_message(result) or "Microphone and location allowed."

        permissions.request(lambda result: Clock.schedule_once(lambda _dt: done(result)))

    def finish(self) -> None:
        c = app().client
        if c.models.region() is None:
            c.models.set_region(next(r for r in c.regions if r.key == self.region_key))
        missing = permissions.denied_message(permissions.granted_now())
        if missing:
            self.permissions_text = missing
            self.allow()
        app().root.go("record")


# --- record / mark / identify -------------------------------------------------------------
class RecordScreen(DawnScreen):
    recording = BooleanProperty(False)
    elapsed = StringProperty("0.0 s")
    gain_db = NumericProperty(0.0)
    rms_db = NumericProperty(dsp.DB_FLOOR)
    peak_db = NumericProperty(dsp.DB_FLOOR)
    gps_text = StringProperty("")
    channels_text = StringProperty("")
    _event = None

    def refresh(self) -> None:
        c = app().client
        self.channels_text = "Binaural (stereo headset)" if c.recorder.binaural else "Mono"
        try:
            fix = c.services.location.current()
            self.gps_text = f"GPS ±{fix.accuracy_m:.0f} m"
        except Exception as exc:  # noqa: BLE001 - ServiceUnavailable
            self.gps_text = "No GPS yet"
            self.message = message_of(exc)

    def set_gain(self, value: float) -> None:
        self.gain_db = app().client.recorder.set_gain(value)

    def toggle(self) -> None:
        c = app().client
        if not self.recording:
            self.message = ""
            try:
                c.start_recording()
            except Exception as exc:  # noqa: BLE001 - microphone trouble
                self.message = message_of(exc)
                return
            self.recording = True
            self._event = Clock.schedule_interval(self.update_live, 1 / 15)
            return
        self.stop()

    def stop(self) -> None:
        c = app().client
        if self._event is not None:
            self._event.cancel()
            self._event = None
        self.recording = False
        try:
            c.stop_recording()
        except UserError as exc:
            self.message = exc.message
            return
        app().root.go("mark")

    def discard(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None
        self.recording = False
        app().client.discard()
        self.elapsed, self.rms_db, self.peak_db = "0.0 s", dsp.DB_FLOOR, dsp.DB_FLOOR
        self.message = "Recording discarded."

    def update_live(self, _dt=None) -> None:
        rec = app().client.recorder
        self.rms_db, self.peak_db = rec.level
        self.elapsed = f"{rec.elapsed_s:.1f} s"
        recent = rec.recent(3.0)
        if recent.size > 512:
            self.ids.spectrogram.show(dsp.spectrogram_db(recent, rec.sample_rate, n_fft=256, hop=256))
        if rec.clipping:
            self.message = "Too loud: lower the input gain."
        if rec.full or (hasattr(rec.mic, "finished") and rec.mic.finished.is_set() and rec.recording):
            self.stop()


class MarkScreen(DawnScreen):
    selection_text = StringProperty("")

    def refresh(self) -> None:
        mark = app().client.mark
        self.ids.waveform.controller = mark
        if mark is not None:
            self.show(mark.start_s, mark.end_s)
            self.ids.waveform.redraw()

    def show(self, a: float, b: float) -> None:
        mark = app().client.mark
        self.selection_text = f"Selected {a:.1f}–{b:.1f} s of {mark.take.duration_s:.1f} s" if mark else ""

    def play(self) -> None:
        if app().client.mark is not None:
            app().client.mark.play_selection()

    def identify(self) -> None:
        self.message = "Identifying…"

        def done(_):
            self.message = ""
            app().root.go("identify")

        app().run_bg(app().client.identify, done, lambda e: setattr(self, "message", message_of(e)))

    def back(self) -> None:
        app().client.discard()
        app().root.go("record")


class IdentifyScreen(DawnScreen):
    species = StringProperty("")
    scientific = StringProperty("")
    confidence_text = StringProperty("")
    description = StringProperty("")
    card_source = ObjectProperty(None, allownone=True)
    card_credit = StringProperty("")
    verdicts = ListProperty([])  # [(text, colour)]
    alternatives = ListProperty([])  # [(label, text)]
    choice = StringProperty("")

    def refresh(self) -> None:
        c = app().client
        ident = c.identification
        if ident is None:
            return
        pack = c.models.species_pack()
        self.choice = ident.label
        self.ids.licence.licence = DEFAULT_LICENCE  # each new take starts at the default licence
        self.species = display_name(ident.label, pack)
        entry = pack.get(ident.label, {})
        self.scientific = entry.get("scientific_name", "")
        self.description = entry.get("description", "") if ident.label != "unknown" else \
            "The model is not sure. Pick a species below if you know it, or save it as unknown."
        self.show_card(ident.label)
        self.confidence_text = f"{ident.confidence:.0%} confident · model {ident.model_version}"
        self.verdicts = [(f"{v.title}: {v.message}", "reject" if v.severity == "reject" else "warn")
                         for v in ident.verdicts] or [("Quality checks passed.", "ok")]
        self.alternatives = [(lab, f"{display_name(lab, pack)} · {percent(p)}") for lab, p in ident.alternatives[:3]
                             if p >= 0.01]
        self.ids.picker.values = [name for _lab, name in c.species_choices()]
        box = self.ids.verdict_box
        box.clear_widgets()
        for text, colour in self.verdicts:
            label = Factory.VerdictLabel()
            label.colour, label.text = colour, text
            box.add_widget(label)
        alts = self.ids.alt_box
        alts.clear_widgets()
        for lab, text in self.alternatives:
            alts.add_widget(Factory.SoftButton(text=text, on_release=lambda _b, lab=lab: self.pick(lab)))

    def pick_name(self, name: str) -> None:
        for lab, disp in app().client.species_choices():
            if disp == name:
                self.pick(lab)

    def show_card(self, label: str) -> None:
        """The species' picture, else a sonogram of the marked segment."""
        c = app().client
        mark = c.mark
        audio = None
        if mark is not None:
            sr = mark.take.sample_rate
            audio = (mark.take.samples[int(mark.start_s * sr):int(mark.end_s * sr)], sr)
        self.card_source, self.card_credit = card_for(label, c.models.species_pack(), c.data_dir, audio)

    def pick(self, label: str) -> None:
        self.choice = label
        pack = app().client.models.species_pack()
        self.species = display_name(label, pack)
        self.scientific = (pack.get(label) or {}).get("scientific_name", "")
        self.show_card(label)
        self.message = f"You chose {self.species}."

    def save(self, label: str | None = None) -> None:
        try:
            item = app().client.save(label or self.choice, licence=self.ids.licence.licence)
        except UserError as exc:
            self.message = exc.message
            return
        app().say(f"Saved: {display_name(item.label, app().client.models.species_pack())}. It uploads when online.")
        app().refresh_status()
        app().tick()
        app().root.go("queue")


# --- game ---------------------------------------------------------------------------------
class GameScreen(DawnScreen):
    level_text = StringProperty("Level –")
    xp_fraction = NumericProperty(0.0)
    xp_text = StringProperty("")
    badges_text = StringProperty("")
    streak_text = StringProperty("")
    board_summary = StringProperty("")
    board_rows = ListProperty([])
    quest_rows = ListProperty([])
    board = StringProperty("Around me")
    board_id = StringProperty("")  # the server's name of the board on screen
    live = BooleanProperty(False)  # a leaderboard.changed arrived for it
    notify_on = BooleanProperty(False)  # "quest done" / "new species nearby" notifications (opt-in)
    profile = ObjectProperty({}, allownone=True)
    _reload = None

    @property
    def game(self) -> GameClient:
        return GameClient(app().client.api)

    def refresh(self) -> None:
        self.notify_on = app().client.notifier.enabled
        app().run_bg(self.game.profile, self.show_profile, lambda e: setattr(self, "message", message_of(e)))

    def set_notify(self, on: bool) -> None:
        self.message = app().client.set_notifications(on)
        self.notify_on = app().client.notifier.enabled

    def show_profile(self, profile: dict) -> None:
        self.profile = profile
        self.level_text = f"Level {profile.get('level', '?')} · {profile.get('title', '')}"
        self.xp_fraction = xp_progress(profile)
        self.xp_text = game.xp_text(profile)
        self.badges_text = game.badges_text(profile)
        self.streak_text = game.streak_text(profile)
        self.load_board(self.board)
        self.load_quests()

    def load_board(self, choice: str) -> None:
        self.board = choice
        c = app().client
        cell = ""
        if choice == "Local":
            try:
                fix = c.services.location.current()
                cell = self.game.area_cell(fix.lat, fix.lng)  # the server names the cell (no H3 on phones)
            except Exception as exc:  # noqa: BLE001 - GPS unavailable
                self.board_summary, self.board_rows = message_of(exc), []
                return
        team = ((self.profile or {}).get("team") or {}).get("id")
        name = board_name(choice, cell=cell, team=team)
        if name is None:
            self.board_rows = []
            self.board_summary = ("Join a team to see its board." if choice == "Team"
                                  else "The local board needs your position.")
            return
        self.board_id, self.live = name, False
        app().client.follow_board(name)
        app().run_bg(lambda: self.game.leaderboard(name), self.show_board,
                     lambda e: (setattr(self, "board_rows", []), setattr(self, "board_summary", message_of(e))))

    def show_board(self, data: dict) -> None:
        self.board_summary = game.board_summary(data)
        self.board_rows = game.board_rows(data)[:14]

    def on_realtime(self, message: dict) -> None:
        """Realtime news for this screen: the board on screen changed, or a quest moved on. The board is
        read again (at most once a second), so ranks stay the server's."""
        if message.get("type") == "quest.progress":
            self.load_quests()
            return
        if message.get("board") != self.board_id:
            return
        self.live = True
        if self._reload is None:
            def reload(_dt):
                self._reload = None
                name = self.board_id
                app().run_bg(lambda: self.game.leaderboard(name), self.show_board, lambda e: None)

            self._reload = Clock.schedule_once(reload, 1.0)

    def load_quests(self) -> None:
        app().run_bg(self.game.quests, self.show_quests, lambda e: setattr(self, "message", message_of(e)))

    def show_quests(self, quests: list[dict]) -> None:
        self.quest_rows = [{"title": ("Done: " if (q.get("progress") or {}).get("completed") else "")
                            + game.quest_label(q), "fraction": quest_fraction(q)} for q in quests[:8]]
        box = self.ids.quests
        box.clear_widgets()
        for row in self.quest_rows or [{"title": "No quests running right now.", "fraction": 0}]:
            widget = Factory.QuestRow()
            widget.title, widget.fraction = row["title"], row["fraction"]
            box.add_widget(widget)

    def open_scenario(self, kind: str) -> None:
        if self.profile and kind in game.SCENARIOS and not game.unlocked(self.profile, kind) and kind != "quiz":
            need = {"hunt": 2, "timetravel": 3, "adopt": 4}.get(kind, 1)
            self.message = f"{game.SCENARIOS[kind]} unlocks at level {need}."
            return
        if kind in ("quiz", "community"):
            app().root.go(kind)
            return
        screen = app().root.ids.sm.get_screen("scenario")
        screen.kind = kind
        app().root.go("scenario")


class QuizScreen(DawnScreen):
    """Four large answer buttons; the server checks the answer."""

    choices = ListProperty(["", "", "", ""])
    progress_text = StringProperty("")
    feedback = StringProperty("")
    active = BooleanProperty(False)
    _quiz = None

    @property
    def quiz(self) -> QuizController:
        if self._quiz is None:
            self._quiz = QuizController(GameClient(app().client.api))
        return self._quiz

    def refresh(self) -> None:
        if not self.active:
            self.start()

    def show(self, st) -> None:
        self.active = st.question is not None
        self.choices = (st.choices + ["", "", "", ""])[:4]
        self.feedback = st.feedback
        self.progress_text = f"Question {st.answered + 1} · {st.correct} right · {st.points} points" \
            if self.active else f"{st.correct} of {st.answered} right · {st.points} points"

    def start(self) -> None:
        self.feedback = "Starting a quiz…"
        app().run_bg(self.quiz.start, self.show,
                     lambda e: (setattr(self, "active", False), setattr(self, "feedback", message_of(e))))

    def listen(self) -> None:
        q = self.quiz.state.question or {}
        if not q.get("audio_url"):
            return

        def done(data):
            from ml.runtime.audio import decode

            samples, sr = decode(data)
            app().client.services.audio_out.play(samples, sr)

        app().run_bg(lambda: self.quiz.game.quiz_audio(q["audio_url"]), done,
                     lambda e: setattr(self, "feedback", message_of(e)))

    def answer(self, index: int) -> None:
        choice = self.choices[index]
        if not choice or not self.active:
            return
        self.active = False  # one answer per question: no double taps
        app().run_bg(lambda: self.quiz.answer(choice), self.show,
                     lambda e: (setattr(self, "active", True), setattr(self, "feedback", message_of(e))))


class ScenarioScreen(DawnScreen):
    """Treasure hunt, time travel and adopt-a-bird on the canvas map."""

    kind = StringProperty("hunt")
    title = StringProperty("")
    summary = StringProperty("")
    species = StringProperty("Bananaquit")
    data = ObjectProperty({}, allownone=True)
    action_text = StringProperty("")

    @property
    def game(self) -> GameClient:
        return GameClient(app().client.api)

    def refresh(self) -> None:
        c = app().client
        if c.identification is not None:
            self.species = c.identification.label
        self.title = game.SCENARIOS.get(self.kind, "")
        self.action_text = {"hunt": "Start a 60-minute hunt", "timetravel": "Check in here",
                            "adopt": "Adopt here"}.get(self.kind, "")
        self.summary, self.data = "", {}
        m = self.ids.frame.map
        m.points, m.me, m.route = [], [], []
        loader = {"hunt": self._load_hunt, "timetravel": lambda: self.game.time_travel(self.species),
                  "adopt": self._load_adoption}[self.kind]
        app().run_bg(loader, self.show, lambda e: setattr(self, "summary", message_of(e)))

    def _load_hunt(self) -> dict:
        hunt_id = app().client.store.get("hunt_id")
        if hunt_id:
            try:
                return self.game.hunt(int(hunt_id))
            except Exception:  # noqa: BLE001 - a stale id: start afresh
                pass
        return {}

    def _load_adoption(self) -> dict:
        mine = self.game.adoptions()
        return mine[0] if mine else {}

    def show(self, data) -> None:
        self.data = data or {}
        if self.kind == "adopt" and self.data.get("id"):
            self.action_text = "Check in with my last recording"
        if not data:
            self.summary = {"hunt": f"Start a hunt for {self.species}: find it in as many places as you can.",
                            "adopt": f"Adopt {self.species} where you stand and check in every day."}.get(self.kind, "")
            return
        self.summary = game.scenario_summary(self.kind, data)
        pts = game.map_points(self.kind, data)
        m = self.ids.frame.map
        view = [(p["lat"], p["lng"]) for p in pts]
        try:
            fix = app().client.services.location.current()
            m.me = [fix.lat, fix.lng]
            view.append((fix.lat, fix.lng))
        except Exception:  # noqa: BLE001 - GPS unavailable: fit the points only
            m.me = []
        if view:
            m.fit(view, max_zoom=16)
        m.route = game.route_line(self.kind, data)
        m.points = pts

    def act(self) -> None:
        c = app().client
        try:
            fix = c.services.location.current()
        except Exception as exc:  # noqa: BLE001
            self.summary = message_of(exc)
            return
        if self.kind == "hunt":
            def started(data):
                c.store.set("hunt_id", str(data.get("id")))
                self.show(data)

            app().run_bg(lambda: self.game.start_hunt(self.species), started,
                         lambda e: setattr(self, "summary", message_of(e)))
        elif self.kind == "timetravel":
            app().run_bg(lambda: (self.game.time_travel_checkin(self.species, fix.lat, fix.lng, fix.accuracy_m),
                                  self.game.time_travel(self.species))[1], self.show,
                         lambda e: setattr(self, "summary", message_of(e)))
        else:
            adoption = self.data or {}
            last = next((i for i in reversed(c.queue.in_state(ACCEPTED))
                         if i.observation_id and i.label == adoption.get("species")), None)
            if adoption.get("id") and last is not None:
                work = lambda: (self.game.adoption_checkin(adoption["id"], int(last.observation_id)),  # noqa: E731
                                self._load_adoption())[1]
            elif adoption.get("id"):
                self.summary = "Record the bird today, then check in with that recording."
                return
            else:
                work = lambda: self.game.adopt(self.species, fix.lat, fix.lng)  # noqa: E731
            app().run_bg(work, self.show, lambda e: setattr(self, "summary", message_of(e)))


# --- teams --------------------------------------------------------------------------------
class TeamScreen(DawnScreen):
    """Create, join and leave a team (the size limit is the server's)."""

    mine_text = StringProperty("")
    rows = ListProperty([])
    team_id = NumericProperty(0)   # 0: not in a team

    @property
    def game(self) -> GameClient:
        return GameClient(app().client.api)

    def refresh(self) -> None:
        def load():
            profile = self.game.profile()
            return profile, self.game.teams()

        app().run_bg(load, lambda pt: self.show(*pt), lambda e: setattr(self, "message", message_of(e)))

    def show(self, profile: dict, teams: list[dict]) -> None:
        mine_id = ((profile or {}).get("team") or {}).get("id")
        mine = next((t for t in teams if t.get("id") == mine_id), (profile or {}).get("team"))
        self.team_id = int(mine_id or 0)
        self.mine_text = game.my_team_text(mine)
        self.rows = game.team_rows(teams, mine_id)
        box = self.ids.rows
        box.clear_widgets()
        for row in self.rows or [{"id": 0, "text": "No teams yet: start the first one.", "can_join": False}]:
            widget = Factory.TeamRow()
            widget.text, widget.team_id, widget.can_join = row["text"], row["id"], row["can_join"]
            widget.screen = self
            box.add_widget(widget)

    def create(self, name: str) -> None:
        name = (name or "").strip()
        if not name:
            self.message = "Give your team a name first."
            return
        self._do(lambda: self.game.create_team(name), f"Team “{name}” created; you are its first member.")

    def join(self, team_id: int) -> None:
        self._do(lambda: self.game.join_team(team_id), "Welcome to the team!")

    def leave(self) -> None:
        if self.team_id:
            self._do(lambda: self.game.leave_team(self.team_id), "You left the team.")

    def _do(self, work, text: str) -> None:
        def done(_):
            self.message = text
            self.refresh()

        app().run_bg(work, done, lambda e: setattr(self, "message", message_of(e)))


# --- federated learning -------------------------------------------------------------------
class LearnScreen(DawnScreen):
    opted_in = BooleanProperty(False)
    last_text = StringProperty("")
    auto_text = StringProperty("")

    @property
    def fl(self):
        return app().fl

    def refresh(self) -> None:
        self.opted_in = self.fl.prefs.opted_in
        self.last_text = self.fl.last_contributed_text()
        self.auto_text = app().auto_trainer.status_line()

    def set_opt_in(self, value: bool) -> None:
        if value == self.fl.prefs.opted_in:
            return
        app().run_bg(lambda: self.fl.set_opt_in(value), lambda text: (setattr(self, "message", text), self.refresh()),
                     lambda e: setattr(self, "message", message_of(e)))

    def contribute(self) -> None:
        self.message = "Training on your recordings…"

        def done(outcome):
            self.message = outcome.message
            self.refresh()
            if outcome.status in ("step", "waiting"):  # a secure round goes on: ask again shortly
                Clock.schedule_once(lambda _dt: self.contribute() if self.manager and
                                    self.manager.current == "learn" else None, 10)

        app().run_bg(self.fl.contribute, done, lambda e: setattr(self, "message", message_of(e)))
