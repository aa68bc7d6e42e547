"""A Python environment holding only what ``mobile/buildozer.spec`` lists, built from this machine's
installed wheels (no download), and the import rules the phone code must keep in it.

* :func:`spec_requirements` reads the spec's ``requirements``; :data:`PLATFORM_RECIPES` are the
  python-for-android recipes that are the platform itself (the interpreter, SDL, Java bridges,
  OpenSSL...) and have no desktop wheel; :data:`RECIPE_DEPENDS` are the Python packages the
  recipes pull in by themselves (p4a's ``kivy`` recipe: ``python_depends``; ``cryptography``
  depends on ``cffi``, which depends on ``pycparser``).
* :func:`build` makes ``python -m venv --without-pip`` and links into its ``site-packages`` the
  files of exactly those distributions as installed in the project's ``.venv``, then stages the app
  the way buildozer sees it (:func:`mobile.stage.stage`). It is cached under
  ``var/cache/buildozer-env/`` keyed by the spec, the distributions' versions and the app's files.
* :func:`foreign_modules` lists what a run imported beyond the standard library, the staged app
  (``mobile``, ``ml.runtime``) and the allowed distributions.
"""
from __future__ import annotations

import configparser
import hashlib
import importlib.metadata as md
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "mobile" / "buildozer.spec"
CACHE = ROOT / "var" / "cache" / "buildozer-env"
PLATFORM_RECIPES = frozenset({"python3", "hostpython3", "android", "pyjnius", "audiostream", "sdl2", "sdl3",
                              "openssl", "libffi", "sqlite3", "setuptools"})
RECIPE_DEPENDS = {"kivy": ("filetype", "certifi", "idna", "requests", "urllib3"),
                  "cryptography": ("cffi",), "cffi": ("pycparser",)}
APP_PACKAGES = frozenset({"mobile", "ml", "main"})


def spec_requirements(spec: Path = SPEC) -> list[str]:
    """The spec's requirement names (lower case, version pins dropped)."""
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(spec, encoding="utf-8")
    out = []
    for item in cp["app"]["requirements"].split(","):
        name = item.strip().split("==")[0].split(">=")[0].split("<")[0].strip().lower()
        if name:
            out.append(name)
    return out


def allowed_distributions(requirements: list[str]) -> list[str]:
    """The installable distributions: the spec's non-platform requirements and their recipe dependencies."""
    todo = [r for r in requirements if r not in PLATFORM_RECIPES]
    seen: list[str] = []
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.append(name)
        todo.extend(RECIPE_DEPENDS.get(name, ()))
    return seen


@dataclass(frozen=True)
class Env:
    python: Path
    app: Path
    site: Path
    top_level: frozenset[str]   # importable names the allowed distributions provide


def _dist_entries(name: str) -> list[str]:
    dist = md.distribution(name)
    tops = {str(f).split("/")[0] for f in (dist.files or [])}
    return sorted(t for t in tops if t not in ("..", "") and not t.endswith(".pth"))


def _module_name(entry: str) -> str | None:
    if entry.endswith((".dist-info", ".libs", ".data")):
        return None
    return entry.split(".")[0]


def _app_digest() -> str:
    h = hashlib.sha256()
    for base in (ROOT / "mobile", ROOT / "ml" / "runtime"):
        for p in sorted(base.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and "build" not in p.relative_to(ROOT).parts[1:2]:
                st = p.stat()
                h.update(f"{p.relative_to(ROOT)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def build(cache: Path = CACHE) -> Env:
    """The restricted environment (built once per spec and installed versions; the app restaged on change)."""
    dists = allowed_distributions(spec_requirements())
    missing = [d for d in dists if not _installed(d)]
    if missing:
        raise RuntimeError(f"not installed in this .venv, so not testable here: {missing}")
    versions = {d: md.version(d) for d in dists}
    key = hashlib.sha256(json.dumps([sys.version, versions]).encode()).hexdigest()[:16]
    env_dir = cache / f"venv-{key}"
    py = env_dir / "bin" / "python"
    site = env_dir / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    tops: set[str] = set()
    entries = {d: _dist_entries(d) for d in dists}
    for names in entries.values():
        tops.update(m for m in map(_module_name, names) if m)
    if not (env_dir / "ready").exists():
        if env_dir.exists():
            shutil.rmtree(env_dir)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True,
                       capture_output=True)
        venv_site = Path(md.distribution("numpy").locate_file(""))
        for names in entries.values():
            for name in names:
                src = venv_site / name
                if src.exists() and not (site / name).exists():
                    os.symlink(src, site / name)
        (env_dir / "ready").write_text(json.dumps(versions))
    app = cache / "app"
    digest = _app_digest()
    if not (app / ".digest").exists() or (app / ".digest").read_text() != digest:
        sys.path.insert(0, str(ROOT))
        from mobile.stage import stage

        stage(app)
        (app / ".digest").write_text(digest)
    return Env(python=py, app=app, site=site, top_level=frozenset(tops))


def _installed(name: str) -> bool:
    try:
        md.distribution(name)
        return True
    except md.PackageNotFoundError:
        return False


def foreign_modules(modules: list[str], allowed_top_level: frozenset[str]) -> list[str]:
    """Imported module names outside the standard library, the staged app (``mobile``, ``ml.runtime``)
    and the allowed distributions; ``ml`` modules other than ``ml.runtime`` count as foreign."""
    out = []
    for name in modules:
        top = name.split(".")[0]
        if top == "ml" and name not in ("ml",) and not name.startswith("ml.runtime"):
            out.append(name)
        elif top in sys.stdlib_module_names or top in APP_PACKAGES or top in allowed_top_level:
            continue
        elif top.startswith("_") and top.lstrip("_") in sys.stdlib_module_names | {"distutils_hack"}:
            continue
        elif top in ("__main__", "__mp_main__", "sitecustomize", "usercustomize", "cython_runtime") \
                or top.startswith("_cython_"):   # registered by Cython-compiled extensions (kivy)
            continue
        else:
            out.append(name)
    return sorted(set(out))
