"""Run every candidate program (the pool and the greedy answer) against its problem's tests in the executor.

Rows (run_dir/executions.jsonl, resumable per problem): {"id", "pass_rates": [float per sample],
"greedy_pass_rate": float or null}. A candidate counts as correct when it passes every test.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from executor.config import ExecutorConfig, open_executor

from .benchmarks import Problem
from .prompts import PromptStyle, candidate_code
from .run_rows import pending_problems, problem_key


def programs_for(problem: Problem, style: PromptStyle, completions: Sequence[str]) -> list[str]:
    """The executable program of each completion (code extracted, setup code prepended)."""
    return [problem.program(candidate_code(problem, style, c)) for c in completions]


def run_programs(jobs: Sequence[tuple[str, str, Sequence[Any]]], config: ExecutorConfig) -> dict[str, float]:
    """Pass rate per job id for (id, program, tests) triples, through the sandboxed executor."""
    from executor import Job

    with open_executor(config) as executor:
        results = executor.run([Job(job_id, program, list(tests)) for job_id, program, tests in jobs])
    return {job[0]: float(result.pass_rate) for job, result in zip(jobs, results)}


def execute_candidates(
    problems: Sequence[Problem],
    candidates: dict[str, dict[str, Any]],
    style: PromptStyle,
    config: ExecutorConfig,
    out_path: Path,
    *,
    problems_per_batch: int = 16,
) -> None:
    """Execute the candidates of every problem not yet in `out_path` (batches of problems, resumable)."""
    with pending_problems(problems, out_path, "executing") as (todo, write):
        for start in range(0, len(todo), problems_per_batch):
            group = todo[start : start + problems_per_batch]
            jobs = []
            for problem in group:
                key = problem_key(problem)
                row = candidates[key]
                for index, program in enumerate(programs_for(problem, style, row["samples"])):
                    jobs.append((f"{key}#{index}", program, problem.tests))
                if row.get("greedy") is not None:
                    jobs.append(
                        (f"{key}#greedy", programs_for(problem, style, [row["greedy"]])[0], problem.tests)
                    )
            rates = run_programs(jobs, config)
            for problem in group:
                key = problem_key(problem)
                row = candidates[key]
                write(
                    {
                        "id": key,
                        "pass_rates": [rates[f"{key}#{i}"] for i in range(len(row["samples"]))],
                        "greedy_pass_rate": rates.get(f"{key}#greedy"),
                    }
                )
