"""The licence picker: the three licences a player may give a recording, as themed chips (one chosen,
default CC BY-NC 4.0), with a line that says in words what the chosen one allows.

``licence`` holds the chosen code (one of :data:`mobile.controller.LICENCE_CHOICES`); ``on_choose``
fires when the player taps a chip (not when code sets ``licence``). A disabled picker is dimmed and says
when the licence can change.
"""
from __future__ import annotations

from kivy.factory import Factory
from kivy.metrics import dp
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout

from mobile.controller import LICENCE_CHOICES

DEFAULT_LICENCE = LICENCE_CHOICES[0][0]
LICENCE_NAMES = dict(LICENCE_CHOICES)
LICENCE_MEANING = {
    "cc-by-nc-4.0": "Others may share and adapt your recording with credit, but not for money.",
    "cc-by-4.0": "Others may share and adapt your recording with credit, for any purpose.",
    "cc0-1.0": "No rights kept: anyone may use your recording for anything, without credit.",
}


class LicencePicker(BoxLayout):
    licence = StringProperty(DEFAULT_LICENCE)
    meaning = StringProperty(LICENCE_MEANING[DEFAULT_LICENCE])

    __events__ = ("on_choose",)

    def __init__(self, **kw):
        kw.setdefault("orientation", "vertical")
        kw.setdefault("size_hint_y", None)
        kw.setdefault("spacing", dp(4))
        super().__init__(**kw)
        row = BoxLayout(size_hint_y=None, height=dp(48), spacing=dp(6))
        self.chips = {}
        for code, name in LICENCE_CHOICES:
            chip = Factory.Chip(text=name, group=f"licence-{id(self)}", font_size="14sp")
            chip.bind(on_release=lambda _chip, code=code: self.choose(code))
            row.add_widget(chip)
            self.chips[code] = chip
        self.note = Factory.Small(text=self.meaning)
        self.add_widget(row)
        self.add_widget(self.note)
        self.bind(minimum_height=self.setter("height"), licence=self._show, disabled=self._show)
        self._show()

    def choose(self, code: str) -> None:
        """The player's tap: choose ``code`` and tell listeners."""
        if code in LICENCE_NAMES:
            self.licence = code
            self._show()
            self.dispatch("on_choose", code)

    def on_choose(self, code: str) -> None:
        pass

    def _show(self, *_):
        code = self.licence if self.licence in LICENCE_NAMES else DEFAULT_LICENCE
        for c, chip in self.chips.items():
            chip.state = "down" if c == code else "normal"
        self.meaning = LICENCE_MEANING[code]
        self.opacity = 0.55 if self.disabled else 1.0   # the chips draw their own colours: dim them when locked
        self.note.text = self.meaning + (" It can change once the server has checked the record."
                                         if self.disabled else "")
