"""HumanEval through the executor: all canonical solutions pass (whole and split); broken variants fail."""

from __future__ import annotations

import ast

import pytest

from executor import Executor, Job
from executor.humaneval_demo import BROKEN_BODIES, broken_job, canonical_job, load_problems

PROBLEMS = load_problems()


def test_humaneval_has_164_problems():
    assert len(PROBLEMS) == 164


def _asserts_only(problem: dict) -> list[str] | None:
    """The check body's asserts with `candidate` renamed, when the body is nothing but asserts."""
    check = next(
        n for n in ast.parse(problem["test"]).body if isinstance(n, ast.FunctionDef) and n.name == "check"
    )
    body = [s for s in check.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if not all(isinstance(s, ast.Assert) for s in body):
        return None
    return [ast.unparse(s).replace("candidate", problem["entry_point"]) for s in body]


@pytest.mark.parametrize("split", [False, True], ids=["whole", "split"])
def test_canonical_solutions_pass_whole_check(split):
    with Executor(workers=2, timeout_s=10.0, split_asserts=split) as ex:
        results = ex.run([canonical_job(p) for p in PROBLEMS])
    failures = [(r.id, r.status, r.tests[0].error) for r in results if r.pass_rate != 1.0]
    assert failures == []
    modes = {r.tests[0].mode for r in results}
    if not split:
        assert modes == {"whole"}
    else:
        split_ids = {r.id for r in results if r.tests[0].mode == "split"}
        expected = {p["task_id"] for p in PROBLEMS if _asserts_only(p) is not None}
        assert expected <= split_ids  # every asserts-only check body is judged on the trusted side
        assert len(split_ids) >= 150


def test_canonical_solutions_pass_one_assert_per_test():
    jobs = []
    for problem in PROBLEMS:
        asserts = _asserts_only(problem)
        if asserts:
            jobs.append(Job(problem["task_id"], problem["prompt"] + problem["canonical_solution"], asserts))
    assert len(jobs) >= 150
    with Executor(workers=2, timeout_s=10.0) as ex:
        results = ex.run(jobs)
    failures = [
        (r.id, [(t.outcome, t.error) for t in r.tests if t.outcome != "pass"])
        for r in results
        if r.pass_rate != 1
    ]
    assert failures == []
    assert sum(len(r.tests) for r in results) > 1000
    assert {t.mode for r in results for t in r.tests} <= {"split", "whole"}


@pytest.mark.parametrize("split", [False, True], ids=["whole", "split"])
def test_broken_variants_fail(split):
    jobs = [broken_job(p, variant) for variant in BROKEN_BODIES for p in PROBLEMS[:12]]
    with Executor(workers=2, timeout_s=0.5, split_asserts=split) as ex:
        results = ex.run(jobs)
    passed = [r.id for r in results if r.pass_rate > 0]
    assert passed == []
    by_variant = {}
    for job, result in zip(jobs, results):
        variant = job.id.split("/", 2)[2]
        by_variant.setdefault(variant, set()).add(
            result.tests[0].outcome if result.status == "ok" else result.status
        )
    assert by_variant["infinite loop"] == {"timeout"}
    assert by_variant["forged exit (os._exit(0))"] == {"crash"}
    assert by_variant["exception"] == {"error"}
