"""Every exercise ships unsolved, its solution passes its check, and its check judges the property taught.

An exercise is a notebook code cell tagged ``exercise:ID``; it ships with a stub. Its solution is the
section ``# %% exercise: ID`` of ``notebooks/solutions/<notebook>.py``. Its *variants* are sections of
``notebooks/solutions/variants/<notebook>.py``:

* ``# %% wrong: ID: what is wrong`` — code a learner really writes that lacks the property the
  exercise teaches (above all the lesson's own bug): its check must say "not yet". A wrong variant
  that passes is a surviving mutant, in mutation testing's words: the check misses that bug.
* ``# %% valid: ID: what style`` — correct code in another style than the solution's: its check must
  say "passed".

The check cells of an exercise are the code cells after it, up to the next markdown cell or exercise.
One kernel per notebook: the notebook runs top to bottom with the solutions in place of the stubs (cells
tagged ``skip-with-solutions``, long measurements no exercise needs, left out); right after an
exercise's check cells, each variant is run in place of the solution, followed by those check cells,
and then the solution again, which must pass again.
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
VARIANTS = SOLUTIONS / "variants"
SECTION = re.compile(r"^# %% exercise: *(\S+) *$", re.M)
VARIANT = re.compile(r"^# %% (wrong|valid): *([a-z0-9-]+): *(.+?) *$", re.M)
VERDICT = re.compile(r"^([✓…✗]) (.+?): (passed|not yet)", re.M)
STUB = re.compile(r"NotImplementedError\(\s*(['\"])(.*?)\1\s*\)", re.S)
MIN_WRONG, MIN_VALID = 3, 1


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


def variants(path: Path) -> list[tuple[str, str, str, str]]:
    """(kind, exercise id, label, source) for each section of a variants file."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    parts = VARIANT.split(text)
    return [(parts[i], parts[i + 1], parts[i + 2], parts[i + 3].strip("\n") + "\n") for i in range(1, len(parts), 4)]


def verdicts_of(cells) -> list[tuple[str, str]]:
    lines = []
    for cell in cells:
        for out in cell.get("outputs", []):
            text = out.get("text", "") if out.get("output_type") == "stream" else ""
            lines += [(m.group(2), m.group(3)) for m in VERDICT.finditer(text)]
    return lines


def verdicts(nb) -> list[tuple[str, str]]:
    return verdicts_of(nb.cells)


def check_cells(cells, index: int) -> list[int]:
    """The indexes of the check cells of the exercise at ``cells[index]``."""
    found = []
    for j in range(index + 1, len(cells)):
        cell = cells[j]
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type != "code" or any(t.startswith("exercise:") for t in tags):
            break
        found.append(j)
    return found


WITH_EXERCISES = sorted(p for p in NOTEBOOKS.glob("[0-9]*.ipynb") if exercises(nbformat.read(p, 4)))


def test_every_solution_file_belongs_to_a_notebook_with_those_exercises():
    for path in SOLUTIONS.glob("*.py"):
        nb_path = NOTEBOOKS / f"{path.stem}.ipynb"
        assert nb_path.exists(), f"{path.name}: no notebook {nb_path.name}"
        assert set(solutions(path)) == set(exercises(nbformat.read(nb_path, 4))), path.name


@pytest.mark.parametrize("nb_path", WITH_EXERCISES, ids=lambda p: p.stem)
def test_every_exercise_has_wrong_and_valid_variants(nb_path):
    """At least three plausible wrong solutions and one valid one in another style, per exercise."""
    idents = set(exercises(nbformat.read(nb_path, 4)))
    found = variants(VARIANTS / f"{nb_path.stem}.py")
    unknown = {ident for _, ident, _, _ in found} - idents
    assert not unknown, f"{nb_path.stem}: variants of no exercise: {sorted(unknown)}"
    solved = solutions(SOLUTIONS / f"{nb_path.stem}.py")
    for ident in sorted(idents):
        wrong = [label for kind, i, label, _ in found if i == ident and kind == "wrong"]
        valid = [src for kind, i, _, src in found if i == ident and kind == "valid"]
        assert len(wrong) >= MIN_WRONG, f"{nb_path.stem} {ident}: {len(wrong)} wrong variants, {MIN_WRONG} needed"
        assert len(valid) >= MIN_VALID, f"{nb_path.stem} {ident}: {len(valid)} valid variants, {MIN_VALID} needed"
        assert all(src.strip() != solved[ident].strip() for src in valid), f"{ident}: a valid variant is the solution"


def test_every_variants_file_belongs_to_a_notebook():
    for path in VARIANTS.glob("*.py"):
        assert (NOTEBOOKS / f"{path.stem}.ipynb").exists(), f"{path.name}: no notebook {path.stem}.ipynb"


def code_fragments(text: str) -> set[str]:
    """The parts of a hint or stub text that look like code: spans in backticks, and words holding
    a call, an assignment or an index (``exclude=ws``, ``Path(pattern=...)``)."""
    spans = set(re.findall(r"`([^`]+)`", text))
    spans |= {w for w in re.split(r"\s+", text) if re.search(r"[(=\[]", w)}
    fragments = set()
    for span in spans:
        span = span.strip(" .,;:'\"").removesuffix("...").removesuffix("…").rstrip("(")
        if len(span) >= 6 and re.search(r"[(=\[.]", span):
            fragments.add(span)
    return fragments


@pytest.mark.parametrize("nb_path", WITH_EXERCISES, ids=lambda p: p.stem)
def test_no_hint_or_stub_gives_the_solution_away(nb_path):
    """A hint helps after a try and a stub says what to write: neither holds the solution's code."""
    from rtlab.tools.checks import registered

    nb = nbformat.read(nb_path, 4)
    solved = solutions(SOLUTIONS / f"{nb_path.stem}.py")
    module = "nb" + nb_path.stem.split("_", 1)[0]
    hints = {ident: ex.hint for ident, ex in registered(module).items()}
    for ident, cell in exercises(nb).items():
        assert ident in hints, f"{nb_path.stem}: exercise {ident!r} has no check in rtlab.tools.checks.{module}"
        stub_lines = set(cell.source.splitlines())
        solution = "\n".join(line for line in solved[ident].splitlines() if line not in stub_lines)
        texts = [hints[ident]] + [m.group(2) for m in STUB.finditer(cell.source)]
        for text in texts:
            leaked = sorted(f for f in code_fragments(text) if f in solution)
            assert not leaked, f"{nb_path.stem} {ident}: the hint or stub holds the solution's code: {leaked}"


@pytest.mark.parametrize("nb_path", WITH_EXERCISES, ids=lambda p: p.stem)
def test_exercises_ship_unsolved(nb_path):
    nb = nbformat.read(nb_path, 4)
    shown = verdicts(nb)
    assert shown, f"{nb_path.name}: no check output is stored"
    assert all(v == "not yet" for _, v in shown), f"{nb_path.name} ships a solved exercise: {shown}"
    assert len(shown) >= len(exercises(nb))


def _run(client: NotebookClient, cell, index: int) -> None:
    cell.outputs = []
    client.execute_cell(cell, index)


@pytest.mark.timeout(1500)
@pytest.mark.parametrize("nb_path", WITH_EXERCISES, ids=lambda p: p.stem)
def test_solutions_pass_and_wrong_variants_do_not(nb_path):
    nb = nbformat.read(nb_path, 4)
    solved = solutions(SOLUTIONS / f"{nb_path.stem}.py")
    by_exercise: dict[str, list[tuple[str, str, str]]] = {}
    for kind, ident, label, source in variants(VARIANTS / f"{nb_path.stem}.py"):
        by_exercise.setdefault(ident, []).append((kind, label, source))
    nb.cells = [c for c in nb.cells if "skip-with-solutions" not in c.get("metadata", {}).get("tags", [])]
    for ident, cell in exercises(nb).items():
        cell.source = solved[ident]
    tagged = {i: ident for ident, cell in exercises(nb).items() for i, c in enumerate(nb.cells) if c is cell}
    after: dict[int, tuple[str, list[int]]] = {}  # last check cell's index -> (exercise, its check cells)
    for i, ident in tagged.items():
        checks = check_cells(nb.cells, i)
        assert checks, f"{nb_path.stem} {ident}: no check cell follows the exercise"
        after[checks[-1]] = (ident, checks)

    env_bin = os.path.dirname(sys.executable)  # the kernel runs this environment's Python
    os.environ["PATH"] = env_bin + os.pathsep + os.environ.get("PATH", "")
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    failed, survived, refused = [], [], []
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            _run(client, cell, index)
            if index not in after:
                continue
            ident, checks = after[index]
            shown = verdicts_of(nb.cells[j] for j in checks)
            if not shown or any(v != "passed" for _, v in shown):
                failed.append((ident, "solution", shown))
            exercise_index = next(i for i, x in tagged.items() if x == ident)
            # nbclient stores each executed cell back into nb.cells at its index: keep the solution's cells, so
            # that "the solution again" below runs the solution, not the last variant
            kept = {i: nb.cells[i] for i in (exercise_index, *checks)}
            for kind, label, source in by_exercise.get(ident, []):
                trial = nbformat.v4.new_code_cell(source)
                _run(client, trial, exercise_index)
                trial_checks = [nbformat.v4.new_code_cell(nb.cells[j].source) for j in checks]
                for j, c in zip(checks, trial_checks):
                    _run(client, c, j)
                got = verdicts_of(trial_checks)
                ok = bool(got) and all(v == "passed" for _, v in got)
                if kind == "wrong" and ok:
                    survived.append(f"{ident}: {label}")
                elif kind == "valid" and not ok:
                    refused.append(f"{ident}: {label}: {got}")
            if by_exercise.get(ident):  # the solution again, as the rest of the notebook expects it
                for i, kept_cell in kept.items():
                    nb.cells[i] = kept_cell
                _run(client, nb.cells[exercise_index], exercise_index)
                for j in checks:
                    _run(client, nb.cells[j], j)
                shown = verdicts_of(nb.cells[j] for j in checks)
                if not shown or any(v != "passed" for _, v in shown):
                    failed.append((ident, "solution, after its variants", shown))
    assert not failed, f"{nb_path.name}: checks not passed with the solutions: {failed}"
    assert not survived, f"{nb_path.name}: wrong variants that passed their check (surviving mutants): {survived}"
    assert not refused, f"{nb_path.name}: valid variants told 'not yet': {refused}"
