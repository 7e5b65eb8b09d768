"""The trusted verdict: evaluate an assert's glue over the plain values the child returned, or compare stdout.

Values reaching here are builtin data decoded on the trusted side, so comparing them runs no program code.
Equality is Python's, except that floats (also inside lists, tuples and dict values) match within
1e-6 absolute + 1e-7 relative, as evalplus does for float outputs.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

from executor.collisions import safe_dict, safe_frozenset, safe_set
from executor.equality import _floats_close, values_equal
from executor.glue import SAFE_NAMES
from executor.plain_ops import (
    BUILTIN_FUNCTIONS,
    PLAIN_TYPES,
    StepBudget,
    TrustedError,
    call_method,
    fstring,
    get_attribute,
    lshift,
    mod,
    mul,
    power,
    trusted_operator,
)
from executor.plan import TestPlan

_OPERATOR = trusted_operator()
_PLAIN_BY_NAME = {kind.__name__: kind for kind in PLAIN_TYPES}


class LeafFailed(Exception):
    """A program expression the verdict needs raised, or returned something that is not plain data."""

    def __init__(self, outcome: str, error: str) -> None:
        super().__init__(error)
        self.outcome, self.error = outcome, error


def _same(a: Any, b: Any) -> bool:
    return bool(a == b)


def _method(obj: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """x.name(...) on the trusted side; `str.join(',', xs)` (a plain type's method called on the type) too."""
    if obj in PLAIN_TYPES and type(obj) is type:
        if not args or type(args[0]) is not obj:
            raise TrustedError(f"{obj.__name__}.{name} is evaluated only on a plain {obj.__name__} value")
        return call_method(args[0], name, *args[1:], **kwargs)
    return call_method(obj, name, *args, **kwargs)


def _foreign_type(qualname: str) -> type:
    """A stand-in for a program's (or library's) type: named like it, equal to no built-in type."""
    return type(qualname.rsplit(".", 1)[-1], (), {"__qualname__": qualname, "__module__": "<program>"})


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
        tag, value = values[index][0], values[index][1]
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

    def converted(indices: tuple[int, ...]) -> list[tuple]:
        """Conversion reports of these leaves' values (builtin subclasses, library types), if any."""
        found = []
        for i in indices:
            if i not in plan.pure and i < len(values) and len(values[i]) > 2 and values[i][2]:
                found.append(values[i][2])
        return found

    def type_(value: Any, *rest: Any) -> Any:
        *extra, indices, exact = rest
        if extra:
            raise TrustedError("type() with three arguments is not evaluated on the trusted side")
        reports = converted(indices)
        if reports and exact and reports[0][2]:
            return _foreign_type(reports[0][0])
        if reports and not exact:
            raise LeafFailed("fail", "type() of a value derived from a builtin subclass or library type")
        return type(value)

    def isinstance_(value: Any, *rest: Any) -> bool:
        *kinds, indices, exact = rest
        if len(kinds) != 1:
            raise TypeError(f"isinstance expected 2 arguments, got {len(kinds) + 1}")
        reports = converted(indices)
        if reports and exact and reports[0][2]:
            bases = [_PLAIN_BY_NAME[n] for n in reports[0][1]]
            return any(issubclass(base, kinds[0]) for base in bases)
        if reports and not exact:
            raise LeafFailed("fail", "isinstance() of a value derived from a builtin subclass or library")
        return isinstance(value, kinds[0])

    scope: dict[str, Any] = {name: getattr(builtins, name) for name in SAFE_NAMES}
    scope.update(BUILTIN_FUNCTIONS)
    steps = StepBudget()
    scope.update(
        __builtins__={},
        math=math,
        operator=_OPERATOR,
        _leaf=leaf,
        _group=group,
        _eq=values_equal,
        _same=_same,
        _mul=mul,
        _pow=power,
        _mod=mod,
        _lshift=lshift,
        _set=safe_set,
        _frozenset=safe_frozenset,
        _dict=safe_dict,
        _all=all_,
        _method=_method,
        _attr=get_attribute,
        _type=type_,
        _isinstance=isinstance_,
        _fstring=fstring,
        _iter=steps.iterate,
        _step=steps.step,
    )
    try:
        passed = eval(plan.glue, scope)
    except LeafFailed as err:
        return err.outcome, err.error, mode[0]
    except MemoryError:
        return "error", "test expression too large to evaluate", mode[0]
    except RecursionError:
        return "error", "test expression nested too deeply to evaluate", mode[0]
    except Exception as err:
        return "error", _short_error(err), mode[0]
    if passed:
        return "pass", None, mode[0]
    sources = plan.leaf_sources or plan.request["leaves"]
    shown = [i for i in dict.fromkeys(accessed) if i not in plan.pure]
    got = "; ".join(f"{sources[i][:80]} returned {_short(values[i][1])}" for i in shown[:8])
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


def _short_error(err: Exception) -> str:
    """`Type: message` of an error raised by trusted glue, bounded (it may quote a program value)."""
    try:
        text = f"{type(err).__name__}: {err}"
    except Exception:  # str() of an int too long to print, and the like
        text = type(err).__name__
    return text if len(text) <= 300 else text[:297] + "..."


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
