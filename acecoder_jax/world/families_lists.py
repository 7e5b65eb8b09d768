"""World families over a list of integers: map, filter, count, conditional sum, remainders, aggregates,
indexing. Filter, count and sum share one comprehension, so a held-out (family, condition) can be composed
from conditions seen in the other families."""

from __future__ import annotations

import random

from acecoder_jax.world.family import COMPARISONS, Family, Params, arithmetic_phrases
from acecoder_jax.world.inputs import int_list, near_list

_CONDITION_GRID = {"cmp": tuple(COMPARISONS), "k": tuple(range(10))}


def _condition_phrases(p: Params) -> dict[str, tuple[str, ...]]:
    return {"cmp_words": COMPARISONS[str(p["cmp"])]}


def _list_input(rng: random.Random, p: Params) -> tuple[list[int]]:
    return (int_list(rng),)


def _near_k_input(rng: random.Random, p: Params) -> tuple[list[int]]:
    return (near_list(rng, int(p["k"])),)


def _nonempty_list_input(rng: random.Random, p: Params) -> tuple[list[int]]:
    return (int_list(rng, min_len=1),)


LIST_MAP = Family(
    name="list_map",
    args="nums",
    fn_names=("map_values", "transform_list", "apply_to_all"),
    grid={"op": ("+", "-", "*", "//", "%"), "k": tuple(range(2, 10))},
    program="def {fn}(nums):\n    return [x {op} {k} for x in nums]",
    questions=(
        "Write a function `{sig}` that takes a list of integers and returns a new list in which every "
        "element is {op_words}.",
        "Given a list of integers `nums`, return a list of the same length where each value is {op_words}. "
        "Implement `{sig}`.",
        "Implement `{sig}`: compute x {op} {k} for every integer x in `nums` and return the results as a "
        "list, in order.",
    ),
    inputs=_list_input,
    phrases=lambda p: {"op_words": arithmetic_phrases(p["op"], p["k"])},
)

LIST_FILTER = Family(
    name="list_filter",
    args="nums",
    fn_names=("filter_values", "keep_matching", "select_numbers"),
    grid=_CONDITION_GRID,
    program="def {fn}(nums):\n    return [x for x in nums if x {cmp} {k}]",
    questions=(
        "Write a function `{sig}` that takes a list of integers and returns only the elements that are "
        "{cmp_words} {k}, keeping their original order.",
        "Given a list of integers `nums`, return a new list containing the values {cmp_words} {k}. "
        "Implement `{sig}`.",
        "Implement `{sig}`: keep every integer x in `nums` with x {cmp} {k} and drop the rest.",
    ),
    inputs=_near_k_input,
    phrases=_condition_phrases,
)

LIST_COUNT = Family(
    name="list_count",
    args="nums",
    fn_names=("count_matching", "count_values", "how_many"),
    grid=_CONDITION_GRID,
    program="def {fn}(nums):\n    return len([x for x in nums if x {cmp} {k}])",
    questions=(
        "Write a function `{sig}` that takes a list of integers and returns how many of its elements are "
        "{cmp_words} {k}.",
        "Given a list of integers `nums`, count the values that are {cmp_words} {k}. Implement `{sig}`.",
        "Implement `{sig}`: return the number of integers x in `nums` such that x {cmp} {k}.",
    ),
    inputs=_near_k_input,
    phrases=_condition_phrases,
)

LIST_SUM = Family(
    name="list_sum",
    args="nums",
    fn_names=("sum_matching", "conditional_sum", "total_of"),
    grid=_CONDITION_GRID,
    program="def {fn}(nums):\n    return sum([x for x in nums if x {cmp} {k}])",
    questions=(
        "Write a function `{sig}` that takes a list of integers and returns the sum of the elements that "
        "are {cmp_words} {k}.",
        "Given a list of integers `nums`, add up the values {cmp_words} {k} and return the total. "
        "Implement `{sig}`.",
        "Implement `{sig}`: return the sum of every integer x in `nums` with x {cmp} {k} (0 if there is "
        "none).",
    ),
    inputs=_near_k_input,
    phrases=_condition_phrases,
    allowed=lambda p: (p["cmp"], p["k"]) != ("==", 0),  # always 0
)

REMAINDER_COUNT = Family(
    name="remainder_count",
    args="nums",
    fn_names=("count_remainder", "count_by_mod", "remainder_hits"),
    grid={"m": tuple(range(2, 8)), "r": tuple(range(7))},
    program="def {fn}(nums):\n    return len([x for x in nums if x % {m} == {r}])",
    questions=(
        "Write a function `{sig}` that takes a list of integers and returns how many of them leave a "
        "remainder of {r} when divided by {m}.",
        "Given a list of integers `nums`, count the values x with x % {m} == {r}. Implement `{sig}`.",
        "Implement `{sig}`: return the number of elements of `nums` whose remainder modulo {m} is {r}.",
    ),
    inputs=_list_input,
    allowed=lambda p: int(p["r"]) < int(p["m"]),
)

_AGGREGATES = {
    "max": ("the largest element", "the maximum value"),
    "min": ("the smallest element", "the minimum value"),
    "sum": ("the sum of all elements", "the total of the list"),
    "len": ("the number of elements", "the length of the list"),
}

AGGREGATE = Family(
    name="aggregate",
    args="nums",
    fn_names=("summarize_list", "aggregate_list", "list_statistic"),
    grid={"agg": tuple(_AGGREGATES), "op": ("+", "-", "*"), "k": tuple(range(2, 10))},
    program="def {fn}(nums):\n    return {agg}(nums) {op} {k}",
    questions=(
        "Write a function `{sig}` that takes a non-empty list of integers and returns {agg_words} "
        "{op_words}.",
        "Given a non-empty list of integers `nums`, compute {agg_words}, then return it {op_words}. "
        "Implement `{sig}`.",
        "Implement `{sig}`: return {agg}(nums) {op} {k} for a non-empty list of integers `nums`.",
    ),
    inputs=_nonempty_list_input,
    phrases=lambda p: {
        "agg_words": _AGGREGATES[str(p["agg"])],
        "op_words": arithmetic_phrases(p["op"], p["k"]),
    },
)

_POSITIONS = {0: "first", 1: "second", 2: "third", -1: "last"}
_COMBINE = {"+": ("plus", "added to"), "-": ("minus",), "*": ("times", "multiplied by")}

PICK_PAIR = Family(
    name="pick_pair",
    args="nums",
    fn_names=("combine_positions", "pick_and_combine", "element_math"),
    grid={"i": tuple(_POSITIONS), "op": tuple(_COMBINE), "j": tuple(_POSITIONS)},
    program="def {fn}(nums):\n    return nums[{i}] {op} nums[{j}]",
    questions=(
        "Write a function `{sig}` that takes a list of at least three integers and returns the {first} "
        "element {op_words} the {second} element.",
        "Given a list `nums` of three or more integers, return nums[{i}] {op} nums[{j}]. Implement `{sig}`.",
        "Implement `{sig}`: take the {first} and the {second} value of `nums` (it has at least three "
        "elements) and return the first {op_words} the second.",
    ),
    inputs=lambda rng, p: (int_list(rng, min_len=3),),
    phrases=lambda p: {
        "first": (_POSITIONS[int(p["i"])],),
        "second": (_POSITIONS[int(p["j"])],),
        "op_words": _COMBINE[str(p["op"])],
    },
    allowed=lambda p: p["i"] != p["j"],
)

LIST_FAMILIES = (LIST_MAP, LIST_FILTER, LIST_COUNT, LIST_SUM, REMAINDER_COUNT, AGGREGATE, PICK_PAIR)
