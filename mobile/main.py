"""Entry point: ``python -m mobile.main`` on a desktop; buildozer runs it as the app's main.py."""
from __future__ import annotations

import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script (buildozer): make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("KIVY_NO_ARGS", "1")


def main() -> None:
    from mobile.ui.app import DawnChorusApp

    DawnChorusApp().run()


if __name__ == "__main__":
    main()
