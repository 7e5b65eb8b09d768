"""HumanEval+ and MBPP+ from EvalPlus release files (HumanEvalPlus.jsonl(.gz), MbppPlus.jsonl(.gz)), offline.

A row either carries `test` (a `def check(candidate)` function, as in EvalPlus releases) or only
`base_input`/`plus_input`; then the test compares the candidate with the canonical solution on every input
(differential testing with the row's `atol`, as EvalPlus does).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from executor.jsonl import JsonlError

from .problem import Problem, check_call_test, import_lines, read_rows, require


def load_evalplus(path: str | Path, benchmark: str) -> list[Problem]:
    """HumanEval+ or MBPP+ problems from an EvalPlus JSONL file (`benchmark` names them in reports)."""
    problems = []
    for where, row in read_rows(path):
        task_id = require(row, "task_id", str, where)
        prompt = require(row, "prompt", str, where)
        entry_point = require(row, "entry_point", str, where)
        canonical = row.get("canonical_solution")
        reference = _reference_program(prompt, canonical) if isinstance(canonical, str) else None
        if isinstance(row.get("test"), str) and "def check(" in row["test"]:
            test = check_call_test(row["test"], entry_point)
        elif "base_input" in row:
            if reference is None:
                raise JsonlError(
                    f"{where}: rows without `test` need `canonical_solution` for differential tests"
                )
            test = differential_test(
                reference, entry_point, _inputs(row, where), float(row.get("atol") or 0.0)
            )
        else:
            raise JsonlError(f"{where}: missing field 'test' (or 'base_input' + 'canonical_solution')")
        problems.append(
            Problem(
                task_id=task_id,
                benchmark=benchmark,
                kind="humaneval_plus" if task_id.startswith("HumanEval") else "mbpp_plus",
                prompt=prompt,
                tests=(test,),
                completable=task_id.startswith("HumanEval"),
                entry_point=entry_point,
                setup=import_lines(prompt),
                canonical_solution=reference,
            )
        )
    return problems


def _reference_program(prompt: str, canonical: str) -> str:
    # HumanEval+ stores the body only (program = prompt + body); MBPP+ stores a whole program.
    return prompt + canonical if canonical.startswith((" ", "\t")) else canonical


def _inputs(row: dict[str, Any], where: str) -> list[Any]:
    inputs = list(row.get("base_input") or []) + list(row.get("plus_input") or [])
    if not all(isinstance(args, list) for args in inputs):
        raise JsonlError(f"{where}: field 'base_input'/'plus_input' must be lists of argument lists")
    return inputs


def differential_test(reference: str, entry_point: str, inputs: list[Any], atol: float) -> str:
    """Test code that runs candidate and reference on every input and compares (floats within atol)."""
    return f"""
import copy as _copy
import json as _json
import math as _math

_reference_namespace = {{}}
exec({reference!r}, _reference_namespace)
_reference = _reference_namespace[{entry_point!r}]


def _same(out, exp, atol):
    if isinstance(exp, float) or isinstance(out, float):
        if isinstance(exp, (int, float)) and isinstance(out, (int, float)) and not isinstance(out, bool):
            if _math.isnan(exp):
                return _math.isnan(out)
            return _math.isclose(out, exp, rel_tol=1e-07, abs_tol=max(atol, 1e-6))
        return False
    if isinstance(exp, (list, tuple)) and isinstance(out, (list, tuple)):
        return type(exp) is type(out) and len(exp) == len(out) and all(
            _same(o, e, atol) for o, e in zip(out, exp)
        )
    return out == exp


for _index, _args in enumerate(_json.loads({json.dumps(inputs)!r})):
    _expected = _reference(*_copy.deepcopy(_args))
    _got = {entry_point}(*_copy.deepcopy(_args))
    assert _same(_got, _expected, {atol!r}), f"input {{_index}}: got {{_got!r}}, expected {{_expected!r}}"
"""
