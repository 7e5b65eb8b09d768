"""Test code compiled once on the trusted side and shipped to the child as code objects.

The same tests recur across programs (HumanEval repeats, RL samples of one problem), so compiling a leaf or a
whole test once here, instead of in every fresh child, takes the compiler off the per-program path. Only test
code is compiled here (it was already parsed by the planner); programs are compiled in the child.
"""

from __future__ import annotations

import functools
from types import CodeType
from typing import Any


@functools.lru_cache(maxsize=1 << 16)
def compiled(source: str, mode: str) -> CodeType | str:
    """`source` compiled as the child would ("<test>"), or the source itself when it does not compile (the
    child then compiles it and reports the error exactly as before)."""
    try:
        return compile(source, "<test>", mode)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return source


def child_request(request: dict[str, Any]) -> dict[str, Any]:
    """The request a child receives for one planned test, with its test code precompiled."""
    op = request.get("op")
    if op == "leaves":
        return {**request, "leaves": [compiled(source, "eval") for source in request["leaves"]]}
    if op == "whole":
        return {**request, "code": compiled(request["code"], "exec")}
    return request
