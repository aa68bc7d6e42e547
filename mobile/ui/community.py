"""The "Identify others" screen: listen to another player's public clip, agree with the species or
suggest another, vote on data quality, and see the points earned."""
from __future__ import annotations

from kivy.properties import BooleanProperty, ListProperty, StringProperty

from mobile.community import CommunityController, CommunityState
from mobile.game import GameClient
from mobile.identify import display_name
from mobile.ui.common import DawnScreen, app, message_of


class CommunityScreen(DawnScreen):
    species = StringProperty("")
    where = StringProperty("")
    progress = StringProperty("")
    feedback = StringProperty("")
    active = BooleanProperty(False)
    voted = ListProperty([])  # metrics voted on the current recording
    _ctl = None

    @property
    def ctl(self) -> CommunityController:
        if self._ctl is None:
            self._ctl = CommunityController(GameClient(app().client.api))
        return self._ctl

    def refresh(self) -> None:
        st = self.ctl.state
        if st.current is None:
            self.feedback = "Loading recordings that need your ears…"
            app().run_bg(self.ctl.load, self.show, self._failed)

    def _failed(self, exc: Exception) -> None:
        self.active = False
        self.feedback = message_of(exc)

    def show(self, st: CommunityState) -> None:
        item = st.current
        pack = app().client.models.species_pack()
        self.active = item is not None
        self.progress = (f"{st.identified} identified · {st.points} point{'' if st.points == 1 else 's'} "
                         f"earned here")
        if st.locked:
            self.species, self.where, self.feedback = "", "", st.locked + " Record and play to level up."
            return
        if item is None:
            self.species, self.where = "", ""
            self.feedback = st.feedback or "You have been through every recording waiting here. Thank you!"
            return
        self.species = display_name(str(item.get("species", "")), pack)
        when = str(item.get("observed_at") or "")[:10]
        self.where = (f"Recorded {when}" if when else "") + (" · place approximate (rare species)"
                                                            if item.get("obscured") else "")
        self.voted = [m for (obs, m) in st.voted if obs == item["observation"]]
        self.feedback = st.feedback

    def listen(self) -> None:
        def done(data):
            from mobile.soundscape import decode_clip

            samples, sr = decode_clip(data)
            app().client.services.audio_out.play(samples, sr)

        app().run_bg(self.ctl.clip, done, lambda e: setattr(self, "feedback", message_of(e)))

    def agree(self) -> None:
        item = self.ctl.state.current
        if item is not None:
            self._do(lambda: self.ctl.identify(str(item["species"]), True))

    def suggest(self, name: str) -> None:
        label = next((lab for lab, disp in app().client.species_choices() if disp == name), None)
        if label is not None and self.ctl.state.current is not None:
            self._do(lambda: self.ctl.identify(label, False))

    def vote(self, metric: str, agrees: bool) -> None:
        self._do(lambda: self.ctl.vote(metric, agrees))

    def skip(self) -> None:
        self.show(self.ctl.skip())

    def _do(self, work) -> None:
        self.active = False  # one answer per tap
        app().run_bg(work, self.show, lambda e: (setattr(self, "active", True), setattr(self, "feedback", message_of(e))))

