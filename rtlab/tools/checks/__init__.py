"""Exercise checks for the notebooks: a clear one-line verdict, never a stopped *Run All*.

An exercise cell ships unsolved: its function body raises ``NotImplementedError("your turn:
...")``, saying *what* to write (never how). The check cell after it is one readable call, as
otter-grader's ``grader.check("q1")`` is::

    from rtlab.tools.checks import Grader
    grader = Grader("nb05", globals())        # once, before the exercises
    await grader.check("room-of-your-own")    # in the cell after the exercise

The check itself lives out of the learner's view, in this package's module for the notebook
(``rtlab/tools/checks/nb05.py``), registered with :func:`exercise`. A learner who wants to see
the tests can open that module; the cell shows none of them, so nothing gives the answer away
before a first try. A check is a function of the notebook's namespace::

    @exercise("room-of-your-own", "a room of your own",
              hint="which announcement counts: the one naming the last user, compared exactly "
                   "(section 3, 'Who is in the room')")
    async def room_of_your_own(nb):
        got = await nb.counts_at_last_join(...)
        expect("users_count each member sees", got, [3, 3, 3])

It prints exactly one line and never raises, so the cells after it still run:

* ``✓ NAME: passed``
* ``… NAME: not yet: your turn: ...`` (the stub is still there)
* ``✗ NAME: not yet: WHAT: expected X, got Y (hint: ...)``: the first item where expected and got
  differ, then the hint, shown only after a try. A hint names the property that failed and where
  the notebook teaches it; it never holds the solution's code.

Compare meaning, not spelling: :func:`expect_json` parses a text before comparing it, and
:func:`expect_same_items` compares without order where order is not part of the task.

The lab's tests (``tests/test_exercises.py``) put each solution from ``notebooks/solutions/`` in
place of its stub and require ``passed``; then they run every variant of
``notebooks/solutions/variants/``: each wrong one must get ``not yet`` (a wrong variant that passes
is a *surviving mutant*: the check misses the bug it is for), each valid one ``passed``.
"""
from __future__ import annotations

import asyncio
import importlib
import inspect
import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

PASSED = "passed"
NOT_YET = "not yet"
TIMEOUT = 20.0  # seconds a check may take: a hung solution is a failed check, not a hung kernel

__all__ = ["Grader", "NotYet", "Verdict", "check", "exercise", "expect", "expect_json", "expect_same_items",
           "expect_true", "registered"]


class Verdict:
    """Whether a check passed: true or false, and shown as nothing in a notebook (the check printed
    its line already)."""

    __slots__ = ("passed",)

    def __init__(self, passed: bool) -> None:
        self.passed = passed

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"Verdict(passed={self.passed})"

    def _ipython_display_(self) -> None:
        pass


class NotYet(AssertionError):
    """A check's failure: what was expected and what came back, in one line."""


# -- comparing -------------------------------------------------------------------------------
_MISSING = object()


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def first_difference(expected: Any, got: Any, where: str = "") -> str | None:
    """Where ``got`` first differs from ``expected``, in words; None when they are equal.

    Lists and tuples are walked item by item, dicts key by key, so a long value is never cut off
    before the part that differs."""
    if got == expected:
        return None
    if isinstance(expected, (list, tuple)) and isinstance(got, (list, tuple)):
        for i, (e, g) in enumerate(zip(expected, got)):
            if (d := first_difference(e, g, f"{where}[{i}]")) is not None:
                return d
        if len(got) < len(expected):
            return (f"{where or 'the result'} has {len(got)} items, {len(expected)} expected; "
                    f"the first missing one is {_short(expected[len(got)])}")
        return (f"{where or 'the result'} has {len(got)} items, {len(expected)} expected; "
                f"the first extra one is {_short(got[len(expected)])}")
    if isinstance(expected, Mapping) and isinstance(got, Mapping):
        for key in expected:
            if key not in got:
                return f"{where or 'the result'} has no key {key!r} (expected {_short(expected[key])})"
            if (d := first_difference(expected[key], got[key], f"{where}[{key!r}]")) is not None:
                return d
        extra = [k for k in got if k not in expected]
        return f"{where or 'the result'} has a key not expected: {extra[0]!r} = {_short(got[extra[0]])}"
    return f"{where + ': ' if where else ''}expected {_short(expected)}, got {_short(got)}"


def expect(what: str, got: Any, expected: Any) -> None:
    """Fail the check unless ``got == expected``; the message shows the first difference."""
    if (d := first_difference(expected, got)) is not None:
        raise NotYet(f"{what}: {d}")


def expect_json(what: str, text: Any, expected: Any) -> None:
    """Fail unless ``text`` is JSON whose value equals ``expected``: spacing and key order are spelling,
    not meaning. ``text`` may also be an already-decoded value (a dict from ``receive_json``)."""
    value = text
    if isinstance(text, (str, bytes, bytearray)):
        try:
            value = json.loads(text)
        except ValueError:
            raise NotYet(f"{what}: expected JSON {_short(expected)}, got text that is not JSON: {_short(text)}") \
                from None
    expect(what, value, expected)


def _key(item: Any) -> Any:
    try:
        hash(item)
        return item
    except TypeError:
        return json.dumps(item, sort_keys=True, default=repr)


def expect_same_items(what: str, got: Any, expected: Any) -> None:
    """Fail unless ``got`` holds the same items as ``expected``, each as many times, in any order."""
    got_c, exp_c = Counter(map(_key, got)), Counter(map(_key, expected))
    if got_c == exp_c:
        return
    missing, extra = exp_c - got_c, got_c - exp_c
    parts = []
    if missing:
        parts.append(f"missing {_short(next(iter(missing)))}")
    if extra:
        parts.append(f"not expected {_short(next(iter(extra)))}")
    raise NotYet(f"{what}: {'; '.join(parts)} ({sum(got_c.values())} items, {sum(exp_c.values())} expected)")


def expect_true(what: str, condition: bool, detail: str = "") -> None:
    """Fail the check unless ``condition``; ``detail`` says what came back."""
    if not condition:
        raise NotYet(f"{what}" + (f" ({detail})" if detail else ""))


# -- running ---------------------------------------------------------------------------------
async def check(name: str, test: Callable[[], Any], hint: str = "", timeout: float = TIMEOUT) -> Verdict:
    """Run ``test`` (sync or async); print one verdict line; True when it passed."""
    scope = None
    try:
        async with asyncio.timeout(timeout) as scope:
            result = test()
            if inspect.isawaitable(result):
                await result
    except NotImplementedError as exc:
        print(f"… {name}: {NOT_YET}: {exc or 'replace the stub with your code'}")
        return Verdict(False)
    except Exception as exc:  # any fault of the learner's code is a verdict, not a stopped notebook
        if isinstance(exc, TimeoutError) and scope is not None and scope.expired():  # the check's own limit,
            # not a TimeoutError that the learner's code raised (that one is reported as what it is)
            print(f"✗ {name}: {NOT_YET}: no answer within {timeout:g} s" + (f" (hint: {hint})" if hint else ""))
            return Verdict(False)
        detail = str(exc) if isinstance(exc, AssertionError) and str(exc) else f"{type(exc).__name__}: {exc}"
        print(f"✗ {name}: {NOT_YET}: {detail}" + (f" (hint: {hint})" if hint else ""))
        return Verdict(False)
    print(f"✓ {name}: {PASSED}")
    return Verdict(True)


@dataclass(frozen=True)
class Exercise:
    """A registered check: the exercise's id (its cell tag ``exercise:ID``), the name its verdict line
    shows, the hint shown after a failed try, and the check function of the notebook's namespace."""

    ident: str
    name: str
    hint: str
    test: Callable[[Any], Any]
    timeout: float = TIMEOUT


_registry: dict[str, dict[str, Exercise]] = {}  # module name -> exercise id -> Exercise


def exercise(ident: str, name: str, *, hint: str, timeout: float = TIMEOUT) -> Callable:
    """Register the decorated function as the check of exercise ``ident`` in its notebook's module."""
    def register(test: Callable[[Any], Any]) -> Callable[[Any], Any]:
        module = _registry.setdefault(test.__module__, {})
        if ident in module:
            raise ValueError(f"exercise {ident!r} registered twice in {test.__module__}")
        module[ident] = Exercise(ident, name, hint, test, timeout)
        return test
    return register


def registered(notebook: str) -> dict[str, Exercise]:
    """The exercises of a notebook's check module (``"nb05"`` or ``"rtlab.tools.checks.nb05"``)."""
    module = importlib.import_module(_module_name(notebook))
    return dict(_registry.get(module.__name__, {}))


def _module_name(notebook: str) -> str:
    return notebook if "." in notebook else f"{__name__}.{notebook}"


class Namespace:
    """The notebook's globals as attributes: ``nb.counts_at_last_join``. A name the learner has not
    defined yet is a verdict ("run the exercise's cell first"), not a NameError in the check."""

    def __init__(self, names: Mapping[str, Any]) -> None:
        self._names = names

    def __getattr__(self, name: str) -> Any:
        try:
            return self._names[name]
        except KeyError:
            raise NotYet(f"there is no {name!r} yet: run the exercise's cell (and the cells above it) first") \
                from None

    def __contains__(self, name: str) -> bool:
        return name in self._names


class Grader:
    """The exercises of one notebook, checked against that notebook's namespace (pass ``globals()``)."""

    def __init__(self, notebook: str, namespace: Mapping[str, Any]) -> None:
        self.module = _module_name(notebook)
        self.exercises = registered(notebook)
        self.namespace = Namespace(namespace)

    async def check(self, ident: str) -> Verdict:
        """Run the check of exercise ``ident``; print its one line; True when it passed."""
        try:
            ex = self.exercises[ident]
        except KeyError:
            raise KeyError(f"no exercise {ident!r} in {self.module}: {sorted(self.exercises)}") from None
        return await check(ex.name, lambda: ex.test(self.namespace), hint=ex.hint, timeout=ex.timeout)

    def __repr__(self) -> str:
        return f"<Grader {self.module}: {len(self.exercises)} exercises>"
