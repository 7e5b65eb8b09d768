"""test-strength (beyond the paper): the mutation score of each question's tests.

A reference solution (the oracle's, the seed program, or a sampled program that passed every test) must pass
all tests; then each AST mutant of it is run on the tests and counts as killed when any test does not pass.
Score = killed / mutants. Questions whose tests kill no mutant are flagged: they cannot tell programs apart.
AceCoder never checks this.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any

from data_gen.execution import make_job, passed_flags
from data_gen.mutation import mutants
from data_gen.row_shards import WHOLE_INPUT, Shard
from data_gen.stages.lazy import Lazy
from data_gen.stages.streaming import OK, REJECTED, Item, Outcome, StageStats, run_stage
from executor.config import ExecutorConfig, open_executor
from executor.jsonl import JsonlError

_REFERENCE_FIELDS = ("oracle_solution", "program")


@dataclasses.dataclass
class StrengthOptions:
    """Mutant budget and where the reference solution comes from."""

    max_mutants: int = 20
    solution_field: str | None = None  # default: oracle_solution, then program, then a passing inference


def reference_and_tests(
    row: dict[str, Any], where: str, solution_field: str | None
) -> tuple[str | None, list[str]]:
    """The row's reference solution (None when it has none) and its tests (`tests` or `test_cases`)."""
    tests = row.get("tests", row.get("test_cases"))
    if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
        raise JsonlError(f"{where}: needs a list of string tests in field 'tests' or 'test_cases'")
    if solution_field is not None:
        value = row.get(solution_field)
        if not isinstance(value, str):
            raise JsonlError(f"{where}: field {solution_field!r} must hold the reference solution (str)")
        return value, tests
    for field in _REFERENCE_FIELDS:
        if isinstance(row.get(field), str):
            return row[field], tests
    for inference in row.get("inferences") or []:
        if (
            isinstance(inference, dict)
            and inference.get("pass_rate") == 1
            and isinstance(inference.get("completion"), str)
        ):
            return inference["completion"], tests
    return None, tests


def run_test_strength(
    input_path: str | Path,
    output_path: str | Path,
    executor_config: ExecutorConfig,
    options: StrengthOptions | None = None,
    *,
    shard: Shard = WHOLE_INPUT,
    progress: bool = True,
) -> StageStats:
    """Run the stage; rows without a passing reference go to the `.rejected.jsonl` sidecar with the reason."""
    options = options or StrengthOptions()
    with contextlib.ExitStack() as stack:
        executor = Lazy(lambda: open_executor(executor_config), stack)

        def process(batch: list[Item]) -> list[list[Outcome]]:
            plans, jobs = [], []
            for where, row in batch:
                reference, tests = reference_and_tests(row, where, options.solution_field)
                if reference is None or not tests:
                    plans.append((row, None, [], 0))
                    continue
                row_mutants = mutants(reference, options.max_mutants)
                start = len(jobs)
                jobs.append(make_job(f"{row['id']}#ref", reference, tests))
                jobs += [make_job(f"{row['id']}#m{i}", m.program, tests) for i, m in enumerate(row_mutants)]
                plans.append((row, row_mutants, tests, start))
            results = executor.get().run(jobs) if jobs else []
            outcomes = []
            for row, row_mutants, tests, start in plans:
                if row_mutants is None:
                    outcomes.append(
                        [(REJECTED, {"id": row["id"], "reason": "no reference solution or no tests"})]
                    )
                    continue
                reference_flags = passed_flags(results[start])
                if not all(reference_flags):
                    reason = f"reference passes {sum(reference_flags)}/{len(tests)} tests"
                    outcomes.append([(REJECTED, {"id": row["id"], "reason": reason})])
                    continue
                survivors = [
                    m.description
                    for m, result in zip(row_mutants, results[start + 1 : start + 1 + len(row_mutants)])
                    if all(passed_flags(result))
                ]
                killed = len(row_mutants) - len(survivors)
                score = killed / len(row_mutants) if row_mutants else None
                outcome = {
                    "id": row["id"],
                    "tests": len(tests),
                    "mutants": len(row_mutants),
                    "killed": killed,
                    "mutation_score": score,
                    "flagged": bool(row_mutants) and killed == 0,
                    "survivors": survivors,
                }
                outcomes.append([(OK, outcome)])
            return outcomes

        return run_stage(
            name="test-strength",
            input_path=input_path,
            output_path=output_path,
            process=process,
            shard=shard,
            batch_size=4,
            progress=progress,
        )
