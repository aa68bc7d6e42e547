"""Vector icons drawn with canvas instructions (crisp at every density, tinted by the theme, no files).

Each icon draws into the unit square (0–1, y up) scaled to the widget; :data:`ICONS` names them.
"""
from __future__ import annotations

import math

from kivy.clock import Clock
from kivy.graphics import Color, Ellipse, Line, Mesh, Rectangle, RoundedRectangle, Triangle
from kivy.properties import ColorProperty, StringProperty
from kivy.uix.widget import Widget

from mobile.ui import theme


def _polygon(pts: list[tuple[float, float]]) -> Mesh:
    verts = [c for x, y in pts for c in (x, y, 0, 0)]
    return Mesh(vertices=verts, indices=list(range(len(pts))), mode="triangle_fan")


class Icon(Widget):
    """One named icon (see :data:`ICONS`), drawn in ``tint``."""

    name = StringProperty("")
    tint = ColorProperty(theme.TEXT)

    def __init__(self, **kw):
        super().__init__(**kw)
        trigger = Clock.create_trigger(self.redraw, -1)  # once per frame, after layout settles
        self.bind(pos=trigger, size=trigger, name=trigger, tint=trigger)
        trigger()

    def redraw(self, *_):
        self.canvas.clear()
        draw = ICONS.get(self.name)
        if draw is None or self.width < 2:
            return
        s = min(self.width, self.height)
        ox, oy = self.center_x - s / 2, self.center_y - s / 2
        with self.canvas:
            Color(*self.tint)
            draw(lambda x, y: (ox + x * s, oy + y * s), s)


def _record(p, s):
    Ellipse(pos=p(0.2, 0.2), size=(0.6 * s, 0.6 * s))


def _queue(p, s):
    for y in (0.25, 0.5, 0.75):
        Ellipse(pos=p(0.12, y - 0.06), size=(0.12 * s, 0.12 * s))
        Rectangle(pos=p(0.32, y - 0.045), size=(0.56 * s, 0.09 * s))


def _map(p, s):
    Ellipse(pos=p(0.25, 0.42), size=(0.5 * s, 0.5 * s))
    _polygon([p(0.28, 0.6), p(0.72, 0.6), p(0.5, 0.06)])
    Color(*theme.BAR)
    Ellipse(pos=p(0.39, 0.56), size=(0.22 * s, 0.22 * s))


def _listen(p, s):
    cx, cy = p(0.5, 0.5)
    Line(circle=(cx, cy, 0.33 * s, -90, 90), width=max(1.2, 0.07 * s))
    RoundedRectangle(pos=p(0.1, 0.18), size=(0.2 * s, 0.34 * s), radius=[0.06 * s])
    RoundedRectangle(pos=p(0.7, 0.18), size=(0.2 * s, 0.34 * s), radius=[0.06 * s])


def _star(p, s):
    pts = [p(0.5, 0.5)]
    for i in range(11):
        a = math.pi / 2 + i * math.pi / 5
        r = 0.44 if i % 2 == 0 else 0.19
        pts.append(p(0.5 + r * math.cos(a), 0.48 + r * math.sin(a)))
    _polygon(pts)


def _leaf(p, s):
    pts = [p(0.5, 0.5)]
    for i in range(25):
        t = i / 24 * 2 * math.pi
        pts.append(p(0.5 + 0.2 * math.sin(t), 0.52 + 0.38 * math.cos(t) * (1 if math.cos(t) > 0 else 0.9)))
    _polygon(pts)
    Color(*theme.BAR)
    Line(points=[*p(0.5, 0.1), *p(0.5, 0.82)], width=max(1, 0.03 * s))


def _book(p, s):
    _polygon([p(0.1, 0.2), p(0.47, 0.15), p(0.47, 0.8), p(0.1, 0.85)])
    _polygon([p(0.53, 0.15), p(0.9, 0.2), p(0.9, 0.85), p(0.53, 0.8)])


def _plus(p, s):
    Rectangle(pos=p(0.2, 0.44), size=(0.6 * s, 0.12 * s))
    Rectangle(pos=p(0.44, 0.2), size=(0.12 * s, 0.6 * s))


def _minus(p, s):
    Rectangle(pos=p(0.2, 0.44), size=(0.6 * s, 0.12 * s))


def _locate(p, s):
    cx, cy = p(0.5, 0.5)
    Line(circle=(cx, cy, 0.26 * s), width=max(1.2, 0.06 * s))
    Ellipse(pos=p(0.41, 0.41), size=(0.18 * s, 0.18 * s))
    for a, b in (((0.5, 0.04), (0.5, 0.2)), ((0.5, 0.8), (0.5, 0.96)), ((0.04, 0.5), (0.2, 0.5)),
                 ((0.8, 0.5), (0.96, 0.5))):
        Line(points=[*p(*a), *p(*b)], width=max(1.2, 0.06 * s))


def _play(p, s):
    Triangle(points=[*p(0.28, 0.18), *p(0.28, 0.82), *p(0.84, 0.5)])


def _stop(p, s):
    Rectangle(pos=p(0.24, 0.24), size=(0.52 * s, 0.52 * s))


def _check(p, s):
    Line(points=[*p(0.16, 0.5), *p(0.4, 0.26), *p(0.86, 0.74)], width=max(1.5, 0.09 * s))


def _bird(p, s):
    Ellipse(pos=p(0.2, 0.22), size=(0.5 * s, 0.4 * s))
    Ellipse(pos=p(0.55, 0.5), size=(0.26 * s, 0.26 * s))
    _polygon([p(0.8, 0.66), p(0.95, 0.6), p(0.8, 0.56)])
    _polygon([p(0.25, 0.4), p(0.02, 0.5), p(0.1, 0.3)])


ICONS = {"record": _record, "queue": _queue, "map": _map, "listen": _listen, "play": _star, "star": _star,
         "leaf": _leaf, "life": _book, "plus": _plus, "minus": _minus, "locate": _locate, "play-sound": _play,
         "stop": _stop, "check": _check, "bird": _bird}
