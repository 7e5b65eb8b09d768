"""Read and write safetensors files tensor by tensor, bfloat16 included, without torch.

Reading memory-maps each file (`np.memmap`) so a tensor is a lazy view: slicing it for one device's shard
reads only those bytes. Writing streams one tensor at a time, so a checkpoint is never held whole in memory.
The format: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, raw bytes.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import ml_dtypes
import numpy as np

DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype(np.float64),
    "F32": np.dtype(np.float32),
    "F16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "I64": np.dtype(np.int64),
    "I32": np.dtype(np.int32),
    "I16": np.dtype(np.int16),
    "I8": np.dtype(np.int8),
    "U8": np.dtype(np.uint8),
    "BOOL": np.dtype(np.bool_),
}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"


class CheckpointError(ValueError):
    """A checkpoint directory or file that is missing, malformed or does not fit the model."""


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor's bytes live."""

    name: str
    file: Path
    dtype: str
    shape: tuple[int, ...]
    start: int  # absolute byte offset in the file
    end: int


def read_header(file: Path) -> dict[str, TensorInfo]:
    """Parse one safetensors file's header; errors name the file."""
    try:
        with open(file, "rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                raise CheckpointError(f"{file}: too short to be a safetensors file")
            (n,) = struct.unpack("<Q", raw)
            size = file.stat().st_size
            if n > size - 8:
                raise CheckpointError(f"{file}: header length {n} exceeds the file size {size}")
            header = json.loads(f.read(n))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{file}: cannot read safetensors header: {err}") from err
    base = 8 + n
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        dtype = meta.get("dtype")
        if dtype not in DTYPES:
            raise CheckpointError(f"{file}: tensor {name!r} has unsupported dtype {dtype!r}")
        start, end = meta["data_offsets"]
        shape = tuple(int(s) for s in meta["shape"])
        if end - start != math.prod(shape) * DTYPES[dtype].itemsize or base + end > size:
            raise CheckpointError(
                f"{file}: tensor {name!r} byte range {start}..{end} does not fit shape {shape}"
            )
        out[name] = TensorInfo(name, file, dtype, shape, base + start, base + end)
    return out


class SafetensorsDir:
    """All tensors of a checkpoint directory (single file or sharded with an index), memory-mapped lazily."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        index = self.path / INDEX_NAME
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text())["weight_map"]
            except (json.JSONDecodeError, KeyError) as err:
                raise CheckpointError(f"{index}: not a safetensors index ({err})") from err
            files = sorted(set(weight_map.values()))
        elif (self.path / SINGLE_NAME).is_file():
            files = [SINGLE_NAME]
        else:
            found = sorted(p.name for p in self.path.glob("*.safetensors"))
            if not found:
                raise CheckpointError(
                    f"{self.path}: no model.safetensors, {INDEX_NAME} or *.safetensors files"
                )
            files = found
        self.tensors: dict[str, TensorInfo] = {}
        for name in files:
            file = self.path / name
            if not file.is_file():
                raise CheckpointError(f"{self.path}: the index names {name} but the file is missing")
            self.tensors.update(read_header(file))
        self._maps: dict[Path, np.memmap] = {}

    def names(self) -> list[str]:
        """Tensor names in the checkpoint."""
        return sorted(self.tensors)

    def view(self, name: str) -> np.ndarray:
        """A zero-copy memory-mapped view of one tensor."""
        info = self.tensors[name]
        if info.file not in self._maps:
            self._maps[info.file] = np.memmap(info.file, dtype=np.uint8, mode="r")
        raw = self._maps[info.file][info.start : info.end]
        return raw.view(DTYPES[info.dtype]).reshape(info.shape)

    def close(self) -> None:
        """Drop the memory maps."""
        self._maps.clear()


def _header_bytes(entries: list[tuple[str, np.dtype, tuple[int, ...]]]) -> bytes:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}  # transformers requires format=pt
    offset = 0
    for name, dtype, shape in entries:
        nbytes = math.prod(shape) * dtype.itemsize
        header[name] = {
            "dtype": DTYPE_NAMES[dtype],
            "shape": list(shape),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # keep the data 8-byte aligned
    return struct.pack("<Q", len(raw)) + raw


def plan_shards(
    entries: list[tuple[str, np.dtype, tuple[int, ...]]], max_shard_bytes: int
) -> list[list[tuple[str, np.dtype, tuple[int, ...]]]]:
    """Group tensors, in order, into files of at most `max_shard_bytes` (a bigger tensor gets its own)."""
    shards: list[list] = [[]]
    size = 0
    for entry in entries:
        nbytes = math.prod(entry[2]) * entry[1].itemsize
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(entry)
        size += nbytes
    return shards


def write_safetensors(
    out_dir: Path,
    entries: list[tuple[str, np.dtype, tuple[int, ...]]],
    fetch: Callable[[str], np.ndarray],
    *,
    max_shard_bytes: int,
    progress: Callable[[Iterable], Iterable] = lambda x: x,
) -> list[Path]:
    """Write tensors (fetched one at a time) as model.safetensors, or shards + index past the threshold."""
    shards = plan_shards(entries, max_shard_bytes)
    n = len(shards)
    names = [SINGLE_NAME] if n == 1 else [f"model-{i + 1:05d}-of-{n:05d}.safetensors" for i in range(n)]
    weight_map: dict[str, str] = {}
    total = 0
    written = []
    for shard, fname in zip(shards, names):
        tmp = out_dir / (fname + ".tmp")
        with open(tmp, "wb") as f:
            f.write(_header_bytes(shard))
            for name, dtype, shape in progress(shard):
                array = np.ascontiguousarray(fetch(name))
                if array.dtype != dtype or tuple(array.shape) != tuple(shape):
                    raise CheckpointError(
                        f"tensor {name}: got {array.dtype}{array.shape}, planned {dtype}{shape}"
                    )
                f.write(array.tobytes())
                weight_map[name] = fname
                total += array.nbytes
        tmp.replace(out_dir / fname)  # a crash never leaves a truncated file under the final name
        written.append(out_dir / fname)
    if n > 1:
        index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
        (out_dir / INDEX_NAME).write_text(json.dumps(index, indent=2) + "\n")
        written.append(out_dir / INDEX_NAME)
    return written
