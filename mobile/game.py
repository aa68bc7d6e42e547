"""Game API client (profile, leaderboards, quests, teams, quiz, hunts, time travel, adoptions)
and the pure helpers its screens need. Paths and field names follow ``server/game`` exactly:

* profile ``{player, name, xp, level, title, next_level_xp, unlocked_scenarios, badges:[{slug, name,
  description, earned_at}], team:{id, name}|null, streaks:{daily_recording, adopt_best}}``;
* leaderboard ``{board, size, top:[{rank, player, score, name}], me:{rank, score, percentile, band}|null,
  around:[...]}`` (boards ``alltime``, ``weekly``, ``area-<cell>`` (the cell from ``/game/area/``), ``species-<label>``, ``team-<id>``);
* quests ``{"results": [{id, title, target_count, progress:{count, completed, team}, ...}]}``;
* quiz ``{session, question:{id, audio_url, choices[4]}}`` → answer ``{correct, correct_choice, points,
  next_question}`` (the server checks; the phone never knows the answer first);
* hunt ``{id, species, seconds_left, active, score, finds:[{lat, lng}], others:[{lat, lng}]}``;
* time travel ``{species, step, total, radius_m, completed, waypoints:[{index, lat, lng, year, unlocked}]}``;
* adoption ``{id, species, site:{lat, lng}, streak, best_streak, facts}``; check-in names an observation.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .api import ApiClient, ApiError

BOARDS = {"Around me": "alltime", "Weekly": "weekly", "Local": "area-{cell}", "Team": "team-{team}"}
SCENARIOS = {"quiz": "Bird-song quiz", "hunt": "Treasure hunt", "timetravel": "Time travel", "adopt": "Adopt a bird"}
AREA_CACHE_DEG = 0.005  # positions this close share one area answer (an area cell is kilometres wide)


class GameClient:
    def __init__(self, api: ApiClient):
        self.api = api
        self._areas: dict[tuple[int, int], str] = {}

    def area_cell(self, lat: float, lng: float) -> str:
        """The server's area cell of a position (``GET /api/v1/game/area/``), for the "Local" board; the
        phone carries no H3 library. Cached per ~500 m square; raises :class:`ApiError` offline."""
        key = (round(lat / AREA_CACHE_DEG), round(lng / AREA_CACHE_DEG))
        if key not in self._areas:
            data = self.api.get_json("/api/v1/game/area/", params={"lat": f"{lat:.6f}", "lng": f"{lng:.6f}"})
            cell = data.get("cell") if isinstance(data, dict) else None
            if not isinstance(cell, str) or not cell:
                raise ApiError("bad_response", "The server did not name this area.")
            self._areas[key] = cell
        return self._areas[key]

    def profile(self) -> dict:
        return self.api.get_json("/api/v1/game/profile/")

    def leaderboard(self, board: str, around_me: bool = True, top: int = 10) -> dict:
        params = {"around": "me" if around_me else "none", "top": top}
        return self.api.get_json(f"/api/v1/game/leaderboards/{board}/", params=params)

    def quests(self) -> list[dict]:
        data = self.api.get_json("/api/v1/game/quests/")
        return list(data.get("results", [])) if isinstance(data, dict) else list(data or [])

    def teams(self) -> list[dict]:
        data = self.api.get_json("/api/v1/game/teams/")
        return list(data.get("results", [])) if isinstance(data, dict) else list(data or [])

    def create_team(self, name: str, max_members: int = 8) -> dict:
        return self.api.post_json("/api/v1/game/teams/", {"name": name, "max_members": max_members})

    def join_team(self, team_id: int) -> dict:
        return self.api.post_json(f"/api/v1/game/teams/{int(team_id)}/join/")

    def leave_team(self, team_id: int) -> dict:
        return self.api.post_json(f"/api/v1/game/teams/{int(team_id)}/leave/")

    def start_quiz(self) -> dict:
        return self.api.post_json("/api/v1/game/quiz/")

    def answer_quiz(self, session: str, question: str, choice: str) -> dict:
        return self.api.post_json(f"/api/v1/game/quiz/{session}/answer/",
                                  {"question": str(question), "choice": choice})

    def quiz_audio(self, audio_url: str) -> bytes:
        """The question's clip as WAV (:mod:`mobile.pcm` reads it; a phone has no Ogg/Opus decoder)."""
        return self.api.request("GET", audio_url, params={"audio": "wav"}).content

    def start_hunt(self, species: str, minutes: int = 60) -> dict:
        return self.api.post_json("/api/v1/game/hunts/", {"species": species, "minutes": int(minutes)})

    def hunt(self, hunt_id: int) -> dict:
        return self.api.get_json(f"/api/v1/game/hunts/{int(hunt_id)}/")

    def time_travel(self, species_label: str) -> dict:
        return self.api.get_json(f"/api/v1/game/timetravel/{species_label}/")

    def time_travel_checkin(self, species_label: str, lat: float, lng: float, accuracy_m: float = 20.0) -> dict:
        return self.api.post_json(f"/api/v1/game/timetravel/{species_label}/checkin/",
                                  {"lat": lat, "lng": lng, "accuracy_m": max(0.1, min(5000.0, accuracy_m))})

    def adoptions(self) -> list[dict]:
        data = self.api.get_json("/api/v1/game/adoptions/")
        return list(data.get("results", [])) if isinstance(data, dict) else []

    def adopt(self, species: str, lat: float, lng: float) -> dict:
        return self.api.post_json("/api/v1/game/adoptions/", {"species": species, "lat": lat, "lng": lng})

    def adoption_checkin(self, adoption_id: int, observation_id: int) -> dict:
        return self.api.post_json(f"/api/v1/game/adoptions/{int(adoption_id)}/checkin/",
                                  {"observation": int(observation_id)})

    def identify(self, observation_id: int, species: str, kind: str = "agree") -> dict:
        return self.api.post_json(f"/api/v1/observations/{int(observation_id)}/identifications/",
                                  {"species": species, "kind": kind})


# --- pure helpers --------------------------------------------------------------------------

def xp_progress(profile: dict) -> float:
    """Share of the way to ``next_level_xp``, in [0, 1] (1 at the top level)."""
    xp = float(profile.get("xp") or 0)
    nxt = profile.get("next_level_xp")
    start = float(profile.get("level_xp") or 0)
    if not nxt:
        return 1.0
    span = float(nxt) - start
    return 1.0 if span <= 0 else max(0.0, min(1.0, (xp - start) / span))


def xp_text(profile: dict) -> str:
    nxt = profile.get("next_level_xp")
    return f"{profile.get('xp', 0)} / {nxt} XP" if nxt else f"{profile.get('xp', 0)} XP · top level"


def badges_text(profile: dict) -> str:
    names = [str(b.get("name") or b.get("slug")) if isinstance(b, dict) else str(b) for b in profile.get("badges") or []]
    return ("Badges: " + ", ".join(names)) if names else "No badges yet."


def streak_text(profile: dict) -> str:
    s = profile.get("streaks") or {}
    return f"Recording streak {s.get('daily_recording', 0)} d · best adoption streak {s.get('adopt_best', 0)} d"


def quest_fraction(quest: dict) -> float:
    progress = quest.get("progress") if isinstance(quest.get("progress"), dict) else {}
    if progress.get("completed"):
        return 1.0
    try:
        return max(0.0, min(1.0, float(progress.get("count", 0)) / float(quest.get("target_count") or 1)))
    except (TypeError, ValueError, ZeroDivisionError):
        return 0.0


def quest_label(quest: dict) -> str:
    progress = quest.get("progress") if isinstance(quest.get("progress"), dict) else {}
    return f"{quest.get('title') or 'Quest'} ({progress.get('count', 0)}/{quest.get('target_count') or '?'})"


def board_name(choice: str, cell: str = "", team: int | str | None = None) -> str | None:
    """The server's board name for a tab; None when the tab needs a cell or team the player lacks."""
    template = BOARDS.get(choice, "alltime")
    if "{cell}" in template and not cell:
        return None
    if "{team}" in template and not team:
        return None
    return template.format(cell=cell, team=team)


def board_rows(data: dict) -> list[str]:
    """Lines to show: the top three, then the ranks around me (me marked), without duplicates."""
    me = (data.get("me") or {}).get("rank")
    rows, seen = [], set()
    for entry in list(data.get("top") or [])[:3] + list(data.get("around") or []):
        rank = entry.get("rank")
        if rank in seen:
            continue
        seen.add(rank)
        mark = "  (you)" if rank == me else ""
        rows.append(f"{rank}. {entry.get('name', '')} — {entry.get('score', 0)}{mark}")
    return rows or ["No entries yet."]


def board_summary(data: dict) -> str:
    me = data.get("me")
    if not me:
        return f"{data.get('size', 0)} players. Record something to join this board."
    return f"You are #{me['rank']} of {data.get('size', 0)} ({me.get('band') or ''}) with {me.get('score', 0)} points."


@dataclass
class QuizState:
    """One quiz session: the current question, the score, and what the last answer said."""

    session: str = ""
    question: dict | None = None
    answered: int = 0
    correct: int = 0
    points: int = 0
    feedback: str = ""
    history: list[dict] = field(default_factory=list)

    @property
    def choices(self) -> list[str]:
        return list((self.question or {}).get("choices") or [])

    @property
    def finished(self) -> bool:
        return bool(self.session) and self.question is None


class QuizController:
    """Start a quiz, send an answer (checked on the server), move to the next question."""

    def __init__(self, game: GameClient):
        self.game, self.state = game, QuizState()

    def start(self) -> QuizState:
        data = self.game.start_quiz()
        self.state = QuizState(session=str(data["session"]), question=data.get("question"),
                               feedback="Listen, then pick the singer.")
        return self.state

    def answer(self, choice: str) -> QuizState:
        st = self.state
        if st.question is None:
            raise ApiError("quiz_finished", "Start a new quiz first.")
        if choice not in st.choices:
            raise ApiError("invalid_choice", "Pick one of the four answers.")
        result = self.game.answer_quiz(st.session, str(st.question["id"]), choice)
        st.answered += 1
        st.correct += int(bool(result.get("correct")))
        st.points += int(result.get("points") or 0)
        st.history.append({"choice": choice, **{k: result.get(k) for k in ("correct", "correct_choice", "points")}})
        st.feedback = (f"Correct! +{result.get('points', 0)} points" if result.get("correct")
                       else f"Not quite - it was {result.get('correct_choice')}.")
        st.question = result.get("next_question")
        if st.question is None:
            st.feedback += f" Quiz over: {st.correct}/{st.answered} right."
        return st


def time_left_text(seconds: int | float | None) -> str:
    s = max(0, int(seconds or 0))
    return f"{s // 60:d}:{s % 60:02d} left" if s else "Time is up"


def map_points(kind: str, data: dict) -> list[dict]:
    """Points for the canvas map of a scenario: own finds, others' finds, waypoints, the adopted site."""
    pts: list[dict] = []
    if kind == "hunt":
        pts += [{"lat": f["lat"], "lng": f["lng"], "own": True, "kind": "find"} for f in data.get("finds", [])]
        pts += [{"lat": f["lat"], "lng": f["lng"], "own": False, "kind": "other"} for f in data.get("others", [])]
    elif kind == "timetravel":
        pts += [{"lat": w["lat"], "lng": w["lng"], "own": bool(w.get("unlocked")), "kind": "waypoint",
                 "label": str(w.get("year", ""))} for w in data.get("waypoints", [])]
    elif kind == "adopt" and data.get("site"):
        pts.append({"lat": data["site"]["lat"], "lng": data["site"]["lng"], "own": True, "kind": "site"})
    ok = [p for p in pts if isinstance(p.get("lat"), (int, float)) and isinstance(p.get("lng"), (int, float))]
    return [{**p, "id": f"{kind}-{i}"} for i, p in enumerate(ok)]


def route_line(kind: str, data: dict) -> list[list[float]]:
    """The time-travel route as [[lat, lng], ...] in waypoint order (empty for other scenarios)."""
    if kind != "timetravel":
        return []
    wps = [w for w in data.get("waypoints", []) if isinstance(w.get("lat"), (int, float))
           and isinstance(w.get("lng"), (int, float))]
    wps.sort(key=lambda w: (w.get("index", 0) if isinstance(w.get("index"), int) else 0))
    return [[float(w["lat"]), float(w["lng"])] for w in wps]


def team_rows(teams: list[dict], my_team: int | None) -> list[dict]:
    """Rows for the team list: ``{id, text, can_join}``; full teams and the player's own cannot be joined."""
    rows = []
    for t in teams:
        if not isinstance(t.get("id"), int):
            continue
        size, cap = int(t.get("size") or 0), int(t.get("max_members") or 0)
        full = cap and size >= cap
        name = str(t.get("name", "?"))
        name = name if len(name) <= 30 else name[:29] + "…"
        rows.append({"id": t["id"], "text": f"{name}\n{size}/{cap} members" + (" (full)" if full else ""),
                     "can_join": my_team is None and not full})
    return rows


def my_team_text(team: dict | None) -> str:
    if not team:
        return "You are not in a team. Start one or join one below: team quests and the team board need it."
    names = ", ".join(m.get("name", "?") for m in team.get("members", [])[:12])
    size = f" ({team.get('size')}/{team.get('max_members')})" if team.get("max_members") else ""
    return f"Your team: {team.get('name', '?')}{size}" + (f". Members: {names}." if names else ".")


def scenario_summary(kind: str, data: dict) -> str:
    if kind == "hunt":
        state = time_left_text(data.get("seconds_left")) if data.get("active") else "Hunt over"
        return (f"Find {data.get('species')}: {data.get('score', 0)} finds (≥ {data.get('min_spacing_m', 200)} m "
                f"apart) · {state}. Blue dots: where others found it.")
    if kind == "timetravel":
        nxt = next((w for w in data.get("waypoints", []) if not w.get("unlocked")), None)
        if data.get("completed"):
            return f"Route of {data.get('species')} complete: {data.get('total', 0)} waypoints visited."
        year = f" ({nxt.get('year')})" if nxt else ""
        return (f"{data.get('species')}: waypoint {data.get('step', 0) + 1} of {data.get('total', 0)}{year}; "
                f"check in within {data.get('radius_m', 0):.0f} m.")
    if kind == "adopt":
        facts = data.get("facts") or []
        return (f"{data.get('species')}: streak {data.get('streak', 0)} d (best {data.get('best_streak', 0)} d). "
                + (facts[-1] if facts else "Check in with today's recording to learn a fact."))
    return ""


def unlocked(profile: dict, scenario: str) -> bool:
    return scenario in (profile.get("unlocked_scenarios") or [])
