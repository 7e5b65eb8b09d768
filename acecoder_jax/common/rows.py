"""Read dataset rows from JSONL or parquet with (where, row) pairs for error messages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from executor.jsonl import JsonlError, iter_jsonl


def iter_rows(path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (`file:line` or `file:row N`, row) from a .jsonl/.json(l) or .parquet file, streaming."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix == ".parquet":
        yield from _iter_parquet(path)
        return
    for line_number, row in iter_jsonl(path):
        yield f"{path}:{line_number}", row


def _iter_parquet(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    import pyarrow.parquet as pq  # only when parquet is read

    try:
        parquet = pq.ParquetFile(path)
    except Exception as err:  # pyarrow raises several types for a bad file
        raise JsonlError(f"{path}: not a readable parquet file ({err})") from err
    index = 0
    for batch in parquet.iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            index += 1
            yield f"{path}:row {index}", row
