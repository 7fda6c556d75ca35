"""Exercise checks for the notebooks: a clear one-line verdict, never a stopped *Run All*.

An exercise cell ships unsolved: it holds a stub that raises ``NotImplementedError("your turn:
...")`` (or leaves ``...`` where the answer goes). The check cell after it calls::

    await check("a room of your own", my_check, hint="join with quote(room, safe='')")

``my_check`` is a function (plain or ``async``) that calls the learner's code and uses
:func:`expect` to compare. The check prints exactly one line:

* ``✓ NAME: passed``
* ``… NAME: not yet: your turn: ...`` (the stub is still there)
* ``✗ NAME: not yet: EXPECTED ... GOT ... (hint: ...)``

and returns a :class:`Verdict` (true when passed) that displays nothing, since the line says it all;
it never raises, so the cells after it still run. The lab's tests
put the solutions from ``notebooks/solutions/`` in place of the stubs, run each notebook, and
require every check to print ``passed`` (``tests/test_exercises.py``).
"""
from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

PASSED = "passed"
NOT_YET = "not yet"
TIMEOUT = 20.0  # seconds a check may take: a hung solution is a failed check, not a hung kernel


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


def expect(what: str, got: Any, expected: Any) -> None:
    """Fail the check unless ``got == expected``; the message names both."""
    if got != expected:
        raise NotYet(f"{what}: expected {_short(expected)}, got {_short(got)}")


def expect_true(what: str, condition: bool, detail: str = "") -> None:
    """Fail the check unless ``condition``; ``detail`` says what came back."""
    if not condition:
        raise NotYet(f"{what}" + (f" ({detail})" if detail else ""))


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


async def check(name: str, test: Callable[[], Any], hint: str = "", timeout: float = TIMEOUT) -> Verdict:
    """Run ``test`` (sync or async); print one verdict line; True when it passed."""
    try:
        async with asyncio.timeout(timeout):
            result = test()
            if inspect.isawaitable(result):
                await result
    except NotImplementedError as exc:
        print(f"… {name}: {NOT_YET}: {exc or 'replace the stub with your code'}")
        return Verdict(False)
    except TimeoutError:
        print(f"✗ {name}: {NOT_YET}: no answer within {timeout:g} s" + (f" (hint: {hint})" if hint else ""))
        return Verdict(False)
    except Exception as exc:  # any fault of the learner's code is a verdict, not a stopped notebook
        detail = str(exc) if isinstance(exc, AssertionError) and str(exc) else f"{type(exc).__name__}: {exc}"
        print(f"✗ {name}: {NOT_YET}: {detail}" + (f" (hint: {hint})" if hint else ""))
        return Verdict(False)
    print(f"✓ {name}: {PASSED}")
    return Verdict(True)
