"""`make_problem`: one world problem (question, reference program, assert tests) from a family and params.

Expected values come from running the reference program here, in the generating process: it is code this
module wrote from a fixed template, never model output. Every choice is drawn from an rng seeded by
(world seed, family, grid index), so a problem does not depend on which other problems are generated.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from acecoder_jax.world.family import Family, Params

NUM_TESTS = 8
_MAX_DRAWS = 500


class WorldError(ValueError):
    """A family whose definition cannot produce a valid problem."""


@dataclasses.dataclass(frozen=True)
class Problem:
    """A world task: question text, the reference solution and its assert tests."""

    id: str
    family: str
    params: Params
    fn: str
    question: str
    reference: str
    tests: list[str]


def problem_rng(seed: int, family: Family, index: int) -> random.Random:
    """The rng of problem `index` of `family` (str seeds hash with sha512: stable across processes)."""
    return random.Random(f"acecoder-world|{seed}|{family.name}|{index}")


def make_problem(
    family: Family, params: Params, index: int, seed: int, num_tests: int = NUM_TESTS
) -> Problem:
    """Build the problem at grid point `params` (number `index` of the family's combos)."""
    rng = problem_rng(seed, family, index)
    fn = rng.choice(family.fn_names)
    fields: dict[str, Any] = {key: str(value) for key, value in params.items()}
    fields.update({name: rng.choice(tuple(options)) for name, options in family.phrases(params).items()})
    fields.update(fn=fn, sig=f"{fn}({family.args})")
    reference = family.program.format(**fields)
    question = rng.choice(family.questions).format(**fields)
    tests = _tests(family, params, fn, reference, rng, num_tests)
    return Problem(
        id=f"world_{family.name}_{index:03d}",
        family=family.name,
        params=dict(params),
        fn=fn,
        question=question,
        reference=reference,
        tests=tests,
    )


def _tests(
    family: Family, params: Params, fn: str, reference: str, rng: random.Random, num_tests: int
) -> list[str]:
    """`num_tests` distinct `assert fn(args) == expected` lines with at least two distinct expected values."""
    namespace: dict[str, Any] = {}
    exec(compile(reference, f"<world {family.name}>", "exec"), namespace)
    function = namespace[fn]
    seen: set[str] = set()
    cases: list[tuple[str, str]] = []
    for _ in range(_MAX_DRAWS):
        args = family.inputs(rng, params)
        call = f"{fn}({', '.join(repr(a) for a in args)})"
        if call in seen:
            continue
        try:
            expected = repr(function(*args))
        except Exception:  # an input outside the function's domain (e.g. max of []): draw another
            continue
        # The last slot must add a second distinct answer, so a constant program cannot pass every test.
        if len(cases) == num_tests - 1 and {e for _, e in cases} == {expected}:
            continue
        seen.add(call)
        cases.append((call, expected))
        if len(cases) == num_tests:
            return [f"assert {call} == {expected}" for call, expected in cases]
    raise WorldError(
        f"family {family.name!r} params {params}: only {len(cases)} distinct tests in {_MAX_DRAWS}"
    )
