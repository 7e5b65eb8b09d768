"""LiveCodeBench code-generation problems from a local JSONL (the `code_generation_lite` release form).

Functional problems (LeetCode: `class Solution` + starter code) become assert tests on
`Solution().<func_name>(...)`; stdin/stdout problems become `{input, output}` tests.
`private_test_cases` may be plain JSON or the release's base64(zlib(pickle(json))) form; the pickle is read
by an unpickler that refuses every object except plain strings, so a crafted file cannot run code.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zlib
from pathlib import Path
from typing import Any

from executor.jsonl import JsonlError, JsonLimitError, loads_json

from .problem import Problem, Test, read_rows, require

# LiveCodeBench's harness runs programs after a block of common imports; functional answers rely on them.
LCB_IMPORTS = (
    "from typing import *\nfrom collections import *\nfrom functools import *\nfrom itertools import *\n"
    "from heapq import *\nfrom bisect import *\nimport math\nimport string\nimport re\nimport sys"
)


def load_livecodebench(path: str | Path, benchmark: str = "livecodebench") -> list[Problem]:
    """LiveCodeBench problems with public + private tests."""
    problems = []
    for where, row in read_rows(path):
        question_id = require(row, "question_id", (str, int), where)
        content = require(row, "question_content", str, where)
        starter = row.get("starter_code") or ""
        cases = _cases(row.get("public_test_cases"), where, "public_test_cases")
        cases += _cases(row.get("private_test_cases"), where, "private_test_cases")
        if not cases:
            raise JsonlError(f"{where}: no test cases in 'public_test_cases' / 'private_test_cases'")
        functional = cases[0].get("testtype") == "functional"
        if functional:
            metadata = row.get("metadata") or {}
            if isinstance(metadata, str):
                metadata = loads_json(metadata or "{}", f"{where}: field 'metadata'")
            func_name = metadata.get("func_name")
            if not isinstance(func_name, str):
                raise JsonlError(f"{where}: functional problem needs metadata.func_name")
            tests: list[Test] = [_functional_assert(func_name, case, where) for case in cases]
        else:
            tests = [{"input": case["input"], "output": case["output"]} for case in cases]
        problems.append(
            Problem(
                task_id=str(question_id),
                benchmark=benchmark,
                kind="livecodebench",
                prompt=content,
                tests=tuple(tests),
                starter_code=starter,
                entry_point=None,
                stdio=not functional,
                setup=LCB_IMPORTS if functional else "",
                # LiveCodeBench has no reference solutions; a local file may add one to check the wiring.
                canonical_solution=row.get("canonical_solution")
                if isinstance(row.get("canonical_solution"), str)
                else None,
            )
        )
    return problems


def _cases(raw: Any, where: str, field: str) -> list[dict[str, Any]]:
    if raw in (None, "", []):
        return []
    if isinstance(raw, str):
        raw = _decode_cases(raw, where, field)
    if not isinstance(raw, list) or not all(
        isinstance(c, dict) and isinstance(c.get("input"), str) and isinstance(c.get("output"), str)
        for c in raw
    ):
        raise JsonlError(f"{where}: field {field!r} must be a list of {{input, output, testtype}} objects")
    return raw


def _decode_cases(text: str, where: str, field: str) -> Any:
    try:
        return loads_json(text, f"{where}: field {field!r}")
    except JsonLimitError:
        raise
    except JsonlError:
        pass  # not JSON: the compressed form
    try:
        payload = zlib.decompress(base64.b64decode(text))
        return json.loads(_StringsOnly(io.BytesIO(payload)).load())
    except Exception as err:
        raise JsonlError(
            f"{where}: field {field!r} is neither JSON nor base64(zlib(pickle(json))): {err}"
        ) from err


class _StringsOnly(pickle.Unpickler):
    """Unpickles plain data only; any class or function reference is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _functional_assert(func_name: str, case: dict[str, Any], where: str) -> str:
    # Each input line is one JSON argument; the output is one JSON value.
    what = f"{where}: functional test case"
    args = [loads_json(line, what) for line in case["input"].split("\n") if line.strip()]
    expected = loads_json(case["output"], what)
    call = f"Solution().{func_name}({', '.join(repr(a) for a in args)})"
    return f"assert {call} == {expected!r}"
