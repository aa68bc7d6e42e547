"""Assemble the Android source tree for buildozer: ``python -m mobile.stage [DEST]``.

buildozer packages one directory whose ``main.py`` starts the app. The app needs ``mobile/``,
the numpy-only ``ml/runtime/`` (never the torch half of ``ml/``), the shipped models (the runtime's
default and each model set's) and the species list, so they are copied into ``mobile/build/app`` (the spec's ``source.dir``).
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEST = ROOT / "mobile" / "build" / "app"
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "bin", ".buildozer", "buildozer.spec")


def stage(dest: Path = DEFAULT_DEST) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    from mobile.basemap_build import ensure

    ensure()  # the offline basemap (mobile/assets/*.mbtiles) travels with mobile/
    shutil.copytree(ROOT / "mobile", dest / "mobile", ignore=IGNORE)
    (dest / "ml").mkdir()
    (dest / "ml" / "__init__.py").write_text('"""Only the numpy runtime ships on the phone."""\n')
    shutil.copytree(ROOT / "ml" / "runtime", dest / "ml" / "runtime", ignore=IGNORE)
    (dest / "fixtures" / "models").mkdir(parents=True)
    for model in shipped_models():
        shutil.copy2(model, dest / "fixtures" / "models" / model.name)
    shutil.copy2(ROOT / "fixtures" / "species.json", dest / "fixtures" / "species.json")
    shutil.copy2(ROOT / "mobile" / "main.py", dest / "main.py")
    return dest


def shipped_models() -> list[Path]:
    """The model files the app ships: the runtime's default, the field model the phone falls back on before its
    first download (``mobile.modelstore``); every other model reaches the phone as a verified download."""
    from ml.runtime.classifier import DEFAULT_MODEL_PATH

    return [Path(DEFAULT_MODEL_PATH)]


if __name__ == "__main__":
    print(stage(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DEST))
