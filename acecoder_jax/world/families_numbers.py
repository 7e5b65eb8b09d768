"""World families over integer arguments: arithmetic, weighted sums, thresholds, clamping, range sums."""

from __future__ import annotations

import random

from acecoder_jax.world.family import COMPARISONS, Family, Params
from acecoder_jax.world.inputs import integer

AFFINE = Family(
    name="affine",
    args="x",
    fn_names=("scale_and_shift", "linear_value", "transform_number", "compute_value"),
    grid={"a": tuple(range(2, 10)), "op": ("+", "-"), "b": tuple(range(1, 10))},
    program="def {fn}(x):\n    return x * {a} {op} {b}",
    questions=(
        "Write a function `{sig}` that takes an integer `x`, multiplies it by {a} and then {then} {b}. "
        "Return the result.",
        "Given an integer `x`, return `x` times {a} {sign} {b}. Implement this as `{sig}`.",
        "Implement `{sig}`: for an integer `x`, compute the value of {a} * x {op} {b} and return it.",
    ),
    inputs=lambda rng, p: (integer(rng),),
    phrases=lambda p: {
        "then": ("adds",) if p["op"] == "+" else ("subtracts",),
        "sign": ("plus",) if p["op"] == "+" else ("minus",),
    },
)

WEIGHTED_SUM = Family(
    name="weighted_sum",
    args="a, b",
    fn_names=("weighted_sum", "combine_values", "mix_values"),
    grid={"p": tuple(range(2, 7)), "op": ("+", "-"), "q": tuple(range(2, 7))},
    program="def {fn}(a, b):\n    return a * {p} {op} b * {q}",
    questions=(
        "Write a function `{sig}` that takes two integers and returns {p} times `a` {sign} {q} times `b`.",
        "You are given two integers `a` and `b`. Implement `{sig}` returning a * {p} {op} b * {q}.",
        "Implement `{sig}`: multiply `a` by {p}, multiply `b` by {q}, and return the first product "
        "{sign} the second.",
    ),
    inputs=lambda rng, p: (integer(rng, -10, 10), integer(rng, -10, 10)),
    phrases=lambda p: {"sign": ("plus",) if p["op"] == "+" else ("minus",)},
)

LABELS = (("big", "small"), ("high", "low"), ("yes", "no"), ("hot", "cold"))


def _threshold_input(rng: random.Random, p: Params) -> tuple[int]:
    return (integer(rng, int(p["k"]) - 4, int(p["k"]) + 4),)


THRESHOLD_LABEL = Family(
    name="threshold_label",
    args="x",
    fn_names=("classify_number", "label_value", "describe_number"),
    grid={"cmp": (">", "<", ">=", "<="), "k": tuple(range(10)), "labels": tuple(range(len(LABELS)))},
    program="def {fn}(x):\n    if x {cmp} {k}:\n        return '{yes}'\n    return '{no}'",
    questions=(
        "Write a function `{sig}` that returns the string '{yes}' if the integer `x` is {cmp_words} {k}, "
        "and '{no}' otherwise.",
        "Implement `{sig}`. Given an integer `x`, return '{yes}' when `x` is {cmp_words} {k}; in every "
        "other case return '{no}'.",
        "Classify an integer: `{sig}` should give '{yes}' for values {cmp_words} {k} and '{no}' for all "
        "other values.",
    ),
    inputs=_threshold_input,
    phrases=lambda p: {
        "cmp_words": COMPARISONS[str(p["cmp"])],
        "yes": (LABELS[int(p["labels"])][0],),
        "no": (LABELS[int(p["labels"])][1],),
    },
)

CLAMP = Family(
    name="clamp",
    args="x",
    fn_names=("clamp_value", "limit_value", "bound_value"),
    grid={"lo": tuple(range(6)), "hi": tuple(range(6, 13))},
    program="def {fn}(x):\n    return max({lo}, min(x, {hi}))",
    questions=(
        "Write a function `{sig}` that clamps the integer `x` to the range [{lo}, {hi}]: values below {lo} "
        "become {lo} and values above {hi} become {hi}.",
        "Implement `{sig}`, which returns `x` limited to lie between {lo} and {hi} inclusive.",
        "Given an integer `x`, return the closest integer to `x` in the interval from {lo} to {hi}. Name "
        "the function `{sig}`.",
    ),
    inputs=lambda rng, p: (integer(rng, -5, 18),),
)

RANGE_SUM = Family(
    name="range_sum",
    args="n",
    fn_names=("range_sum", "stepped_total", "sum_sequence"),
    grid={"start": tuple(range(5)), "step": tuple(range(1, 6))},
    program="def {fn}(n):\n    return sum(range({start}, n, {step}))",
    questions=(
        "Write a function `{sig}` that returns the sum of the integers {start}, {start} + {step}, "
        "{start} + 2 * {step}, ... that are less than `n`.",
        "Implement `{sig}`: starting at {start} and counting up in steps of {step}, add up every number "
        "below `n` and return the total.",
        "Given an integer `n`, return the sum of range({start}, n, {step}). Implement it as `{sig}`.",
    ),
    inputs=lambda rng, p: (integer(rng, 0, 30),),
)

NUMBER_FAMILIES = (AFFINE, WEIGHTED_SUM, THRESHOLD_LABEL, CLAMP, RANGE_SUM)
