"""The loop every streaming stage shares: read rows, skip finished ones, process a batch, append results.

Guarantees: the input is read lazily (memory is flat in the number of rows); each result row is flushed as
it is written; a rerun skips every input whose id is already in the output or in the `.rejected.jsonl`
sidecar (so nothing is recomputed or re-requested), cuts a torn last line, and never writes an id twice.
Results are written in input order, so a resumed run ends with the same file as an uninterrupted one.
A stage may hand over `process_many` instead of `process` to keep several batches in flight (the Ray path of
the generation stages); rows are written the same way, so the file is the same.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from acecoder_jax.common.rows import iter_rows
from data_gen.row_shards import WHOLE_INPUT, Shard
from data_gen.stages.lazy import Lazy
from executor.jsonl import JsonlError, ResumableJsonlWriter

OK = "ok"
REJECTED = "rejected"
Outcome = tuple[str, dict[str, Any]]  # (OK | REJECTED, row)
Item = tuple[str, dict[str, Any]]  # (where: file:line, input row)
# Batches in, (batch, per-input outcomes) out, in the batches' order.
ProcessMany = Callable[[Iterator[list[Item]]], Iterator[tuple[list[Item], list[list[Outcome]]]]]


@dataclasses.dataclass
class StageStats:
    """Counts and time of one stage run (this invocation only, not earlier runs it resumed)."""

    name: str
    read: int = 0
    already_done: int = 0
    other_shards: int = 0
    written: int = 0
    rejected: int = 0
    seconds: float = 0.0
    notes: list[str] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        """One line for the log."""
        text = (
            f"{self.name}: read {self.read}, resumed past {self.already_done}, "
            f"other shards {self.other_shards}, wrote {self.written}, rejected {self.rejected} "
            f"in {self.seconds:.1f}s"
        )
        return "; ".join([text, *self.notes])


def note_usage(stats: StageStats, backend: Lazy[Any] | None) -> StageStats:
    """Add the usage line of the stage's backend (if it was opened and has one) to `stats`, and print it."""
    return note(stats, backend.get().usage_summary() if backend is not None and backend.built else "")


def note(stats: StageStats, text: str) -> StageStats:
    """Add `text` (when not empty) to the notes of `stats`, and print it."""
    if text:
        stats.notes.append(text)
        print(text, file=sys.stderr)
    return stats


def rejected_path(output: str | Path) -> Path:
    """The sidecar of inputs a stage dropped or failed, with the reason: `x.jsonl` -> `x.rejected.jsonl`."""
    output = Path(output)
    stem = output.name[: -len(".jsonl")] if output.name.endswith(".jsonl") else output.name
    return output.with_name(stem + ".rejected.jsonl")


def count_rows(path: str | Path) -> int | None:
    """Rows in a JSONL (non-blank lines) or parquet file, for the progress bar; None if unknown."""
    path = Path(path)
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())
    except OSError:
        return None


def run_stage(
    *,
    name: str,
    input_path: str | Path,
    output_path: str | Path,
    process: Callable[[list[Item]], list[list[Outcome]]] | None = None,
    process_many: ProcessMany | None = None,
    shard: Shard = WHOLE_INPUT,
    batch_size: int = 16,
    key: str = "id",
    skip_done_inputs: bool = True,
    progress: bool = True,
) -> StageStats:
    """Run `process` over batches of not-yet-done input rows and append its outcomes to the output files.

    `process` gets a batch of (where, row) and returns, per input, a list of (OK|REJECTED, row) outcomes.
    `process_many` (instead of `process`) gets the iterator of batches and yields `(batch, its outcomes)` in
    the batches' order: it may pull several batches ahead to keep them in flight (a Ray pool does), and the
    results are written exactly as `process`'s would be (same order, same resume and no-duplicate checks).
    """
    if process is not None and process_many is None:
        process_many = one_batch_at_a_time(process)
    elif process_many is None or process is not None:
        raise TypeError("run_stage: give exactly one of process and process_many")
    if not Path(input_path).is_file():
        raise FileNotFoundError(f"{input_path}: no such file")  # before any output file is created
    stats = StageStats(name)
    start = time.perf_counter()
    output_path = Path(output_path)
    with (
        ResumableJsonlWriter(output_path, key=key) as writer,
        ResumableJsonlWriter(rejected_path(output_path), key=key) as rejected,
    ):
        if writer.repaired_bytes or rejected.repaired_bytes:
            stats.notes.append(
                f"repaired a torn last line ({writer.repaired_bytes + rejected.repaired_bytes} bytes)"
            )
        bar = tqdm(
            total=count_rows(input_path), desc=name, unit="row", disable=not progress, dynamic_ncols=True
        )
        try:
            batches = _batches(
                input_path, batch_size, shard, key, writer, rejected, skip_done_inputs, stats, bar
            )
            for batch, results in process_many(batches):
                if len(results) != len(batch):
                    raise RuntimeError(
                        f"{name}: process returned {len(results)} results for {len(batch)} rows"
                    )
                for outcomes in results:
                    for kind, row in outcomes:
                        target = writer if kind == OK else rejected
                        if row[key] in writer or row[key] in rejected:
                            continue  # already written by an earlier (interrupted) run
                        target.write(row)
                        if kind == OK:
                            stats.written += 1
                        else:
                            stats.rejected += 1
                bar.update(len(batch))
        finally:
            bar.close()
    stats.seconds = time.perf_counter() - start
    return stats


def one_batch_at_a_time(process: Callable[[list[Item]], list[list[Outcome]]]) -> ProcessMany:
    """`process` as a ProcessMany: each batch is processed when it is read, none ahead (the local runs)."""
    return lambda batches: ((batch, process(batch)) for batch in batches)


def _batches(
    input_path: str | Path,
    batch_size: int,
    shard: Shard,
    key: str,
    writer: ResumableJsonlWriter,
    rejected: ResumableJsonlWriter,
    skip_done_inputs: bool,
    stats: StageStats,
    bar: tqdm,
) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for where, row in iter_rows(input_path):
        stats.read += 1
        row_id = row.get(key)
        if row_id is None:
            raise JsonlError(f"{where}: missing field {key!r}")
        if not shard.owns(row_id):
            stats.other_shards += 1
            bar.update(1)
            continue
        if skip_done_inputs and (row_id in writer or row_id in rejected):
            stats.already_done += 1
            bar.update(1)
            continue
        batch.append((where, row))
        if len(batch) >= max(1, batch_size):
            yield batch
            batch = []
    if batch:
        yield batch
