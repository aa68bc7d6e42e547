"""The repository's import graphs, read from the source text (nothing is imported), and their cycles.

Python (:func:`python_graph`): one node per module under the given top-level packages; an edge for every
``import``/``from … import`` anywhere in a module, *including those inside functions*, and for every
``importlib.import_module("literal")``. A deferred import still couples two modules both ways: it only
moves the failure from import time to call time, and it is how the cycles this graph exists to forbid
were hidden. Imports under ``if TYPE_CHECKING:`` are left out (they never run). ``from pkg import name``
points at ``pkg.name`` when that is a module of the graph, else at ``pkg``; imports of other
distributions (django, numpy, …) are not nodes.

JavaScript (:func:`js_graph`): one node per ``*.js`` file of a folder, an edge for every relative
``import``/``export … from "./x.js"`` (static or dynamic ``import("./x.js")``).

Apps (:func:`cross_app_reach`): where a module of one server app (a folder of ``server/`` with an
``apps.py``) reaches into another app's data: it imports the other app's ``models`` (at the top or
inside a function), or one of its string literals (docstrings left out) names a table the other app
owns (``<app>_<model>``, a many-to-many table ``<app>_<model>_<field>``, or a table the app's migrations
create). Migrations are left out. The platform layer (``server/platform/``) must not import an app at all
(:func:`platform_reach`).

``python -m tests.import_graph`` prints the cycles of the repository's graphs, the cross-app counts and the
modules that run SQL of their own (:func:`raw_sql_modules`).
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON_PACKAGES = ("server", "ml", "mobile")
WEBMAP_SRC = ROOT / "webmap" / "src"

Graph = dict[str, set[str]]


def python_modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name → file, for every ``.py`` file under ``root/<package>`` (``__init__`` is the package)."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk_runtime(tree: ast.AST):
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imported_names(source: str, module: str, is_package: bool) -> set[tuple[str, str]]:
    """What ``source`` (the text of ``module``) imports anywhere in it, as absolute dotted names
    ``(name, fallback)``: ``from pkg import a`` gives ``("pkg.a", "pkg")`` (``a`` is a module, or a name
    defined in ``pkg``), ``import a.b`` and ``import_module("a.b")`` give ``("a.b", "a.b")``."""
    tree = ast.parse(source)
    package = module if is_package else module.rpartition(".")[0]
    names: set[tuple[str, str]] = set()
    for node in _walk_runtime(tree):
        if isinstance(node, ast.Import):
            names.update((alias.name, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[:len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.update((f"{base}.{alias.name}", base) for alias in node.names)
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Name) and node.func.id == "import_module")
                   or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"))):
            names.add((node.args[0].value, node.args[0].value))
    return names


def python_graph(root: Path = ROOT, packages: tuple[str, ...] = PYTHON_PACKAGES) -> Graph:
    """Module → the modules of the graph it imports (see the module docstring for what counts)."""
    modules = python_modules(root, packages)
    graph: Graph = {}
    for module, path in modules.items():
        names = imported_names(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
        targets = {name if name in modules else fallback for name, fallback in names}
        graph[module] = {t for t in targets if t in modules and t != module}
    return graph


JS_IMPORT = re.compile(r"""(?:\bimport\b[^"';]*?\bfrom\s*|\bexport\b[^"';]*?\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}/[^"']+)["']""")


def js_imports(source: str) -> list[str]:
    """The relative specifiers (``./x.js``) ``source`` imports or re-exports, static or dynamic."""
    return JS_IMPORT.findall(source)


def js_graph(folder: Path = WEBMAP_SRC) -> Graph:
    """File name (relative to ``folder``) → the files of ``folder`` it imports."""
    files = {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*.js"))}
    graph: Graph = {}
    for name, path in files.items():
        targets = set()
        for spec in js_imports(path.read_text(encoding="utf-8")):
            target = (path.parent / spec).resolve()
            rel = target.relative_to(folder.resolve()).as_posix() if folder.resolve() in target.parents else None
            if rel in files:
                targets.add(rel)
        graph[name] = targets - {name}
    return graph


def strongly_connected(graph: Graph) -> list[list[str]]:
    """Tarjan's strongly connected components of ``graph`` (iterative), each sorted; every node is in one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def cycles(graph: Graph) -> list[list[str]]:
    """The groups of nodes that import each other (components of more than one node), sorted."""
    return sorted(c for c in strongly_connected(graph) if len(c) > 1)


SERVER = ROOT / "server"
CREATE_TABLE = re.compile(r"\bCREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([a-z_][a-z0-9_]*)", re.I)
WORD = re.compile(r"[a-z_][a-z0-9_]*")


def server_apps(server: Path = SERVER) -> tuple[str, ...]:
    """The Django apps under ``server/``: the folders holding an ``apps.py``."""
    return tuple(sorted(p.parent.name for p in server.glob("*/apps.py")))


def app_of(module: str, apps: tuple[str, ...]) -> str | None:
    """The app a dotted module name lies in (``server.game.ledger`` → ``game``), or None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "server" and parts[1] in apps else None


def _models_tables(app: str, source: str) -> set[str]:
    """The tables Django gives the models of ``app``'s ``models.py`` text: ``<app>_<class>``, an explicit
    ``db_table``, and ``<app>_<class>_<field>`` for each many-to-many field."""
    tables = set()
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        model = f"{app}_{node.name.lower()}"
        tables.add(model)
        for item in ast.walk(node):
            if (isinstance(item, ast.Assign) and len(item.targets) == 1 and isinstance(item.targets[0], ast.Name)):
                name, value = item.targets[0].id, item.value
                if name == "db_table" and isinstance(value, ast.Constant) and isinstance(value.value, str):
                    tables.add(value.value)
                elif (isinstance(value, ast.Call) and getattr(value.func, "attr", getattr(value.func, "id", None))
                      == "ManyToManyField"):
                    tables.add(f"{model}_{name}")
    return tables


def table_owners(server: Path = SERVER) -> dict[str, str]:
    """Table name → the app that owns it (its models and the tables its migrations create)."""
    owners: dict[str, str] = {}
    for app in server_apps(server):
        models = server / app / "models.py"
        if models.exists():
            owners.update(dict.fromkeys(_models_tables(app, models.read_text(encoding="utf-8")), app))
        for migration in sorted((server / app / "migrations").glob("*.py")):
            for table in CREATE_TABLE.findall(migration.read_text(encoding="utf-8")):
                owners[table.lower()] = app
    return owners


def _docstring_nodes(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def string_literals(source: str) -> list[str]:
    """Every string literal of ``source`` (f-string parts included) except docstrings."""
    tree = ast.parse(source)
    skip = _docstring_nodes(tree)
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip]


def cross_app_reach(root: Path = ROOT) -> dict[str, set[str]]:
    """Module → what it reaches of other apps: ``"models:<app>"`` for an import of another app's models,
    ``"table:<name>"`` for another app's table named in a string literal. Modules reaching nothing are left
    out; migrations are not counted."""
    server = root / "server"
    apps = server_apps(server)
    owners = table_owners(server)
    found: dict[str, set[str]] = {}
    for module, path in python_modules(root, ("server",)).items():
        app = app_of(module, apps)
        if app is None or ".migrations" in module:
            continue
        source = path.read_text(encoding="utf-8")
        reach = set()
        for name, _ in imported_names(source, module, path.name == "__init__.py"):
            other = app_of(name, apps)
            parts = name.split(".")
            if other not in (None, app) and len(parts) > 2 and parts[2] == "models":
                reach.add(f"models:{other}")
        for text in string_literals(source):
            for word in WORD.findall(text.lower()):
                if owners.get(word, app) != app:
                    reach.add(f"table:{word}")
        if reach:
            found[module] = reach
    return found


def platform_reach(root: Path = ROOT) -> dict[str, set[str]]:
    """Module of ``server/platform/`` → the app modules it imports (the platform sits below the apps)."""
    apps = server_apps(root / "server")
    found = {}
    for module, path in python_modules(root, ("server",)).items():
        if not module.startswith("server.platform"):
            continue
        names = imported_names(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
        reached = {name for name, _ in names if app_of(name, apps) is not None}
        if reached:
            found[module] = reached
    return found


RAW_SQL = re.compile(r"connection\.cursor|\.cursor\(\)|\bcur\.copy|RawSQL|\.raw\(|\.extra\(|\b(?:cur|cursor|conn)\.execute")


def raw_sql_modules(root: Path = ROOT) -> list[str]:
    """The modules under ``server/`` (migrations left out) that run SQL of their own: a DB-API cursor, ``COPY``,
    ``RawSQL``, ``.raw()`` or ``.extra()``."""
    return sorted(module for module, path in python_modules(root, ("server",)).items()
                  if ".migrations" not in module and RAW_SQL.search(path.read_text(encoding="utf-8")))


def main() -> int:
    found = {"python": cycles(python_graph()), "webmap": cycles(js_graph())}
    for kind, groups in found.items():
        print(f"{kind}: {len(groups)} import cycle(s)")
        for group in groups:
            print("  " + " <-> ".join(group))
    reach = cross_app_reach()
    models = {m for m, r in reach.items() if any(x.startswith("models:") for x in r)}
    tables = {m for m, r in reach.items() if any(x.startswith("table:") for x in r)}
    print(f"cross-app: {len(reach)} module(s) reach another app's data: {len(models)} import its models, "
          f"{len(tables)} name its tables in SQL")
    for module in sorted(reach):
        print(f"  {module}: {', '.join(sorted(reach[module]))}")
    raw = raw_sql_modules()
    print(f"raw SQL: {len(raw)} module(s)")
    for module in raw:
        print(f"  {module}")
    platform = platform_reach()
    print(f"platform: {len(platform)} module(s) import an app")
    for module in sorted(platform):
        print(f"  {module}: {', '.join(sorted(platform[module]))}")
    return 1 if any(found.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
