"""The trusted verdict: evaluate an assert's glue over the plain values the child returned, or compare stdout.

Values reaching here are builtin data decoded on the trusted side, so comparing them runs no program code.
Equality is Python's, except that floats (also inside lists, tuples and dict values) match within
1e-6 absolute + 1e-7 relative, as evalplus does for float outputs.
"""

from __future__ import annotations

import builtins
import math
import re
from typing import Any

from executor.collisions import safe_dict, safe_frozenset, safe_set
from executor.equality import _floats_close, values_equal
from executor.plan import SAFE_FUNCS, SAFE_NAMES, TestPlan

MAX_ITEMS = 10_000_000
MAX_POW_BITS = 1_000_000
MAX_FORMAT_WIDTH = 100_000
_DIGITS = re.compile(r"\d+")


class LeafFailed(Exception):
    """A program expression the verdict needs raised, or returned something that is not plain data."""

    def __init__(self, outcome: str, error: str) -> None:
        super().__init__(error)
        self.outcome, self.error = outcome, error


def _same(a: Any, b: Any) -> bool:
    return bool(a == b)


def _mul(a: Any, b: Any) -> Any:
    for seq, n in ((a, b), (b, a)):
        if (
            isinstance(seq, str | bytes | list | tuple)
            and type(n) in (int, bool)
            and len(seq) * n > MAX_ITEMS
        ):
            raise ValueError("test expression too large to evaluate")
    return a * b


def _pow(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int and b > 0 and max(a.bit_length(), 1) * b > MAX_POW_BITS:
        raise ValueError("test expression too large to evaluate")
    return a**b


def _mod(a: Any, b: Any) -> Any:
    # str/bytes % args is formatting: a program-returned "%0400000000d" would allocate 400 MB here.
    if isinstance(a, str | bytes):
        text = a.decode("latin-1") if isinstance(a, bytes) else a
        widths = _DIGITS.findall(text) if len(text) <= MAX_FORMAT_WIDTH else ["0" * 7]
        if "*" in text or any(len(n) > 6 or int(n) > MAX_FORMAT_WIDTH for n in widths):
            raise ValueError("test expression too large to evaluate")
    return a % b


def judge_split(
    plan: TestPlan, reply: dict[str, Any], pure: dict[str, tuple] | None = None
) -> tuple[str, str | None, str]:
    """(outcome, error, mode) for a split test given the child's leaf values and the program-free ones."""
    pure = pure or {}
    values = reply.get("values", [])
    failed = reply.get("failed")
    groups = reply.get("groups", {})
    mode = ["whole" if plan.child_judged else "split"]
    failed_outcome = "memory" if reply.get("kind") == "memory" else "error"

    accessed: list[int] = []

    def leaf(index: int) -> Any:
        accessed.append(index)
        if failed is not None and index >= failed:
            note = "" if index == failed else " (an earlier expression of this test raised)"
            raise LeafFailed(failed_outcome, str(reply.get("error", "expression raised")) + note)
        if index in plan.pure:
            return _pure_value(pure.get(plan.leaf_sources[index]))
        tag, value = values[index]
        if tag != "v":
            raise LeafFailed(
                "fail", f"returned a value that is not plain data ({value}); only builtin data compares"
            )
        return value

    def group(index: int, thunk: Any) -> Any:
        if index in groups:
            mode[0] = "whole"
            return groups[index]
        return thunk()

    def all_(thunks: list[Any]) -> bool:
        for thunk in thunks:
            accessed.clear()
            if not thunk():
                return False
        return True

    scope = {name: getattr(builtins, name) for name in SAFE_FUNCS | SAFE_NAMES}
    scope.update(
        __builtins__={},
        math=math,
        bytes=bytes,
        _leaf=leaf,
        _group=group,
        _eq=values_equal,
        _same=_same,
        _mul=_mul,
        _pow=_pow,
        _mod=_mod,
        _set=safe_set,
        _frozenset=safe_frozenset,
        _dict=safe_dict,
        _all=all_,
    )
    try:
        passed = eval(plan.glue, scope)
    except LeafFailed as err:
        return err.outcome, err.error, mode[0]
    except MemoryError:
        return "error", "test expression too large to evaluate", mode[0]
    except Exception as err:
        return "error", f"{type(err).__name__}: {err}", mode[0]
    if passed:
        return "pass", None, mode[0]
    sources = plan.leaf_sources or plan.request["leaves"]
    shown = [i for i in dict.fromkeys(accessed) if i not in plan.pure]
    got = "; ".join(f"{sources[i][:80]} returned {_short(values[i][1])}" for i in shown)
    return "fail", "assertion failed" + (f": {got}" if got else ""), mode[0]


def _pure_value(entry: tuple | None) -> Any:
    """The value of a program-free leaf (computed without the program), or the reason it has none."""
    if entry is None:
        raise LeafFailed("error", "expected value was not evaluated")
    if entry[0] == "e":
        raise LeafFailed(entry[1], f"the test's expected side raised: {entry[2]}")
    if entry[0] != "v":
        raise LeafFailed("error", f"the test's expected side is not plain data ({entry[1]})")
    return entry[1]


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int too long for repr
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 120 else text[:117] + "..."


def outputs_match(actual: str, expected: str) -> bool:
    """Stdout matches when lines agree after trimming trailing blanks; numbers within tolerance."""
    got, want = _lines(actual), _lines(expected)
    if got == want:
        return True
    if len(got) != len(want):
        return False
    for line_got, line_want in zip(got, want):
        tokens_got, tokens_want = line_got.split(), line_want.split()
        if len(tokens_got) != len(tokens_want):
            return False
        for a, b in zip(tokens_got, tokens_want):
            if a != b and not _numbers_close(a, b):
                return False
    return True


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _numbers_close(got: str, want: str) -> bool:
    """Tolerance only when the trusted expected token is a float (an int answer must match exactly)."""
    if not _looks_float(want):
        return False
    try:
        x, y = float(got), float(want)
    except ValueError:
        return False
    return _floats_close(x, y)


def _looks_float(token: str) -> bool:
    return any(c in token for c in ".eE") or token.lower().lstrip("+-") in ("inf", "infinity", "nan")
