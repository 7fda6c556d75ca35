"""The package's layers, held by a test over its import graph (read with ``ast``, nothing imported).

From the top: the clients of the server (``rtlab.tools``, ``rtlab.bench``, ``python -m rtlab`` and its
worker processes), the
server thread (``rtlab.server``), the app factory (``rtlab.app``), the routes, the services that
wire the core together, and the core (hub, channels, broker, history, sessions, wire formats,
settings). A module may import its own layer and the layers below it, never one above. Within the
top layer the tools do not import the benchmarks (the benchmarks may use the tools' redis-server).
The imports form no cycle, counting those inside functions too (an import put in a function to dodge a
cycle is still a cycle): each module can be read, and tested, without the ones that use it.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "rtlab"

LAYERS: list[tuple[str, tuple[str, ...]]] = [  # top first
    ("clients of the server", ("rtlab.tools", "rtlab.bench", "rtlab.__main__", "rtlab.workers")),
    ("the server thread", ("rtlab.server",)),
    ("the app factory", ("rtlab.app",)),
    ("the routes", ("rtlab.routes",)),
    ("the services", ("rtlab.services",)),
    ("the core", ("rtlab",)),  # everything else
]
FORBIDDEN = [  # (importer prefix, imported prefix, why)
    ("rtlab.tools", "rtlab.bench", "the tools are what notebooks import: they must not load the benchmarks"),
    ("rtlab.hub", "rtlab.broker", "the hub delivers to this process's sockets: it knows no broker"),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom | ast.Import) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "rtlab"]
    if node.level:
        base = importer.split(".") if is_package else importer.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "rtlab":
        return []
    found = [target]
    for alias in node.names:  # `from . import internals` imports a module
        if f"{target}.{alias.name}" in MODULES:
            found.append(f"{target}.{alias.name}")
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(name: str, top_level_only: bool) -> set[str]:
    """The rtlab modules ``name`` imports (at module level only, or anywhere), with the packages
    that importing them runs first (except the importer's own)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(nodes, top: bool) -> None:
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                if top or not top_level_only:
                    found.update(_resolve(name, is_package, node))
            elif isinstance(node, ast.If) and _type_checking(node):
                continue  # for type checkers only: never imported at run time
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(node.body, top=isinstance(node, ast.ClassDef) and top)
            else:
                for field in ("body", "orelse", "finalbody", "handlers"):
                    visit(getattr(node, field, []) or [], top)

    visit(tree.body, True)
    with_parents = set()
    for target in found:
        parts = target.split(".")
        for i in range(2, len(parts)):
            parent = ".".join(parts[:i])
            if not name.startswith(parent + ".") and name != parent:
                with_parents.add(parent)
    return {m for m in found | with_parents if m in MODULES and m != name}


def layer_of(name: str) -> int:
    for i, (_, prefixes) in enumerate(LAYERS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return i
    raise AssertionError(f"{name}: in no layer")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def test_the_imports_form_no_cycle():
    graph = {name: imports(name, top_level_only=False) for name in MODULES}
    assert cycles(graph) == []


def test_no_module_imports_a_layer_above_its_own():
    wrong = []
    for name in MODULES:
        for target in imports(name, top_level_only=False):
            if layer_of(target) < layer_of(name):
                wrong.append(f"{name} ({LAYERS[layer_of(name)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})")
    assert wrong == []


@pytest.mark.parametrize("importer, imported, why", FORBIDDEN)
def test_forbidden_imports(importer, imported, why):
    wrong = [f"{name} imports {target}" for name in MODULES if name.startswith(importer)
             for target in imports(name, top_level_only=False) if target.startswith(imported)]
    assert wrong == [], why


# -- the test itself can fail: a cycle and a layer breach, planted ---------------------------
def test_a_planted_cycle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_the_import_reader_sees_relative_lazy_and_parent_imports(tmp_path, monkeypatch):
    assert "rtlab.internals" in imports("rtlab.app", top_level_only=True)  # from . import internals
    assert "rtlab.server" not in imports("rtlab", top_level_only=False)  # imported by name at run time
    assert "rtlab._version" in imports("rtlab", top_level_only=True)
    assert layer_of("rtlab.routes.naive") > layer_of("rtlab.app") > layer_of("rtlab.tools.checks")
