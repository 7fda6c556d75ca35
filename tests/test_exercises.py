"""Every exercise ships unsolved, and its solution passes its check.

An exercise is a notebook code cell tagged ``exercise:ID``; it ships with a stub. Its solution is
the section ``# %% exercise: ID`` of ``notebooks/solutions/<notebook>.py``. This test puts each
solution in place of its stub, runs the notebook top to bottom in a fresh kernel, and requires
every check (``rtlab.tools.checks.check``) to print ``passed``. Cells tagged
``skip-with-solutions`` (long measurements that no exercise needs) are left out of that run.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SOLUTIONS = NOTEBOOKS / "solutions"
SECTION = re.compile(r"^# %% exercise: *(\S+) *$", re.M)
VERDICT = re.compile(r"^([✓…✗]) (.+?): (passed|not yet)", re.M)


def exercises(nb) -> dict[str, nbformat.NotebookNode]:
    found = {}
    for cell in nb.cells:
        for tag in cell.get("metadata", {}).get("tags", []):
            if tag.startswith("exercise:"):
                found[tag.split(":", 1)[1]] = cell
    return found


def solutions(path: Path) -> dict[str, str]:
    text = path.read_text(encoding="utf-8")
    parts = SECTION.split(text)
    return {parts[i]: parts[i + 1].strip("\n") + "\n" for i in range(1, len(parts), 2)}


def verdicts(nb) -> list[tuple[str, str]]:
    lines = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("text", "") if out.get("output_type") == "stream" else ""
            lines += [(m.group(2), m.group(3)) for m in VERDICT.finditer(text)]
    return lines


WITH_EXERCISES = sorted(p for p in NOTEBOOKS.glob("[0-9]*.ipynb") if exercises(nbformat.read(p, 4)))


def test_every_solution_file_belongs_to_a_notebook_with_those_exercises():
    for path in SOLUTIONS.glob("*.py"):
        nb_path = NOTEBOOKS / f"{path.stem}.ipynb"
        assert nb_path.exists(), f"{path.name}: no notebook {nb_path.name}"
        assert set(solutions(path)) == set(exercises(nbformat.read(nb_path, 4))), path.name


@pytest.mark.parametrize("nb_path", WITH_EXERCISES, ids=lambda p: p.stem)
def test_exercises_ship_unsolved(nb_path):
    nb = nbformat.read(nb_path, 4)
    shown = verdicts(nb)
    assert shown, f"{nb_path.name}: no check output is stored"
    assert all(v == "not yet" for _, v in shown), f"{nb_path.name} ships a solved exercise: {shown}"
    assert len(shown) >= len(exercises(nb))


@pytest.mark.timeout(600)
@pytest.mark.parametrize("nb_path", WITH_EXERCISES, ids=lambda p: p.stem)
def test_solutions_pass_their_checks(nb_path):
    nb = nbformat.read(nb_path, 4)
    solved = solutions(SOLUTIONS / f"{nb_path.stem}.py")
    for ident, cell in exercises(nb).items():
        cell.source = solved[ident]
    nb.cells = [c for c in nb.cells if "skip-with-solutions" not in c.get("metadata", {}).get("tags", [])]
    env_bin = os.path.dirname(sys.executable)  # the kernel runs this environment's Python
    os.environ["PATH"] = env_bin + os.pathsep + os.environ.get("PATH", "")
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    shown = verdicts(nb)
    assert shown, f"{nb_path.name}: no check ran"
    failed = [(name, v) for name, v in shown if v != "passed"]
    assert not failed, f"{nb_path.name}: checks not passed with the solutions: {failed}"
