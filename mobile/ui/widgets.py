"""Custom widgets: level meter, live spectrogram, waveform with a draggable selection, canvas map."""
from __future__ import annotations

import numpy as np
from kivy.graphics import Color, Line, Rectangle
from kivy.graphics.texture import Texture
from kivy.metrics import dp
from kivy.properties import ListProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from mobile import dsp, geo


class LevelMeter(Widget):
    """Horizontal bar: RMS fill, peak tick; red near full scale."""

    rms_db = NumericProperty(dsp.DB_FLOOR)
    peak_db = NumericProperty(dsp.DB_FLOOR)

    def __init__(self, **kw):
        super().__init__(**kw)
        self.bind(pos=self.redraw, size=self.redraw, rms_db=self.redraw, peak_db=self.redraw)

    def redraw(self, *_):
        self.canvas.clear()
        f = dsp.meter_fraction(self.rms_db)
        p = dsp.meter_fraction(self.peak_db)
        with self.canvas:
            Color(0.18, 0.2, 0.22, 1)
            Rectangle(pos=self.pos, size=self.size)
            Color(*((0.9, 0.2, 0.15, 1) if self.peak_db > -1 else (0.3, 0.75, 0.4, 1)))
            Rectangle(pos=self.pos, size=(self.width * f, self.height))
            Color(1, 1, 1, 1)
            Rectangle(pos=(self.x + self.width * p - dp(1.5), self.y), size=(dp(3), self.height))


class Spectrogram(Widget):
    """Draws a (time, freq) dB matrix as a texture (low frequencies at the bottom)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self._tex = None
        self.bind(pos=self._draw, size=self._draw)

    def _draw(self, *_):
        self.canvas.clear()
        with self.canvas:
            Color(0.05, 0.05, 0.2, 1)
            Rectangle(pos=self.pos, size=self.size)
            if self._tex is not None:
                Color(1, 1, 1, 1)
                Rectangle(texture=self._tex, pos=self.pos, size=self.size)

    def show(self, spec_db: np.ndarray) -> None:
        if spec_db.size == 0:
            return
        img = np.clip((spec_db - (spec_db.max() - 70.0)) / 70.0, 0, 1).T  # (freq, time)
        rgb = np.stack([img ** 0.8, img ** 1.6 * 0.9, 0.35 + 0.4 * img ** 3], axis=-1)
        data = (rgb * 255).astype(np.uint8)
        tex = Texture.create(size=(data.shape[1], data.shape[0]), colorfmt="rgb")
        tex.blit_buffer(np.ascontiguousarray(data).tobytes(), colorfmt="rgb", bufferfmt="ubyte")
        self._tex = tex
        self._draw()


class Waveform(Widget):
    """The take's waveform; dragging selects the segment (``on_select`` gets start/end pixels)."""

    controller = ObjectProperty(None, allownone=True)
    selection = ListProperty([0.0, 0.0])  # seconds

    def __init__(self, **kw):
        super().__init__(**kw)
        self._x0 = None
        self.bind(pos=self.redraw, size=self.redraw, controller=self.redraw, selection=self.redraw)

    def redraw(self, *_):
        self.canvas.clear()
        with self.canvas:
            Color(0.12, 0.14, 0.16, 1)
            Rectangle(pos=self.pos, size=self.size)
        c = self.controller
        if c is None or self.width < 2:
            return
        d = c.take.duration_s
        a, b = c.start_s / d * self.width, c.end_s / d * self.width
        lo, hi = c.envelope(int(self.width))
        mid, half = self.center_y, self.height / 2 * 0.9
        with self.canvas:
            Color(0.95, 0.75, 0.2, 0.35)
            Rectangle(pos=(self.x + a, self.y), size=(b - a, self.height))
            Color(0.55, 0.85, 0.95, 1)
            pts = []
            for i in range(len(lo)):
                pts += [self.x + i, mid + lo[i] * half, self.x + i, mid + hi[i] * half]
            Line(points=pts, width=1)
            Color(0.95, 0.75, 0.2, 1)
            Line(points=[self.x + a, self.y, self.x + a, self.top], width=dp(1.5))
            Line(points=[self.x + b, self.y, self.x + b, self.top], width=dp(1.5))

    def on_touch_down(self, touch):
        if self.collide_point(*touch.pos) and self.controller is not None:
            self._x0 = touch.x - self.x
            touch.grab(self)
            return True
        return super().on_touch_down(touch)

    def on_touch_move(self, touch):
        if touch.grab_current is self and self._x0 is not None:
            self.selection = list(self.controller.drag(self._x0, touch.x - self.x, self.width))
            return True
        return super().on_touch_move(touch)

    def on_touch_up(self, touch):
        if touch.grab_current is self:
            touch.ungrab(self)
            if self._x0 is not None and abs(touch.x - self.x - self._x0) > dp(4):
                self.selection = list(self.controller.drag(self._x0, touch.x - self.x, self.width))
            self._x0 = None
            return True
        return super().on_touch_up(touch)


class CanvasMap(Widget):
    """Observations as clustered dots on a plain background with a scale bar (no network tiles); obscured
    ones as their shaded 0.2° cells (``cells``: (west, south, east, north) each), never as dots."""

    center_latlng = ListProperty([18.2960, -65.7850])
    zoom = NumericProperty(14.0)
    points = ListProperty([])
    cells = ListProperty([])
    me = ListProperty([])  # [lat, lng] of the player, or empty
    route = ListProperty([])  # [[lat, lng], ...] drawn as a line under the points (time travel)
    scale_text = StringProperty("")

    def __init__(self, **kw):
        super().__init__(**kw)
        self._labels: list[Label] = []
        self.bind(pos=self.redraw, size=self.redraw, points=self.redraw, cells=self.redraw, zoom=self.redraw,
                  center_latlng=self.redraw, me=self.redraw, route=self.redraw)

    def redraw(self, *_):
        self.canvas.clear()
        for lab in self._labels:
            self.remove_widget(lab)
        self._labels = []
        if self.width < 2:
            return
        size = (self.width, self.height)
        center = tuple(self.center_latlng)
        with self.canvas:
            Color(0.86, 0.9, 0.84, 1)
            Rectangle(pos=self.pos, size=self.size)
            Color(0.78, 0.83, 0.77, 1)
            step = dp(64)
            x = self.x
            while x < self.right:
                Line(points=[x, self.y, x, self.top])
                x += step
            y = self.y
            while y < self.top:
                Line(points=[self.x, y, self.right, y])
                y += step
        for west, south, east, north in self.cells:
            x0, y0 = geo.to_screen(south, west, center, self.zoom, size)
            x1, y1 = geo.to_screen(north, east, center, self.zoom, size)
            with self.canvas:
                Color(0.45, 0.25, 0.6, 0.18)
                Rectangle(pos=(self.x + x0, self.y + y0), size=(x1 - x0, y1 - y0))
                Color(0.45, 0.25, 0.6, 0.9)
                Line(rectangle=(self.x + x0, self.y + y0, x1 - x0, y1 - y0), dash_length=dp(6), dash_offset=dp(4))
        if len(self.route) >= 2:
            line = []
            for lat, lng in self.route:
                sx, sy = geo.to_screen(lat, lng, center, self.zoom, size)
                line += [self.x + sx, self.y + sy]
            with self.canvas:
                Color(0.55, 0.35, 0.1, 0.9)
                Line(points=line, width=dp(2.5))
        for c in geo.cluster(list(self.points), self.zoom):
            sx, sy = geo.to_screen(c.lat, c.lng, center, self.zoom, size)
            if not (0 <= sx <= self.width and 0 <= sy <= self.height):
                continue
            r = dp(9) if c.count == 1 else dp(13) + min(dp(12), dp(2) * c.count ** 0.5)
            with self.canvas:
                Color(*((0.95, 0.55, 0.1, 1) if c.own else (0.15, 0.45, 0.75, 1)))
                from kivy.graphics import Ellipse
                Ellipse(pos=(self.x + sx - r, self.y + sy - r), size=(2 * r, 2 * r))
            if c.count > 1:
                lab = Label(text=str(c.count), font_size="13sp", bold=True, size=(2 * r, 2 * r),
                            pos=(self.x + sx - r, self.y + sy - r))
                self.add_widget(lab)
                self._labels.append(lab)
        if self.me:
            sx, sy = geo.to_screen(self.me[0], self.me[1], center, self.zoom, size)
            with self.canvas:
                Color(1, 1, 1, 1)
                from kivy.graphics import Ellipse
                Ellipse(pos=(self.x + sx - dp(8), self.y + sy - dp(8)), size=(dp(16), dp(16)))
                Color(0.85, 0.1, 0.3, 1)
                Ellipse(pos=(self.x + sx - dp(6), self.y + sy - dp(6)), size=(dp(12), dp(12)))
        metres, px, label = geo.scale_bar(center[0], self.zoom, self.width / 3)
        with self.canvas:
            Color(0.1, 0.1, 0.1, 1)
            Line(points=[self.x + dp(16), self.y + dp(20), self.x + dp(16) + px, self.y + dp(20)], width=dp(2))
        self.scale_text = label
