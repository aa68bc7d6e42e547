"""No import cycles in ``server/``, ``ml/``, ``mobile/`` and ``webmap/src``; migrations run no live code; apps
reach into each other only where a service module is meant for it. The graphs count imports inside
functions too (see :mod:`tests.import_graph` for why)."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.import_graph import (ROOT, cross_app_reach, cycles, imported_names, js_graph, js_imports, platform_reach,
                                python_graph, python_modules, strongly_connected)


def write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture(scope="module")
def repo_graph():
    return python_graph()


def test_the_python_packages_have_no_import_cycle(repo_graph):
    assert {"server.recordings.tasks", "ml.runtime.audio", "mobile.main"} <= set(repo_graph)
    assert cycles(repo_graph) == []


def test_the_web_map_has_no_import_cycle():
    graph = js_graph()
    assert "live.js" in graph["main.js"]
    assert cycles(graph) == []


def test_a_deferred_import_closing_a_loop_is_a_cycle(tmp_path):
    """The shape of the cycles this test forbids: a task module imported at the top, importing back inside
    a function (recordings ingest/tasks, maps refresh/tasks)."""
    write_package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/ingest.py": "from . import storage\nfrom .tasks import analyse\n",
        "pkg/tasks.py": "def sweep():\n    from .ingest import enqueue\n    return enqueue\n",
        "pkg/storage.py": "import os\n",
        "pkg/typed.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.ingest import x\n",
    })
    graph = python_graph(tmp_path, ("pkg",))
    assert graph["pkg.ingest"] == {"pkg.storage", "pkg.tasks"} and graph["pkg.tasks"] == {"pkg.ingest"}
    assert graph["pkg.typed"] == set()  # never runs
    assert cycles(graph) == [["pkg.ingest", "pkg.tasks"]]
    (tmp_path / "pkg/tasks.py").write_text("def sweep():\n    return None\n")
    assert cycles(python_graph(tmp_path, ("pkg",))) == []


def test_import_module_with_a_literal_counts_as_an_import():
    names = imported_names('from importlib import import_module\nm = import_module("server.maps.x")\n',
                           "server.maps.y", False)
    assert ("server.maps.x", "server.maps.x") in names


def test_relative_imports_resolve_against_the_package():
    names = imported_names("from . import a\nfrom ..b import c\nfrom .d import e as f\n", "p.q.r", False)
    assert names == {("p.q.a", "p.q"), ("p.b.c", "p.b"), ("p.q.d.e", "p.q.d")}
    assert imported_names("from .x import y\n", "p.q", True) == {("p.q.x.y", "p.q.x")}


def test_strongly_connected_components():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": {"e"}, "e": {"d"}, "f": {"a"}}
    assert sorted(strongly_connected(graph)) == [["a", "b", "c"], ["d", "e"], ["f"]]
    assert cycles(graph) == [["a", "b", "c"], ["d", "e"]]
    chain = {str(i): {str(i + 1)} for i in range(5000)}  # deep: no recursion limit
    assert cycles(chain) == [] and cycles({**chain, "5000": {"0"}}) == [sorted(map(str, range(5001)))]


def test_js_imports_reads_relative_specifiers_only():
    source = """import maplibregl from "maplibre-gl";
import { a, b } from "./api.js";
import {
  c,
} from './multi.js';
import "./style.css";
export { d } from "./re.js";
export * from "../up.js";
const lazy = await import("./lazy.js");
"""
    assert js_imports(source) == ["./api.js", "./multi.js", "./style.css", "./re.js", "../up.js", "./lazy.js"]


def test_a_js_loop_is_a_cycle(tmp_path):
    write_package(tmp_path, {"main.js": 'import { startLive } from "./live.js";\nexport function esc() {}\n',
                             "live.js": 'import { esc } from "./main.js";\n', "html.js": ""})
    assert cycles(js_graph(tmp_path)) == [["live.js", "main.js"]]


def test_migrations_import_no_live_module():
    """A migration holds what it ran (frozen SQL); from the project it may import model modules (callable
    defaults, as Django writes them) and earlier migrations, nothing that changes with the live code."""
    found = {}
    for module, path in python_modules(ROOT, ("server",)).items():
        if ".migrations." not in module:
            continue
        names = imported_names(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
        live = sorted(name for name, _ in names
                      if name.startswith("server.") and ".migrations." not in name
                      and not name.endswith(".models") and not name.rpartition(".")[0].endswith(".models"))
        if live:
            found[module] = live
    assert found == {}


@pytest.mark.parametrize("module,other_app,allowed", [
    ("server.realtime.consumers", "server.game", {"server.game.board_access"}),
    ("server.modelregistry.services", "server.recordings", set()),
])
def test_an_app_reaches_another_through_its_service_module(repo_graph, module, other_app, allowed):
    assert {m for m in repo_graph[module] if m.startswith(other_app + ".")} <= allowed


def test_no_app_reaches_into_another_apps_models_or_tables():
    """DESIGN §1: a read of another app's data goes through a service function of the app that owns it
    (observations.services, .bulk, .player_reads, .public_reads; species.lookup, .catalogue;
    modelregistry.services; recordings.services; game.board_access, .identification_reads), and SQL composed in
    another app reads the relations of observations.sql_relations and species.sql_relations.
    ``python -m tests.import_graph`` prints the reach."""
    assert cross_app_reach() == {}, "read through the owning app's service module instead"


def test_cross_app_reach_counts_model_imports_and_foreign_tables(tmp_path):
    write_package(tmp_path, {
        "server/__init__.py": "",
        "server/birds/__init__.py": "", "server/birds/apps.py": "",
        "server/birds/models.py": "class Nest(Model):\n    eggs = ManyToManyField('Egg')\n",
        "server/birds/views.py": "from server.birds.models import Nest\n",
        "server/game/__init__.py": "", "server/game/apps.py": "", "server/game/models.py": "class Score(Model): pass\n",
        "server/game/rules.py": '''"""Reads birds_nest (a docstring: not counted)."""
def f():
    from server.birds.models import Nest
    return "SELECT 1 FROM birds_nest_eggs JOIN game_score ON true"
''',
        "server/game/migrations/__init__.py": "", "server/game/migrations/0001.py": "SQL = 'SELECT * FROM birds_nest'\n",
        "server/platform/__init__.py": "", "server/platform/x.py": "from server.game import rules\n",
    })
    assert cross_app_reach(tmp_path) == {"server.game.rules": {"models:birds", "table:birds_nest_eggs"}}
    assert platform_reach(tmp_path) == {"server.platform.x": {"server.game.rules"}}


def test_the_platform_layer_imports_no_app():
    """DESIGN §1: the platform sits below the apps; an app plugs into it (maps' public tile route is handed
    to the platform's router by ``server/asgi.py``)."""
    assert platform_reach() == {}


def beyond_the_runtime(name: str) -> bool:
    """Whether an imported dotted name lies in ``ml`` but outside ``ml.runtime``."""
    return name.split(".")[0] == "ml" and not (name + ".").startswith("ml.runtime.")


def outside_runtime(packages: tuple[str, ...]) -> dict[str, list[str]]:
    """Module → the ``ml`` names it imports (at the top or inside a function) that are not in ``ml.runtime``."""
    found = {}
    for module, path in python_modules(ROOT, packages).items():
        names = imported_names(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
        bad = sorted(name for name, _ in names if beyond_the_runtime(name))
        if bad:
            found[module] = bad
    return found


def test_the_phone_and_the_runtime_import_only_ml_runtime():
    """DESIGN §1: ``mobile/`` ships with ``ml.runtime`` alone (the phone half of secure aggregation
    included), and ``ml.runtime`` never reaches back into the torch half of ``ml``."""
    assert outside_runtime(("mobile",)) == {}
    assert {m: names for m, names in outside_runtime(("ml",)).items() if m.startswith("ml.runtime")} == {}


def test_a_deferred_import_of_the_torch_half_counts_for_the_phone():
    names = imported_names("def send():\n    from ml.federated.secagg_wire import PhoneSecAgg\n"
                           "from ml.runtime.federated import codec\nfrom ml import runtime\n", "mobile.fl", False)
    assert {name for name, _ in names if beyond_the_runtime(name)} == {"ml.federated.secagg_wire.PhoneSecAgg"}
