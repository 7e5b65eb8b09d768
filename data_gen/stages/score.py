"""score: execute every sampled program on its question's kept tests; write AceCode-87K rows.

Pass rate = tests passed / tests kept. The released AceCode-87K divides instead by the number of tests
*before* filtering (consolidate_dataset.py multiplies the oracle's and the program's per-test results, then
divides by the original count), so its stored pass rates are lower than the true ones and a program passing
every kept test can score below 1. `released_pass_rate=True` reproduces that.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

from data_gen.execution import make_job, passed_flags
from data_gen.row_shards import WHOLE_INPUT, Shard
from data_gen.stages.lazy import Lazy
from data_gen.stages.streaming import OK, Item, Outcome, StageStats, run_stage
from executor.config import ExecutorConfig, open_executor
from executor.jsonl import JsonlError, require_field


@dataclasses.dataclass
class ScoreOptions:
    """How pass rates are computed."""

    released_pass_rate: bool = False  # divide by the pre-filter test count, as the released data does


def acecode_row(row: dict, inferences: list[dict]) -> dict:
    """An AceCode-87K row (released field order) from a sampled row and its scored inferences."""
    return {
        "id": row["id"],
        "source": row.get("source") or "",
        "question": row["question"],
        "test_cases": row["tests"],
        "inferences": inferences,
        "context_messages": [{"content": row["question"], "role": "user"}],
    }


def run_score(
    input_path: str | Path,
    output_path: str | Path,
    executor_config: ExecutorConfig,
    options: ScoreOptions | None = None,
    *,
    shard: Shard = WHOLE_INPUT,
    batch_size: int = 8,
    progress: bool = True,
) -> StageStats:
    """Run the stage; returns its counts."""
    options = options or ScoreOptions()
    with contextlib.ExitStack() as stack:
        executor = Lazy(lambda: open_executor(executor_config), stack)

        def process(batch: list[Item]) -> list[list[Outcome]]:
            jobs, spans = [], []
            for where, row in batch:
                require_field(row, "question", str, where)
                tests = require_field(row, "tests", list, where)
                samples = require_field(row, "samples", list, where)
                if options.released_pass_rate and not isinstance(row.get("original_tests"), list):
                    raise JsonlError(f"{where}: --released-pass-rate needs field 'original_tests'")
                start = len(jobs)
                for index, sample in enumerate(samples):
                    program = require_field(sample, "completion", str, f"{where}: samples[{index}]")
                    jobs.append(make_job(f"{row['id']}#{index}", program, tests))
                spans.append((start, len(jobs)))
            results = executor.get().run(jobs) if jobs else []
            outcomes = []
            for (_, row), (start, end) in zip(batch, spans):
                denominator = len(row["original_tests"]) if options.released_pass_rate else len(row["tests"])
                inferences = []
                for sample, result in zip(row["samples"], results[start:end]):
                    passed = sum(passed_flags(result))
                    inferences.append(
                        {
                            "model_name": row.get("model_name") or "",
                            "completion_id": sample.get("completion_id", len(inferences)),
                            "completion": sample["completion"],
                            "pass_rate": passed / denominator if denominator else 0.0,
                        }
                    )
                outcomes.append([(OK, acecode_row(row, inferences))])
            return outcomes

        return run_stage(
            name="score",
            input_path=input_path,
            output_path=output_path,
            process=process,
            shard=shard,
            batch_size=batch_size,
            progress=progress,
        )
