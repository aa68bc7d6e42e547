"""The slippy map: ``kivy_garden.mapview`` tiles (pan, pinch or wheel zoom) with the game's overlays.

Overlays, drawn in window space on every move: place names (over the offline basemap), quest areas (GeoJSON polygons, green), obscured
observations as their shaded cells (never as dots), the time-travel route, observation dots
(clustered; orange: the player's, blue: others'), and the player's position. A tap that does not
drag picks the nearest dot within :data:`TAP_RADIUS_DP` and fires ``on_pick(point)``; a tap on a
cluster zooms in on it.
"""
from __future__ import annotations

import json
import math

from kivy.graphics import Color, Ellipse, Line, Mesh, Rectangle
from kivy.metrics import dp
from kivy.core.text import Label as CoreLabel
from kivy.properties import BooleanProperty, ListProperty, StringProperty
from kivy.uix.label import Label
from kivy_garden.mapview import MapLayer, MapView

from mobile import geo
from mobile.places import PLACES
from mobile.ui.map_sources import UrlTiles, choose_source

TAP_RADIUS_DP = 24
_PLACE_TEXTURES: dict = {}
SEA = (170 / 255, 205 / 255, 214 / 255, 1)
OWN, OTHER, ME = (0.95, 0.55, 0.1, 1), (0.15, 0.45, 0.75, 1), (0.85, 0.1, 0.3, 1)
INK = (0.24, 0.28, 0.24, 1)


def place_texture(name: str):
    """The rendered text of a place name (cached; drawn in the overlay, sharp at every zoom)."""
    tex = _PLACE_TEXTURES.get(name)
    if tex is None:
        label = CoreLabel(text=name, font_size=dp(13), color=INK, outline_width=2, outline_color=(1, 1, 1))
        label.refresh()
        tex = _PLACE_TEXTURES[name] = label.texture
    return tex


def area_rings(area) -> list[list[tuple[float, float]]]:
    """Outer rings [(lat, lng), ...] of a quest's area (GeoJSON Polygon/MultiPolygon, dict or string)."""
    if isinstance(area, str):
        try:
            area = json.loads(area)
        except ValueError:
            return []
    if not isinstance(area, dict):
        return []
    coords = area.get("coordinates") or []
    polys = [coords] if area.get("type") == "Polygon" else coords if area.get("type") == "MultiPolygon" else []
    rings = []
    for poly in polys:
        try:
            rings.append([(float(lat), float(lng)) for lng, lat, *_ in poly[0]])
        except (TypeError, ValueError, IndexError):
            continue
    return rings


class OverlayLayer(MapLayer):
    """Draws the owner map's overlays in window coordinates."""

    def reposition(self) -> None:
        m = self.parent
        if m is None:
            return
        self.canvas.clear()
        for lab in list(self.children):
            self.remove_widget(lab)
        xy = lambda lat, lng: m.get_window_xy_from(lat, lng, m.zoom)  # noqa: E731
        with self.canvas:
            for ring in m.areas:
                pts = [c for lat, lng in ring for c in xy(lat, lng)]
                if len(pts) >= 6:
                    Color(0.2, 0.6, 0.3, 0.16)
                    verts = []
                    for i in range(0, len(pts), 2):
                        verts += [pts[i], pts[i + 1], 0, 0]
                    Mesh(vertices=verts, indices=list(range(len(verts) // 4)), mode="triangle_fan")
                    Color(0.15, 0.5, 0.25, 0.9)
                    Line(points=pts + pts[:2], width=dp(1.5))
            for west, south, east, north in m.cells:
                x0, y0 = xy(south, west)
                x1, y1 = xy(north, east)
                Color(0.45, 0.25, 0.6, 0.10)
                Rectangle(pos=(x0, y0), size=(x1 - x0, y1 - y0))
                Color(0.45, 0.25, 0.6, 0.9)
                Line(rectangle=(x0, y0, x1 - x0, y1 - y0), dash_length=dp(6), dash_offset=dp(4))
            if len(m.route) >= 2:
                Color(0.55, 0.35, 0.1, 0.9)
                Line(points=[c for lat, lng in m.route for c in xy(lat, lng)], width=dp(2.5))
            if m.show_places:
                for name, lat, lng, min_zoom in PLACES:
                    if m.zoom < min_zoom:
                        continue
                    px, py = xy(lat, lng)
                    if not (m.x - dp(150) <= px <= m.right and m.y <= py <= m.top):
                        continue
                    tex = place_texture(name)
                    Color(*INK)
                    Ellipse(pos=(px - dp(3), py - dp(3)), size=(dp(6), dp(6)))
                    Color(1, 1, 1, 1)
                    Rectangle(texture=tex, pos=(px + dp(6), py - tex.height / 2), size=tex.size)
        m.drawn = []
        for c in geo.cluster(list(m.points), m.zoom):
            sx, sy = xy(c.lat, c.lng)
            if not (m.x - dp(20) <= sx <= m.right + dp(20) and m.y - dp(20) <= sy <= m.top + dp(20)):
                continue
            r = dp(9) if c.count == 1 else dp(13) + min(dp(12), dp(2) * c.count ** 0.5)
            with self.canvas:
                Color(1, 1, 1, 1)
                Ellipse(pos=(sx - r - dp(2), sy - r - dp(2)), size=(2 * r + dp(4), 2 * r + dp(4)))
                Color(*(OWN if c.own else OTHER))
                Ellipse(pos=(sx - r, sy - r), size=(2 * r, 2 * r))
            m.drawn.append((sx, sy, c))
            if c.count > 1:
                self.add_widget(Label(text=str(c.count), font_size="13sp", bold=True, size=(2 * r, 2 * r),
                                      pos=(sx - r, sy - r)))
        if m.me:
            sx, sy = xy(m.me[0], m.me[1])
            with self.canvas:
                Color(1, 1, 1, 1)
                Ellipse(pos=(sx - dp(9), sy - dp(9)), size=(dp(18), dp(18)))
                Color(*ME)
                Ellipse(pos=(sx - dp(6.5), sy - dp(6.5)), size=(dp(13), dp(13)))
        m.update_scale()


class DawnMap(MapView):
    """A MapView with the offline/URL tile source, overlays and tap-to-pick."""

    points = ListProperty([])  # {id, lat, lng, own, ...}
    cells = ListProperty([])  # (west, south, east, north)
    areas = ListProperty([])  # rings of (lat, lng)
    route = ListProperty([])  # [[lat, lng], ...]
    me = ListProperty([])  # [lat, lng] or empty
    scale_text = StringProperty("")
    notice = StringProperty("")
    show_places = BooleanProperty(True)  # the offline basemap has no names of its own
    __events__ = ("on_pick",)

    def __init__(self, cache_dir: str = "", **kw):
        from kivy.app import App

        app = App.get_running_app()
        cache_dir = cache_dir or (str(app.client.data_dir / "tiles") if app and app.client else "tiles")
        source, notice = choose_source(cache_dir, self._tiles_failed)
        kw.setdefault("zoom", 13)
        kw.setdefault("lat", 18.2960)
        kw.setdefault("lon", -65.7850)
        super().__init__(map_source=source, cache_dir=cache_dir, double_tap_zoom=True, **kw)
        self.background_color = list(SEA)
        self.notice = notice
        self.show_places = not isinstance(source, UrlTiles)
        self.drawn: list = []
        self._down = None
        self.overlay = OverlayLayer()
        self.add_layer(self.overlay, mode="window")
        self.bind(points=self._redraw, cells=self._redraw, areas=self._redraw, route=self._redraw, me=self._redraw)

    def _tiles_failed(self, message: str) -> None:
        """A tile URL that cannot be reached: say so and continue on the offline basemap."""
        from mobile.ui.map_sources import NO_BASEMAP_MESSAGE, BlankTiles, offline_source

        self.notice = message
        fallback = offline_source(self.cache_dir)
        if fallback is None:
            fallback, self.notice = BlankTiles(cache_dir=self.cache_dir), f"{message} {NO_BASEMAP_MESSAGE}"
        lat, lon = self.lat, self.lon
        self.show_places = True
        self.remove_all_tiles()
        self.map_source = fallback
        self.zoom = max(fallback.get_min_zoom(), min(fallback.get_max_zoom(), self.zoom))
        self.center_on(lat, lon)

    def _redraw(self, *_):
        self.overlay.reposition()

    def show(self, lat: float, lng: float, zoom: int | None = None) -> None:
        if zoom is not None:
            zoom = int(max(self.map_source.get_min_zoom(), min(self.map_source.get_max_zoom(), zoom)))
            self.zoom = zoom
        self.center_on(lat, lng)

    def fit(self, latlngs: list[tuple[float, float]], max_zoom: int = 16) -> None:
        """Centre and zoom so that all ``latlngs`` are in view."""
        if not latlngs:
            return
        center, zoom = geo.fit_view(latlngs, (max(self.width, 100), max(self.height, 100)), max_zoom=max_zoom)
        self.show(center[0], center[1], int(math.floor(zoom)))

    def step_zoom(self, step: int) -> None:
        self.show(self.lat, self.lon, int(self.zoom) + step)

    def update_scale(self) -> None:
        if self.width > 2:
            _m, _px, self.scale_text = geo.scale_bar(self.lat, self.zoom, self.width / 3)

    def pick_at(self, x: float, y: float):
        """The drawn point or cluster nearest (x, y) within the tap radius, else None."""
        best, best_d = None, dp(TAP_RADIUS_DP)
        for sx, sy, c in self.drawn:
            d = math.hypot(sx - x, sy - y)
            if d <= best_d:
                best, best_d = c, d
        return best

    def on_touch_down(self, touch):
        if self.collide_point(*touch.pos) and not touch.is_mouse_scrolling:
            self._down = touch.pos
        return super().on_touch_down(touch)

    def on_touch_up(self, touch):
        down, self._down = self._down, None
        if down is not None and math.hypot(touch.x - down[0], touch.y - down[1]) < dp(8):
            self.tap(touch.x, touch.y)
        return super().on_touch_up(touch)

    def tap(self, x: float, y: float) -> bool:
        """Open the tapped point (``on_pick``) or zoom in on a tapped cluster; True when something was hit."""
        hit = self.pick_at(x, y)
        if hit is None:
            return False
        if hit.count > 1:
            self.show(hit.lat, hit.lng, int(self.zoom) + 2)
            return True
        point = next((p for p in self.points if p.get("id") == hit.ids[0]), None)
        if point is not None:
            self.dispatch("on_pick", point)
        return True

    def on_pick(self, point: dict) -> None:
        pass
