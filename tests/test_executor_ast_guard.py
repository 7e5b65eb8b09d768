"""Parsing from several threads at once (the executor's planner threads, a reward cache key, the caller)."""

from __future__ import annotations

import threading

from executor.ast_guard import parse
from executor.plan import clear_caches, plan_tests

NESTED = "x = " + "[" * 30 + "1" + "]" * 30 + "\n"
PROGRAM = NESTED + "\n".join(f"def f{i}(a):\n    return [a + {i} for _ in range(3)]" for i in range(200))


class _Finalised:
    def __del__(self) -> None:  # runs Python code in the middle of another thread's conversion
        pass


def _run_concurrently(*targets) -> list[BaseException]:
    errors: list[BaseException] = []

    def guarded(target) -> None:
        try:
            target()
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=guarded, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def _garbage() -> None:
    for _ in range(1500):
        cycle: list = [_Finalised() for _ in range(50)]
        cycle.append(cycle)


def test_concurrent_parses_never_corrupt_the_depth_counter():
    # Unguarded, this reproduces "SystemError: AST constructor recursion depth mismatch" on CPython 3.11.
    def parses() -> None:
        for _ in range(150):
            parse(PROGRAM)

    assert _run_concurrently(parses, parses, parses, parses, _garbage) == []


def test_planning_in_threads_beside_parsing_plans_every_test():
    tests = [f"assert f{i}({i}) == [{2 * i}] * 3" for i in range(40)]

    def plans() -> None:
        for _ in range(5):
            clear_caches()
            for plan in plan_tests(PROGRAM, tests):
                assert plan.mode == "split", plan.error

    def parses() -> None:
        for _ in range(100):
            parse(PROGRAM)

    assert _run_concurrently(plans, plans, parses, _garbage) == []
