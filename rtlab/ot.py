"""Operational transformation for plain text, as a central server does it.

An operation is a list of components walked over the document from left to right:
``n > 0`` retains n characters, ``n < 0`` deletes -n characters, a ``str`` inserts it.
(This is the representation of ot.js and its descendants.) Three functions carry it:

* ``apply(doc, op)`` runs an operation;
* ``transform(a, b)`` takes two operations made concurrently on the same document and
  returns ``(a', b')`` with ``apply(apply(doc, a), b') == apply(apply(doc, b), a')``;
  when both insert at the same place, ``a``'s text goes first;
* ``compose(a, b)`` is one operation doing ``a`` then ``b``.

On the wire an edit is the simpler ``{"pos": P, "delete": N, "insert": S}`` (delete N
characters at P, then insert S there); a transformed operation that no longer fits one range
is sent as a list of such edits, applied in order.
"""
from __future__ import annotations

from collections.abc import Iterable

Component = int | str
Op = list[Component]


class OTError(ValueError):
    """An operation that does not fit the document it is applied to."""


def _is_retain(c: Component) -> bool:
    return isinstance(c, int) and c > 0


def _is_delete(c: Component) -> bool:
    return isinstance(c, int) and c < 0


class _Builder:
    """Appends components, merging neighbours, inserts before deletes (a canonical form)."""

    def __init__(self) -> None:
        self.ops: Op = []

    def retain(self, n: int) -> None:
        if n <= 0:
            return
        if self.ops and _is_retain(self.ops[-1]):
            self.ops[-1] += n
        else:
            self.ops.append(n)

    def insert(self, s: str) -> None:
        if not s:
            return
        ops = self.ops
        if ops and isinstance(ops[-1], str):
            ops[-1] += s
        elif ops and _is_delete(ops[-1]):
            if len(ops) > 1 and isinstance(ops[-2], str):
                ops[-2] += s
            else:
                ops.insert(len(ops) - 1, s)
        else:
            ops.append(s)

    def delete(self, n: int) -> None:
        if n <= 0:
            return
        if self.ops and _is_delete(self.ops[-1]):
            self.ops[-1] -= n
        else:
            self.ops.append(-n)

    def build(self) -> Op:
        ops = self.ops
        if ops and _is_retain(ops[-1]):  # a trailing retain carries no information
            ops.pop()
        return ops


def length_change(op: Op) -> int:
    """How much longer the document gets."""
    return sum(len(c) if isinstance(c, str) else min(c, 0) for c in op)


def apply(doc: str, op: Op) -> str:
    out, i = [], 0
    for c in op:
        if isinstance(c, str):
            out.append(c)
        elif c > 0:
            if i + c > len(doc):
                raise OTError(f"retain past the end of a document of length {len(doc)}")
            out.append(doc[i:i + c])
            i += c
        else:
            if i - c > len(doc):
                raise OTError(f"delete past the end of a document of length {len(doc)}")
            i -= c
    return "".join(out) + doc[i:]


def _pieces(op: Op) -> Iterable[Component]:
    yield from op
    while True:
        yield None


def transform(a: Op, b: Op) -> tuple[Op, Op]:
    """``(a', b')`` such that applying a then b' equals applying b then a'."""
    a1, b1 = _Builder(), _Builder()
    ia, ib = _pieces(a), _pieces(b)
    x, y = next(ia), next(ib)
    while x is not None or y is not None:
        if isinstance(x, str):
            a1.insert(x)
            b1.retain(len(x))
            x = next(ia)
            continue
        if isinstance(y, str):
            a1.retain(len(y))
            b1.insert(y)
            y = next(ib)
            continue
        if x is None:  # the rest of b only retains or deletes what is past a's end: implicit retains
            x = abs(y)
        if y is None:
            y = abs(x)
        if _is_retain(x) and _is_retain(y):
            m = min(x, y)
            a1.retain(m)
            b1.retain(m)
        elif _is_delete(x) and _is_delete(y):
            m = min(-x, -y)
        elif _is_delete(x):  # y retains
            m = min(-x, y)
            a1.delete(m)
        else:  # x retains, y deletes
            m = min(x, -y)
            b1.delete(m)
        x = _shrink(x, m) or next(ia)
        y = _shrink(y, m) or next(ib)
    return a1.build(), b1.build()


def _shrink(c: int, m: int) -> int:
    """c with m characters consumed (0 when used up)."""
    return c - m if c > 0 else c + m


def compose(a: Op, b: Op) -> Op:
    """One operation with the effect of ``a`` followed by ``b``."""
    out = _Builder()
    ia, ib = _pieces(a), _pieces(b)
    x, y = next(ia), next(ib)
    while x is not None or y is not None:
        if _is_delete(x):
            out.delete(-x)
            x = next(ia)
            continue
        if isinstance(y, str):
            out.insert(y)
            y = next(ib)
            continue
        if x is None:
            x = abs(y)  # b acts on the untouched tail of a's result
        if y is None:
            y = len(x) if isinstance(x, str) else x
        if isinstance(x, str):
            if _is_retain(y):
                m = min(len(x), y)
                out.insert(x[:m])
            else:
                m = min(len(x), -y)  # b deletes what a inserted: nothing left of it
            x = x[m:] or next(ia)
            y = _shrink(y, m) or next(ib)
        else:  # x retains
            m = min(x, abs(y))
            if _is_retain(y):
                out.retain(m)
            else:
                out.delete(m)
            x = _shrink(x, m) or next(ia)
            y = _shrink(y, m) or next(ib)
    return out.build()


# -- the wire form ------------------------------------------------------------------------------
def from_edit(pos: int, delete: int, insert: str, length: int) -> Op:
    """``{"pos", "delete", "insert"}`` on a document of ``length`` characters, as an operation."""
    if pos < 0 or delete < 0 or pos + delete > length:
        raise OTError(f"edit at {pos} deleting {delete} does not fit a document of length {length}")
    b = _Builder()
    b.retain(pos)
    b.insert(insert)
    b.delete(delete)
    return b.build()


def to_edits(op: Op) -> list[dict]:
    """An operation as sequential ``{"pos", "delete", "insert"}`` edits."""
    edits, pos = [], 0
    for c in op:
        if isinstance(c, str):
            edits.append({"pos": pos, "delete": 0, "insert": c})
            pos += len(c)
        elif c > 0:
            pos += c
        elif edits and edits[-1]["pos"] + len(edits[-1]["insert"]) == pos and not edits[-1]["delete"]:
            edits[-1]["delete"] = -c  # insert then delete at the same place: one replace
        else:
            edits.append({"pos": pos, "delete": -c, "insert": ""})
    return edits


def wire(op: Op) -> dict | list[dict]:
    """The contract's form: one edit when one range will do, else a list applied in order."""
    edits = to_edits(op)
    if not edits:
        return {"pos": 0, "delete": 0, "insert": ""}
    return edits[0] if len(edits) == 1 else edits


def from_wire(edits: dict | list[dict], length: int) -> Op:
    """The operation of one edit, or of a list of edits applied in order."""
    if isinstance(edits, dict):
        edits = [edits]
    op: Op = []
    for e in edits:
        step = from_edit(e["pos"], e["delete"], e["insert"], length)
        op = compose(op, step) if op else step
        length = length - e["delete"] + len(e["insert"])
    return op
