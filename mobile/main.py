"""Entry point: ``python -m mobile.main`` on a desktop; buildozer runs it as the app's main.py.

On a desktop the window is phone-shaped: ``DAWN_WINDOW`` (``WIDTHxHEIGHT``, default ``412x915``, a
common Android phone in portrait) sets its size, and Kivy's probes of optional input and clipboard
back ends (``mtdev``, ``xsel``...) are told apart from real errors: they log one line instead of a
traceback. On Android the system decides both.
"""
from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script (buildozer): make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("KIVY_NO_ARGS", "1")

DEFAULT_WINDOW = (412, 915)
OPTIONAL_PROBES = re.compile(r"(MTDev|HIDInput|ProbeSysfs|LinuxWacom|MacMultitouchSupport|WM_Pen|WM_Touch)"
                             r" is not supported|Unable to find any valuable (Clipboard|Cutbuffer) provider")


def window_size(value: str | None) -> tuple[int, int]:
    """``"WIDTHxHEIGHT"`` → (width, height); the default phone size when empty or malformed."""
    m = re.fullmatch(r"\s*(\d{3,4})\s*[xX×]\s*(\d{3,4})\s*", value or "")
    return (int(m.group(1)), int(m.group(2))) if m else DEFAULT_WINDOW


class QuietOptionalProbes(logging.Filter):
    """Kivy logs a failed probe of an optional back end with a full traceback; keep its first line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if OPTIONAL_PROBES.search(str(record.msg)):
            first = str(record.msg).split("\n", 1)[0].split(". Please enable", 1)[0]
            record.msg, record.args = f"{first} (optional; the app does not need it)", ()
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def configure_desktop() -> None:
    """Window size, clipboard and log hygiene; must run before Kivy opens its window."""
    os.environ.setdefault("KIVY_CLIPBOARD", "sdl2")   # SDL's clipboard: no xsel/xclip probing
    from kivy.config import Config
    from kivy.logger import Logger

    Logger.addFilter(QuietOptionalProbes())
    width, height = window_size(os.environ.get("DAWN_WINDOW"))
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))


def main() -> None:
    from mobile.services.factory import on_android

    if not on_android():
        configure_desktop()
    from mobile.ui.app import DawnChorusApp

    DawnChorusApp().run()


if __name__ == "__main__":
    main()
