"""`Family`: one kind of world task, a parameter grid, its reference program and its question templates.

A problem is a family plus one point of its grid (the "params", e.g. `{"cmp": ">", "k": 3}`). The program and
the question are format templates over the params and a few phrase fields; the function name, the template
and each phrase's wording are picked per problem, so questions are templated but varied while the program
stays one regular shape per family.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Value = int | str
Params = dict[str, Value]
# (problem rng, params) -> the arguments of one test call
Inputs = Callable[[random.Random, Params], tuple[Any, ...]]
# params -> phrase field -> the wordings to pick from (one is chosen per problem)
Phrases = Callable[[Params], Mapping[str, Sequence[str]]]


def _no_phrases(params: Params) -> Mapping[str, Sequence[str]]:
    return {}


def _always(params: Params) -> bool:
    return True


@dataclasses.dataclass(frozen=True)
class Family:
    """A task family; `program` and `questions` are str.format templates over params, phrases and `fn`."""

    name: str
    args: str  # the function's parameters as written in its signature, e.g. "nums" or "a, b"
    fn_names: tuple[str, ...]  # one is picked per problem
    grid: Mapping[str, Sequence[Value]]  # every combination allowed by `allowed` is one problem
    program: str  # the whole reference program; `{fn}` is the function name
    questions: tuple[str, ...]  # `{sig}` is "fn(args)"; one template is picked per problem
    inputs: Inputs
    phrases: Phrases = _no_phrases
    allowed: Callable[[Params], bool] = _always

    def combos(self) -> list[Params]:
        """Every allowed point of the grid, in grid order."""
        keys = list(self.grid)
        points = (dict(zip(keys, values)) for values in itertools.product(*self.grid.values()))
        return [p for p in points if self.allowed(p)]


# Comparison operators and how questions say them.
COMPARISONS: dict[str, tuple[str, ...]] = {
    ">": ("greater than", "larger than", "strictly greater than"),
    "<": ("less than", "smaller than", "strictly less than"),
    ">=": ("greater than or equal to", "at least"),
    "<=": ("less than or equal to", "at most"),
    "==": ("equal to", "exactly"),
    "!=": ("not equal to", "different from"),
}

# Arithmetic applied with a constant k: how a question says "x OP k".
ARITHMETIC: dict[str, tuple[str, ...]] = {
    "+": ("increased by {k}", "plus {k}"),
    "-": ("decreased by {k}", "minus {k}"),
    "*": ("multiplied by {k}", "times {k}"),
    "//": ("integer-divided by {k}", "floor-divided by {k}"),
    "%": ("taken modulo {k}", "reduced modulo {k}"),
}


def arithmetic_phrases(op: Value, k: Value) -> tuple[str, ...]:
    """The wordings of "OP k" with the constant filled in."""
    return tuple(text.format(k=k) for text in ARITHMETIC[str(op)])
