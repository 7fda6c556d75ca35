"""The public faces, pinned (in the manner of websockets' ``test_exports.py``).

Every name a notebook, a solution or a variant imports from rtlab is on a documented face: a module
below whose ``__all__`` lists it. Adding a name to a face is a decision, made here; a notebook that
reaches past the faces fails this test. The tools a notebook imports first do not load the server.
"""
from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

FACES: dict[str, list[str]] = {
    "rtlab": ["LabServer", "ServerStartError", "Settings", "__version__", "create_app", "serve"],
    "rtlab.app": ["create_app", "route_table"],
    "rtlab.settings": ["Settings", "with_overrides"],
    "rtlab.documents": ["MAX_DOCUMENT_CHARS", "Document", "OTClient"],
    "rtlab.internals": ["SUPPORT", "LabWebSocketProtocol", "UvicornServer", "ws_protocol"],
    "rtlab.frames": ["frame", "frame_header", "handshake_request", "take_handshake"],
    "rtlab.bench": ["capacity", "common", "echo", "fanout", "scaleout", "sse"],
    "rtlab.bench.common": ["CpuFigure", "ServerProcess", "cpu_figure", "percentiles", "ratio", "table"],
    "rtlab.tools": ["browser", "checks", "clients", "lab", "nginx", "redis"],
    "rtlab.tools.nginx": ["NoNginx", "Nginx", "TLSFiles", "available", "install_hint", "make_tls", "placeholders",
                          "render"],
    "rtlab.tools.browser": ["CHROMIUM_ARGS", "INSTALL_HINT", "WS_OUTCOME_JS", "NoBrowser", "chromium", "chromium_path",
                            "in_ci", "install_command", "install_hint", "system_chromium"],
    "rtlab.tools.checks": ["Grader", "NotYet", "Verdict", "check", "exercise", "expect", "expect_json",
                           "expect_same_items", "expect_true", "registered"],
    "rtlab.tools.clients": ["close_code_after", "frame", "frame_header", "stalled_client"],
    "rtlab.tools.redis": ["INSTALL_HINT", "NoRedis", "RedisServer", "available", "free_port", "install_hint"],
}


@pytest.mark.parametrize("module", sorted(FACES))
def test_each_face_exports_exactly_its_names(module):
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(FACES[module])
    missing = [name for name in mod.__all__ if not hasattr(mod, name)
               and importlib.util.find_spec(f"{module}.{name}") is None]
    assert missing == []


def _sources() -> list[tuple[str, str]]:
    found = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for i, cell in enumerate(cells):
            if cell["cell_type"] == "code":
                source = "".join(cell["source"])
                lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
                found.append((f"{path.name} cell {i}", "\n".join(lines)))
    for path in sorted(NOTEBOOKS.glob("solutions/**/*.py")):
        found.append((str(path.relative_to(NOTEBOOKS)), path.read_text(encoding="utf-8")))
    return found


def imported_names(source: str) -> set[tuple[str, str]]:
    """(module, name) for each ``from rtlab... import name``; (module, "") for ``import rtlab...``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a cell with IPython syntax we did not strip: no import of rtlab in it
        return set()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "rtlab" and not node.level:
            found |= {(node.module, alias.name) for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {(alias.name, "") for alias in node.names if alias.name.split(".")[0] == "rtlab"}
    return found


def test_every_name_a_notebook_imports_is_on_a_face():
    outside = []
    for where, source in _sources():
        for module, name in sorted(imported_names(source)):
            if module not in FACES or (name and name not in FACES[module]):
                outside.append(f"{where}: from {module} import {name}" if name else f"{where}: import {module}")
    assert outside == []


def test_the_reader_finds_what_a_cell_imports():
    assert imported_names("from rtlab.app import route_table\nimport rtlab.tools.redis") == {
        ("rtlab.app", "route_table"), ("rtlab.tools.redis", "")}


@pytest.mark.parametrize("module", ["rtlab", "rtlab.tools.checks", "rtlab.tools.redis", "rtlab.tools.nginx",
                                    "rtlab.tools.clients", "rtlab.frames"])
def test_the_tools_do_not_load_the_server(module):
    """``import rtlab.tools.checks`` (the first thing an exercise runs) loads no web framework."""
    code = (f"import sys, {module}\n"
            "print(sorted(m for m in ('fastapi', 'starlette', 'uvicorn', 'rtlab.app', 'rtlab.server') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
