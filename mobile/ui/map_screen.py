"""The Map tab: observations around the player on the slippy map, quest areas, tap for details and the
public clip (never another player's upload; obscured observations only as their cells)."""
from __future__ import annotations

from kivy.properties import BooleanProperty, DictProperty, StringProperty

from mobile import geo
from mobile.game import GameClient
from mobile.observation_view import detail_lines
from mobile.ui.common import DawnScreen, app, message_of, play_clip
from mobile.ui.mapwidget import area_rings


class MapScreen(DawnScreen):
    detail = DictProperty({})
    detail_title = StringProperty("")
    detail_text = StringProperty("")
    has_clip = BooleanProperty(False)
    tiles_notice = StringProperty("")
    _centred = False

    def on_kv_post(self, base_widget):
        m = self.ids.frame.map
        m.bind(on_pick=lambda _m, point: self.open_point(point), notice=self.setter("tiles_notice"))
        self.tiles_notice = m.notice

    def refresh(self) -> None:
        c = app().client
        m = self.ids.frame.map
        try:
            fix = c.services.location.current()
            m.me = [fix.lat, fix.lng]
            if not self._centred:
                m.show(fix.lat, fix.lng)
                self._centred = True
        except Exception as exc:  # noqa: BLE001 - no GPS: the map stays where it is
            self.message = message_of(exc)
        bbox = geo.bbox_around(m.lat, m.lon, m.zoom, (max(m.width, 400), max(m.height, 400)))

        def load():
            data = c.api.observations(bbox)
            try:
                quests = GameClient(c.api).quests()
            except Exception:  # noqa: BLE001 - the areas are extra; the observations still show
                quests = []
            return data, quests

        app().run_bg(load, lambda dq: self.show(*dq), lambda e: setattr(self, "message", message_of(e)))

    def show(self, data: dict, quests: list[dict]) -> None:
        m = self.ids.frame.map
        m.points = geo.features_to_points(data, app().client.username)
        m.cells = geo.obscured_cells(data)
        m.areas = [ring for q in quests for ring in area_rings(q.get("area"))]
        n, k = len(m.points), len(m.cells)
        parts = [f"{n} observation{'' if n == 1 else 's'} in view"]
        if k:
            parts.append(f"{k} approximate area{'' if k == 1 else 's'} (rare species)")
        if m.areas:
            parts.append(f"{len(m.areas)} quest area{'' if len(m.areas) == 1 else 's'}")
        self.message = " · ".join(parts) if n or k else "Nothing recorded here yet. Be the first!"

    def open_point(self, point: dict) -> None:
        """Fetch and show the tapped observation's public details."""
        obs_id = point.get("id")
        if obs_id is None:
            return
        self.detail_title, self.detail_text, self.has_clip = point.get("species") or "Observation", "Loading…", False
        api = app().client.api
        app().run_bg(lambda: api.get_json(f"/api/v1/map/observations/{int(obs_id)}/"), self.show_detail,
                     lambda e: setattr(self, "detail_text", message_of(e)))

    def show_detail(self, detail: dict) -> None:
        self.detail = detail
        self.detail_title, self.detail_text = detail_lines(detail)
        self.has_clip = bool(detail.get("audio_url"))

    def close_detail(self) -> None:
        self.detail, self.detail_title, self.detail_text, self.has_clip = {}, "", "", False

    def play_detail(self) -> None:
        url = self.detail.get("audio_url")
        if url:
            play_clip(url, lambda text: setattr(self, "detail_text", text))

    def locate(self) -> None:
        self._centred = False
        self.refresh()
