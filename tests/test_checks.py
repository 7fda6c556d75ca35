"""The exercise-check framework itself (rtlab.tools.checks), with no notebook and no server."""
from __future__ import annotations

import asyncio
import sys
import types

import pytest

from rtlab.tools import checks
from rtlab.tools.checks import (
    Grader,
    NotYet,
    check,
    exercise,
    expect,
    expect_json,
    expect_same_items,
    first_difference,
)


def test_the_first_difference_is_named_not_cut_off():
    expected = [("message", {"step": i}) for i in range(20)]
    got = expected[:7] + [("message", {"step": 99})] + expected[8:]
    assert first_difference(expected, got) == "[7][1]['step']: expected 7, got 99"
    assert "first missing one is ('message', {'step': 19})" in first_difference(expected, expected[:-1])
    assert "has no key 'b'" in first_difference({"a": 1, "b": 2}, {"a": 1})
    assert first_difference({"a": [1, 2]}, {"a": [1, 2]}) is None


def test_json_is_compared_by_meaning_not_spelling():
    expect_json("reply", '{"b": 2,  "a": [1, 2]}', {"a": [1, 2], "b": 2})
    expect_json("reply", {"a": 1}, {"a": 1})  # already decoded
    with pytest.raises(NotYet, match="not JSON"):
        expect_json("reply", "{'a': 1}", {"a": 1})  # a Python repr is not JSON
    with pytest.raises(NotYet, match=r"\['a'\]: expected 1, got 2"):
        expect_json("reply", '{"a": 2}', {"a": 1})


def test_same_items_ignores_order_but_counts_repeats():
    expect_same_items("users", [{"u": "b"}, {"u": "a"}], [{"u": "a"}, {"u": "b"}])
    with pytest.raises(NotYet, match="missing"):
        expect_same_items("users", ["a"], ["a", "a"])
    with pytest.raises(NotYet, match="not expected 'c'"):
        expect_same_items("users", ["a", "c"], ["a"])


async def test_a_check_prints_one_line_and_never_raises(capsys):
    def stub():
        raise NotImplementedError("your turn: write it")

    def wrong():
        expect("the answer", 41, 42)

    async def learners_own_timeout():
        async with asyncio.timeout(0.01):
            await asyncio.Event().wait()

    async def hangs():
        await asyncio.Event().wait()

    assert not await check("stub", stub, hint="h")
    assert not await check("wrong", wrong, hint="the property")
    assert not await check("own timeout", learners_own_timeout)
    assert not await check("hangs", hangs, timeout=0.05)
    assert await check("fine", lambda: None)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "… stub: not yet: your turn: write it",  # no hint before a try
        "✗ wrong: not yet: the answer: expected 42, got 41 (hint: the property)",
        "✗ own timeout: not yet: TimeoutError: ",  # the learner's TimeoutError, not the check's limit
        "✗ hangs: not yet: no answer within 0.05 s",
        "✓ fine: passed",
    ]


async def test_a_grader_runs_a_modules_check_against_the_notebooks_names(capsys, monkeypatch):
    module = types.ModuleType("rtlab.tools.checks.nb_test_only")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(checks._registry, module.__name__, {})  # gone with the test: it may run again

    def doubled(nb):
        expect("double(2)", nb.double(2), 4)

    doubled.__module__ = module.__name__
    exercise("double", "doubling", hint="twice the input")(doubled)
    assert await Grader("nb_test_only", {"double": lambda x: x * 2}).check("double")
    assert not await Grader("nb_test_only", {"double": lambda x: x + 2 + 1}).check("double")
    assert not await Grader("nb_test_only", {}).check("double")
    with pytest.raises(KeyError, match="no exercise 'triple'"):
        await Grader("nb_test_only", {}).check("triple")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "✓ doubling: passed"
    assert lines[1] == "✗ doubling: not yet: double(2): expected 4, got 5 (hint: twice the input)"
    assert lines[2].startswith("✗ doubling: not yet: there is no 'double' yet")
