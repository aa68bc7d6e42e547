"""One typed settings module (server/config.py) reads every environment variable of the server.

The README's "Configuration" tables are checked against it: the first lists exactly the module's
variables with their types and defaults; the second ("Other variables") lists what scripts,
``ml/``, the phone app and the benchmarks read. No other module under ``server/`` reads the
environment, and a bad value stops the process at start-up naming the variable.
"""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from server import config
from server.config import ConfigurationError, load, variables

ROOT = Path(__file__).resolve().parents[2]
ENV_NAME = re.compile(r"^(DAWN|DJANGO|XENO_CANTO|FL)_[A-Z0-9_]+$")
SHELL_VAR = re.compile(r"\$\{?((?:DAWN|DJANGO|XENO_CANTO|FL)_[A-Z0-9_]+)")
# Modules under server/ that may touch os.environ, and why. Only ``os.environ.setdefault`` is allowed
# there: they write defaults for libraries before those start, and read nothing of ours.
ENVIRON_WRITERS = {
    "server/config.py": "the settings module: the one reader",
    "server/asgi.py": "sets DJANGO_SETTINGS_MODULE before Django starts",
    "server/celery.py": "sets DJANGO_SETTINGS_MODULE and one BLAS thread per process (OPENBLAS_NUM_THREADS, ...)",
}
# Django's own variables, set by the entry points, not settings of ours.
NOT_SETTINGS = {"DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def readme_tables() -> tuple[list[list[str]], list[list[str]]]:
    """The rows (cells) of the README's Configuration table and its "Other variables" table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    main, other = section.split("\n### Other variables\n", 1)

    def rows(part: str) -> list[list[str]]:
        lines = [ln for ln in part.splitlines() if ln.startswith("|")]
        return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]

    return rows(main), rows(other)


def names_in(cell: str) -> list[str]:
    return re.findall(r"`([A-Z][A-Z0-9_]*)`", cell)


def readme_default(cell: str) -> str | None:
    """``unset`` → None, ``empty`` → "", `` `text` `` → text."""
    if cell == "unset":
        return None
    if cell == "empty":
        return ""
    match = re.fullmatch(r"`([^`]*)`", cell)
    assert match, f"default cell {cell!r}: use `value`, empty or unset"
    return match.group(1)


def test_readme_table_lists_exactly_the_modules_variables_with_their_types_and_defaults():
    main, _ = readme_tables()
    documented = {}
    for cells in main:
        assert len(cells) == 4, cells
        (name,) = names_in(cells[0])
        assert name not in documented, f"{name} twice in the README"
        documented[name] = (cells[1], readme_default(cells[2]))
    module = {v.name: (v.type, v.default) for v in variables()}
    assert documented == module


def test_other_variables_table_lists_what_scripts_ml_mobile_and_benchmarks_read():
    main, other = readme_tables()
    documented = {n for cells in main + other for n in names_in(cells[0])}
    read = set()
    for folder in ("ml", "mobile", "scripts", "tests/benchmarks", "server"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and ENV_NAME.match(node.value):
                    read.add(node.value)
    for path in [*(ROOT / "scripts").glob("*.sh"), ROOT / "Makefile"]:
        read |= set(SHELL_VAR.findall(path.read_text()))
    read -= NOT_SETTINGS
    assert sorted(read - documented) == []
    assert not {n for cells in other for n in names_in(cells[0])} & {v.name for v in variables()}


def environ_uses(path: Path) -> list[tuple[int, str]]:
    """(line, what) for each use of os.environ / os.getenv / os.putenv in ``path``."""
    uses = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os" \
                and node.attr in {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}:
            uses.append((node.lineno, f"os.{node.attr}"))
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            uses += [(node.lineno, f"from os import {a.name}") for a in node.names
                     if a.name in {"environ", "environb", "getenv", "getenvb"}]
    return uses


def test_no_server_module_but_the_settings_module_reads_the_environment():
    offenders = []
    for path in sorted((ROOT / "server").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        uses = environ_uses(path)
        if rel == "server/config.py" or not uses:
            continue
        if rel in ENVIRON_WRITERS:
            tree = path.read_text()
            assert tree.count("os.environ") == tree.count("os.environ.setdefault(") == len(uses), rel
            continue
        offenders += [f"{rel}:{line} {what}" for line, what in uses]
    assert offenders == []


def test_the_environ_check_sees_a_read(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nfrom os import getenv\nX = os.environ.get('DAWN_X')\n")
    assert [what for _, what in environ_uses(probe)] == ["from os import getenv", "os.environ"]


def test_defaults_parse_and_settings_take_them():
    from django.conf import settings

    defaults = load({})
    assert defaults.max_upload_mb == 25 and defaults.debug is False and defaults.db_pool is True
    assert defaults.media_root == config.REPO_ROOT / "var" / "media"
    assert defaults.allowed_hosts == ("127.0.0.1", "localhost", "testserver")
    assert defaults.celery_broker_url is None and defaults.model_path is None
    assert settings.CONFIG == load()
    assert settings.MAX_UPLOAD_BYTES == int(settings.CONFIG.max_upload_mb * 1024 * 1024)


def test_values_are_typed():
    c = load({"DAWN_MAX_UPLOAD_MB": "2.5", "DJANGO_DEBUG": "yes", "DAWN_DB_POOL": "off", "MEDIA_ROOT": "/srv/m",
              "DJANGO_ALLOWED_HOSTS": "a.org, b.org,", "DAWN_TRUSTED_PROXIES": " 2 ", "FL_HOLDOUT_MANIFEST": "h.csv",
              "DAWN_MODEL_PATH": ""})
    assert (c.max_upload_mb, c.debug, c.db_pool, c.media_root) == (2.5, True, False, Path("/srv/m"))
    assert c.allowed_hosts == ("a.org", "b.org") and c.trusted_proxies == 2
    assert c.fl_holdout_manifest == config.REPO_ROOT / "h.csv" and c.model_path is None  # empty = unset


@pytest.mark.parametrize("name, value, says", [
    ("DAWN_MAX_UPLOAD_MB", "abc", "not a number"),
    ("DAWN_MAX_UPLOAD_MB", "nan", "not a finite number"),
    ("DAWN_MAX_UPLOAD_MB", "0", "at least"),
    ("DAWN_HTTP_THREADS", "2.5", "not a whole number"),
    ("DAWN_TRUSTED_PROXIES", "-1", "at least 0"),
    ("DJANGO_DEBUG", "maybe", "yes/no"),
    ("DAWN_DB_POOL", "2", "yes/no"),
    ("DAWN_LOG_LEVEL", "loud", "one of DEBUG"),
    ("DAWN_STORAGE", "ftp", "one of filesystem, s3"),
    ("DAWN_AUTH_RATE", "thirty", "not of the form"),
    ("DAWN_DQA_MIN_VOTES_AGAINST", "0", "at least 1"),
])
def test_a_bad_value_names_its_variable(name, value, says):
    with pytest.raises(ConfigurationError) as caught:
        load({name: value})
    assert str(caught.value).startswith(f"{name}={value!r}:") and says in str(caught.value)


def test_secrets_stay_out_of_the_repr_and_the_settings_dump():
    from django.conf import settings

    secrets = {"DJANGO_SECRET_KEY": "key-4242", "DATABASE_URL": "postgres://u:pw-4242@db/x",
               "REDIS_URL": "redis://:pw-4343@r/0", "CELERY_BROKER_URL": "redis://:pw-4444@r/1",
               "DAWN_S3_ACCESS_KEY": "AK4545", "DAWN_S3_SECRET_KEY": "SK4646", "DAWN_DEMO_PASSWORD": "pw-4747"}
    c = load(secrets)
    assert c.secret_key == "key-4242" and c.s3_secret_key == "SK4646"
    assert not [v for v in secrets.values() if v in repr(c)]
    assert settings.CONFIG.database_url not in repr(settings.CONFIG)  # Django's debug page shows CONFIG


def test_a_bad_value_stops_the_server_at_start_up():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "server.settings", "DAWN_MAX_UPLOAD_MB": "abc"}
    out = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode != 0
    assert "ConfigurationError: DAWN_MAX_UPLOAD_MB='abc': not a number" in out.stderr
