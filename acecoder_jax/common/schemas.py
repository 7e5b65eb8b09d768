"""Row schemas of the data contracts (seed, AceCode-87K, AceCodePair-300K) with validating readers.

The readers accept the released Hugging Face files as they are (JSONL or parquet): ids may be strings
("oss_12") or integers (AceCodePair rows), pass rates may be stored as integers (0/1), extra fields are kept.
Every error names the file, row and field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from acecoder_jax.common.rows import iter_rows
from executor.jsonl import JsonlError, require_field

RowId = str | int


@dataclasses.dataclass(frozen=True)
class SeedRow:
    """A seed program to turn into a question: `{id, instruction?, program}`."""

    id: RowId
    program: str
    instruction: str | None = None
    source: str | None = None


@dataclasses.dataclass(frozen=True)
class Inference:
    """One sampled program of an AceCode-87K row and its pass rate."""

    model_name: str
    completion_id: int
    completion: str
    pass_rate: float


@dataclasses.dataclass(frozen=True)
class AceCodeRow:
    """An AceCode-87K row: question, kept tests, sampled programs with pass rates, chat messages."""

    id: RowId
    source: str
    question: str
    test_cases: list[str]
    inferences: list[Inference]
    context_messages: list[dict[str, str]]

    def to_dict(self) -> dict[str, Any]:
        """The row as plain JSON data, fields in the released order."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class AceCodePairRow:
    """An AceCodePair-300K row; `extra` holds optional metadata (question id, pass rates, model)."""

    id: RowId
    instruction: str
    input: str
    chosen: str
    rejected: str
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The row as plain JSON data: the five released fields first, then the metadata."""
        base = {
            "id": self.id,
            "instruction": self.instruction,
            "input": self.input,
            "chosen": self.chosen,
            "rejected": self.rejected,
        }
        return {**base, **self.extra}


def _string_list(row: dict[str, Any], field: str, where: str) -> list[str]:
    values = require_field(row, field, list, where)
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise JsonlError(f"{where}: field {field!r}[{index}] must be str, got {type(value).__name__}")
    return values


def _optional_str(row: dict[str, Any], field: str, where: str) -> str | None:
    value = row.get(field)
    if value is not None and not isinstance(value, str):
        raise JsonlError(f"{where}: field {field!r} must be str or null, got {type(value).__name__}")
    return value


def parse_seed(row: dict[str, Any], where: str) -> SeedRow:
    """Validate a seed row."""
    return SeedRow(
        id=require_field(row, "id", (str, int), where),
        program=require_field(row, "program", str, where),
        instruction=_optional_str(row, "instruction", where),
        source=_optional_str(row, "source", where),
    )


def parse_inference(value: Any, where: str) -> Inference:
    """Validate one entry of an AceCode-87K row's `inferences`."""
    if not isinstance(value, dict):
        raise JsonlError(f"{where}: must be an object, got {type(value).__name__}")
    pass_rate = require_field(value, "pass_rate", (int, float), where)
    if isinstance(pass_rate, bool) or not 0.0 <= float(pass_rate) <= 1.0:
        raise JsonlError(f"{where}: field 'pass_rate' must be a number in [0, 1], got {pass_rate!r}")
    return Inference(
        model_name=require_field(value, "model_name", str, where),
        completion_id=require_field(value, "completion_id", int, where),
        completion=require_field(value, "completion", str, where),
        pass_rate=float(pass_rate),
    )


def parse_acecode(row: dict[str, Any], where: str) -> AceCodeRow:
    """Validate an AceCode-87K row (the released file's rows pass as they are)."""
    inferences = require_field(row, "inferences", list, where)
    messages = row.get("context_messages")
    question = require_field(row, "question", str, where)
    if messages is None:
        messages = [{"content": question, "role": "user"}]
    elif not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise JsonlError(f"{where}: field 'context_messages' must be a list of objects")
    return AceCodeRow(
        id=require_field(row, "id", (str, int), where),
        source=str(row.get("source") or ""),
        question=question,
        test_cases=_string_list(row, "test_cases", where),
        inferences=[parse_inference(v, f"{where}: inferences[{i}]") for i, v in enumerate(inferences)],
        context_messages=messages,
    )


_PAIR_FIELDS = ("id", "instruction", "input", "chosen", "rejected")


def parse_acecode_pair(row: dict[str, Any], where: str) -> AceCodePairRow:
    """Validate an AceCodePair-300K row; fields beyond the released five go to `extra`."""
    return AceCodePairRow(
        id=require_field(row, "id", (str, int), where),
        instruction=require_field(row, "instruction", str, where),
        input=require_field(row, "input", str, where),
        chosen=require_field(row, "chosen", str, where),
        rejected=require_field(row, "rejected", str, where),
        extra={k: v for k, v in row.items() if k not in _PAIR_FIELDS},
    )


def iter_seeds(path: str | Path) -> Iterator[SeedRow]:
    """Stream validated seed rows from JSONL or parquet."""
    for where, row in iter_rows(path):
        yield parse_seed(row, where)


def iter_acecode(path: str | Path) -> Iterator[AceCodeRow]:
    """Stream validated AceCode-87K rows from JSONL or parquet."""
    for where, row in iter_rows(path):
        yield parse_acecode(row, where)


def iter_acecode_pairs(path: str | Path) -> Iterator[AceCodePairRow]:
    """Stream validated AceCodePair-300K rows from JSONL or parquet."""
    for where, row in iter_rows(path):
        yield parse_acecode_pair(row, where)
