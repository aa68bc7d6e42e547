"""The identification game on the phone: others' recordings that need an identification
(``GET /api/v1/game/identify/``: public clip and public position only), agree or suggest a species,
vote on data quality, and the points it earned (the profile's XP before and after). No Kivy."""
from __future__ import annotations

from dataclasses import dataclass, field

from mobile.api import ApiError
from mobile.game import GameClient

QUALITY_METRICS = (("date", "The date looks right"), ("location", "The place looks right"),
                   ("wild", "A wild animal (not captive or played back)"), ("audible", "The sound is audible"))


@dataclass
class CommunityState:
    """Where the player is in the identification queue."""

    items: list[dict] = field(default_factory=list)
    index: int = 0
    points: int = 0  # earned in this session
    identified: int = 0
    feedback: str = ""
    voted: set = field(default_factory=set)  # (observation, metric) already voted
    locked: str = ""  # why identifying is not open (level too low), else ""

    @property
    def current(self) -> dict | None:
        return self.items[self.index] if 0 <= self.index < len(self.items) else None


class CommunityController:
    """Loads the queue, posts identifications and votes, and counts the points they earned."""

    def __init__(self, game: GameClient):
        self.game = game
        self.state = CommunityState()

    def _xp(self) -> int:
        return int((self.game.profile() or {}).get("xp") or 0)

    def load(self) -> CommunityState:
        try:
            data = self.game.api.get_json("/api/v1/game/identify/")
        except ApiError as exc:
            if exc.code == "level_too_low":
                self.state = CommunityState(locked=exc.message)
                return self.state
            raise
        items = [r for r in (data or {}).get("results", []) if isinstance(r, dict) and r.get("observation")]
        self.state = CommunityState(items=items, points=self.state.points, identified=self.state.identified)
        if not items:
            self.state.feedback = "Nothing waits for an identification right now. Come back later!"
        return self.state

    def clip(self) -> bytes:
        item = self.state.current or {}
        return self.game.api.request("GET", item["audio_url"], params={"audio": "wav"}).content

    def _earned(self, before: int) -> int:
        try:
            return max(0, self._xp() - before)
        except ApiError:
            return 0

    def identify(self, species: str, agree: bool) -> CommunityState:
        """Agree with the model's species, or suggest another; then the next recording."""
        item = self.state.current
        if item is None:
            return self.state
        before = self._xp()
        result = self.game.identify(int(item["observation"]), species, "agree" if agree else "suggest")
        earned = self._earned(before)
        st = self.state
        st.points += earned
        st.identified += 1
        grade = (result.get("grade") or {}).get("status", "")
        st.feedback = (f"Thanks! +{earned} points." if earned else "Thanks, your identification counts.") + (
            " It is research grade now." if grade == "research" else "")
        st.index += 1
        return st

    def vote(self, metric: str, agrees: bool) -> CommunityState:
        """A data-quality vote on the current recording (once per metric)."""
        item = self.state.current
        st = self.state
        if item is None or (item["observation"], metric) in st.voted:
            return st
        before = self._xp()
        try:
            self.game.api.post_json(f"/api/v1/observations/{int(item['observation'])}/quality/",
                                    {"metric": metric, "agrees": bool(agrees)})
        except ApiError as exc:
            if exc.code != "already_voted":
                raise
        st.voted.add((item["observation"], metric))
        earned = self._earned(before)
        st.points += earned
        st.feedback = f"Vote counted{f': +{earned} points' if earned else ''}."
        return st

    def skip(self) -> CommunityState:
        self.state.index += 1
        self.state.feedback = ""
        return self.state
