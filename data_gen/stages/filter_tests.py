"""filter-tests: run an oracle solution against each question's tests; keep the tests it passes.

The oracle is a strong model's greedy solution (Qwen2.5-Coder-32B-Instruct in the paper, prompted exactly as
the sampler) or a column of the input (`--solution-field`, e.g. the seed `program`). Question rules as
released (consolidate_dataset.py, then generate_main_dataset.py): skip a question whose oracle passes
<= 3 tests, then drop one left with fewer than 5 tests.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

from acecoder_jax.common.code_extract import extract_code
from acecoder_jax.common.prompts import SAMPLING_PREFILL, sampling_chat
from data_gen.backends.base import GenerationConfig, make_backend
from data_gen.execution import make_job, passed_flags
from data_gen.row_shards import WHOLE_INPUT, Shard
from data_gen.stages.lazy import Lazy
from data_gen.stages.streaming import OK, REJECTED, Item, Outcome, StageStats, note_usage, run_stage
from executor.config import ExecutorConfig, open_executor
from executor.jsonl import JsonlError, require_field


@dataclasses.dataclass
class FilterOptions:
    """The question-dropping rules and where the oracle solution comes from."""

    max_oracle_passes_skipped: int = 3  # released: skip when the oracle passes <= 3 tests
    min_tests: int = 5  # released: drop questions left with < 5 tests
    solution_field: str | None = None  # take the oracle solution from this input column instead of a model


def oracle_program(reply: str) -> str:
    """The program in an oracle/sampler reply that continued SAMPLING_PREFILL."""
    joiner = "" if reply.startswith(("\n", "\r\n")) else "\n"
    return extract_code(SAMPLING_PREFILL + joiner + reply)


def run_filter_tests(
    input_path: str | Path,
    output_path: str | Path,
    options: FilterOptions,
    executor_config: ExecutorConfig,
    generation: GenerationConfig | None = None,
    *,
    shard: Shard = WHOLE_INPUT,
    batch_size: int | None = None,
    progress: bool = True,
) -> StageStats:
    """Run the stage; returns its counts (batch_size defaults to the backend's, else 32)."""
    if options.solution_field is None and generation is None:
        raise ValueError("filter-tests needs an oracle: a backend and model, or --solution-field")
    if generation is not None and generation.ray and options.solution_field is None:
        raise ValueError(
            "filter-tests: the oracle model runs in this process; `ray` on its generation config is not "
            "supported (the executor's --ray spreads the tests over the cluster)"
        )
    with contextlib.ExitStack() as stack:
        backend = Lazy(lambda: make_backend(generation), stack) if generation is not None else None
        executor = Lazy(lambda: open_executor(executor_config), stack)

        def process(batch: list[Item]) -> list[list[Outcome]]:
            questions, tests = [], []
            for where, row in batch:
                questions.append(require_field(row, "question", str, where))
                row_tests = require_field(row, "tests", list, where)
                if not all(isinstance(t, str) for t in row_tests):
                    raise JsonlError(f"{where}: field 'tests' must be a list of strings")
                tests.append(row_tests)
            if options.solution_field is not None:
                solutions = [require_field(row, options.solution_field, str, where) for where, row in batch]
            else:
                chats = [sampling_chat(q, t) for q, t in zip(questions, tests)]
                replies = backend.get().generate_with_config(chats, prefill=SAMPLING_PREFILL)
                solutions = [oracle_program(r[0] if r else "") for r in replies]
            jobs = [make_job(str(row["id"]), s, t) for (_, row), s, t in zip(batch, solutions, tests)]
            results = executor.get().run(jobs)
            outcomes = []
            for (_, row), solution, row_tests, result in zip(batch, solutions, tests, results):
                flags = passed_flags(result)
                kept = [t for t, ok in zip(row_tests, flags) if ok]
                out = {
                    **row,
                    "tests": kept,
                    "original_tests": row_tests,
                    "oracle_solution": solution,
                    "oracle_passes": len(kept),
                    "oracle_status": result.status,
                }
                if len(kept) <= options.max_oracle_passes_skipped:
                    reason = f"oracle passed {len(kept)} <= {options.max_oracle_passes_skipped} tests"
                    outcomes.append([(REJECTED, {**out, "reason": reason})])
                elif len(kept) < options.min_tests:
                    reason = f"{len(kept)} tests left < {options.min_tests}"
                    outcomes.append([(REJECTED, {**out, "reason": reason})])
                else:
                    outcomes.append([(OK, out)])
            return outcomes

        if batch_size is None:
            batch_size = generation.batch_size if generation is not None else 32
        stats = run_stage(
            name="filter-tests",
            input_path=input_path,
            output_path=output_path,
            process=process,
            shard=shard,
            batch_size=batch_size,
            progress=progress,
        )
        return note_usage(stats, backend)
