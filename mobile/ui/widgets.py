"""Custom widgets: level meter, live spectrogram, waveform with a draggable selection (the map is mapwidget.py)."""
from __future__ import annotations

import numpy as np
from kivy.graphics import Color, Line, Rectangle
from kivy.graphics.texture import Texture
from kivy.metrics import dp
from kivy.properties import ListProperty, NumericProperty, ObjectProperty
from kivy.uix.widget import Widget

from mobile import dsp


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
