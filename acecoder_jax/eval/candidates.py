"""The candidate pool per problem: sampled with the JAX sampler, or read from a JSONL made elsewhere.

Rows (run_dir/candidates.jsonl, and the input format for candidates from elsewhere, e.g. data_gen's vLLM
backend): {"id": "<benchmark>::<task_id>", "benchmark", "task_id", "samples": [completion, ...],
"greedy": completion or null}. A completion is the model's continuation of `prompts.prompt_text`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from executor.jsonl import JsonlError, iter_jsonl, require_field

from .benchmarks import Problem
from .config import SamplingConfig
from .prompts import PromptStyle, prompt_text, stop_strings
from .run_rows import pending_problems, problem_key


def read_candidates(path: str | Path, problems: Sequence[Problem]) -> dict[str, dict[str, Any]]:
    """Candidate rows by problem key; rows may name the benchmark or only the task id (when unambiguous)."""
    by_task: dict[str, list[str]] = {}
    for problem in problems:
        by_task.setdefault(problem.task_id, []).append(problem_key(problem))
    rows: dict[str, dict[str, Any]] = {}
    for line_number, row in iter_jsonl(path):
        where = f"{path}:{line_number}"
        task_id = str(require_field(row, "task_id", (str, int), where))
        samples = require_field(row, "samples", list, where)
        if not all(isinstance(s, str) for s in samples):
            raise JsonlError(f"{where}: field 'samples' must be a list of strings")
        greedy = row.get("greedy")
        if greedy is not None and not isinstance(greedy, str):
            raise JsonlError(f"{where}: field 'greedy' must be a string or null")
        benchmark = row.get("benchmark")
        key = f"{benchmark}::{task_id}" if benchmark else None
        if key is None:
            keys = by_task.get(task_id, [])
            if len(keys) > 1:
                raise JsonlError(
                    f"{where}: task_id {task_id!r} is in several benchmarks; add a 'benchmark' field"
                )
            key = keys[0] if keys else None
        if key is not None:
            rows[key] = {"samples": samples, "greedy": greedy}
    missing = [problem_key(p) for p in problems if problem_key(p) not in rows]
    if missing:
        raise JsonlError(f"{path}: no candidates for {len(missing)} problem(s), e.g. {missing[:3]}")
    return rows


def sample_candidates(
    model: Any,
    tokenizer: Any,
    problems: Sequence[Problem],
    style: PromptStyle,
    sampling: SamplingConfig,
    out_path: Path,
    *,
    mesh: Any = None,
    eos_ids: Sequence[int] = (),
) -> None:
    """Sample the pool (and a greedy answer) of every problem not yet in `out_path`; resumes per problem."""
    from acecoder_jax.sample import generate

    position = {problem_key(p): index for index, p in enumerate(problems)}
    with pending_problems(problems, out_path, "sampling") as (todo, write):
        for group in _groups(todo, style, sampling.problems_per_call):
            prompts = [
                tokenizer(prompt_text(p, style, tokenizer), add_special_tokens=False)["input_ids"]
                for p in group
            ]
            stop = list(stop_strings(group[0], style))
            common = dict(
                max_new_tokens=sampling.max_new_tokens,
                eos_ids=eos_ids,
                stop=stop,
                tokenizer=tokenizer,
                mesh=mesh,
                batch_size=sampling.batch_size,
            )
            pool = generate(
                model,
                prompts,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                top_k=sampling.top_k,
                n=sampling.n,
                # Seeded by the group's first problem: a resumed run (same settings) repeats the same draws.
                seed=sampling.seed + position[problem_key(group[0])],
                **common,
            )
            greedy = generate(model, prompts, n=1, **common) if sampling.greedy else None
            for index, problem in enumerate(group):
                write(
                    {
                        "id": problem_key(problem),
                        "benchmark": problem.benchmark,
                        "task_id": problem.task_id,
                        "samples": [_text(tokenizer, t) for t in pool.for_prompt(index)],
                        "greedy": _text(tokenizer, greedy.tokens[index]) if greedy is not None else None,
                    }
                )


def _groups(problems: Sequence[Problem], style: PromptStyle, size: int) -> list[list[Problem]]:
    """Consecutive problems in groups of at most `size` that share their stop strings (one generate call)."""
    groups: list[list[Problem]] = []
    for problem in problems:
        if (
            groups
            and len(groups[-1]) < size
            and stop_strings(groups[-1][0], style) == stop_strings(problem, style)
        ):
            groups[-1].append(problem)
        else:
            groups.append([problem])
    return groups


def _text(tokenizer: Any, tokens: Sequence[int]) -> str:
    return tokenizer.decode(list(tokens), skip_special_tokens=True)
