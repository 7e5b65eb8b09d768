"""`acecoder exec`: judge a JSONL file of jobs, one result line per job in input order, resumable."""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from executor.job import Job
from executor.jsonl import JsonlError, ResumableJsonlWriter, iter_jsonl
from executor.pool import Executor, positive_seconds
from executor.progress import Progress

if TYPE_CHECKING:
    from executor.ray_pool import RayExecutor


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of `acecoder exec`."""
    parser = argparse.ArgumentParser(prog="acecoder exec", description=__doc__)
    parser.add_argument("--input", type=Path, help="jobs JSONL: {id, program, tests}")
    parser.add_argument("--output", type=Path, help="results JSONL (rerun with the same path to resume)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    parser.add_argument("--timeout", type=_timeout, default=5.0, help="seconds per test (default 5)")
    parser.add_argument("--memory-mb", type=int, default=1024, help="address-space limit per program (MiB)")
    parser.add_argument("--check-sandbox", action="store_true", help="report which protections are active")
    parser.add_argument(
        "--ray", metavar="ADDRESS", help="run on a Ray cluster (as ray.init takes it: auto, HOST:PORT, local)"
    )
    return parser


def _timeout(text: str) -> float:
    try:
        return positive_seconds("--timeout", text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def main(argv: list[str] | None = None) -> int:
    """Entry point of `acecoder exec`; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.check_sandbox:
        return check_sandbox(args)
    if args.input is None or args.output is None:
        print("acecoder exec: --input and --output are required (or --check-sandbox)", file=sys.stderr)
        return 2
    try:
        total = validate(args.input)
    except (JsonlError, OSError) as err:
        print(f"acecoder exec: {err}", file=sys.stderr)
        return 2
    try:
        writer = ResumableJsonlWriter(args.output)
    except (JsonlError, OSError) as err:
        print(f"acecoder exec: cannot resume {args.output}: {err}", file=sys.stderr)
        return 2
    with writer:
        remaining = total - len(writer.done)
        if writer.done:
            print(
                f"acecoder exec: resuming, {len(writer.done)} of {total} jobs already in {args.output}",
                file=sys.stderr,
            )
        progress = Progress(remaining, desc="exec")
        passed = 0.0
        with _executor(args) as executor:
            for result in executor.map(_pending_jobs(args.input, writer)):
                writer.write(result.to_dict())
                passed += result.pass_rate
                progress.update(1, f"mean pass rate {passed / max(progress.count + 1, 1):.3f}")
        progress.close()
    return 0


def _executor(args: argparse.Namespace) -> Executor | RayExecutor:
    """The local pool, or with --ray one pool per cluster node (each node's sandbox printed at start)."""
    if args.ray is None:
        return Executor(workers=args.workers, timeout_s=args.timeout, memory_mb=args.memory_mb)
    from executor.ray_pool import RayExecutor

    executor = RayExecutor(args.ray, timeout_s=args.timeout, memory_mb=args.memory_mb)
    executor.start()
    for node, features in executor.node_features.items():
        off = sorted(name for name, active in features.items() if not active)
        print(
            f"acecoder exec: node {node}: sandbox {'complete' if not off else 'MISSING ' + ', '.join(off)}",
            file=sys.stderr,
        )
    return executor


def validate(path: Path) -> int:
    """Check every line before running anything; returns the number of jobs. Errors name line and field."""
    seen: dict[object, int] = {}
    count = 0
    for line_number, row in iter_jsonl(path):
        where = f"{path}:{line_number}"
        job = Job.from_row(row, where)
        if job.id in seen:
            raise JsonlError(f"{where}: field 'id' repeats the id of line {seen[job.id]} ({job.id!r})")
        seen[job.id] = line_number
        count += 1
    return count


def _pending_jobs(path: Path, writer: ResumableJsonlWriter) -> Iterator[Job]:
    for line_number, row in iter_jsonl(path):
        job = Job.from_row(row, f"{path}:{line_number}")
        if job.id not in writer:
            yield job


def check_sandbox(args: argparse.Namespace) -> int:
    """Start one worker, let a confined child try forbidden things, print what is enforced."""
    with tempfile.TemporaryDirectory(prefix="acecoder-check-") as scratch:
        os.chmod(scratch, 0o755)
        secret, victim = os.path.join(scratch, "secret.txt"), os.path.join(scratch, "victim.txt")
        for path in (secret, victim):
            Path(path).write_text("expected values live here\n")
            os.chmod(path, 0o666)
        listener = socket.create_server(("127.0.0.1", 0))
        readable = os.path.join(sysconfig.get_paths()["stdlib"], "this.py")  # a stdlib file nobody reads
        request = {
            "secret": secret,
            "victim": victim,
            "outside": os.path.join(scratch, "written.txt"),
            "port": listener.getsockname()[1],
            "pool_pid": os.getpid(),
            "readable": readable if os.path.isfile(readable) else os.__file__,
        }
        with (
            _backdated_atime(request["readable"]),
            Executor(workers=1, timeout_s=args.timeout, memory_mb=args.memory_mb) as executor,
        ):
            report = executor.probe(request)
        listener.close()
    return print_report(report)


@contextlib.contextmanager
def _backdated_atime(path: str) -> Iterator[None]:
    """Move `path`'s access time two days back while the probe runs (where we may), so that a child's read
    on a mount that records access times visibly changes it (relatime updates an atime that old)."""
    try:
        saved = os.stat(path)
        os.utime(path, ns=(time.time_ns() - 2 * 86400 * 10**9, saved.st_mtime_ns))
    except OSError:
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.utime(path, ns=(saved.st_atime_ns, saved.st_mtime_ns))


def print_report(report: dict) -> int:
    """Print the --check-sandbox table; exit code 0 when every probe was blocked."""
    child = report.get("child", {})
    probes = child.get("probes")
    if not probes:
        print(f"sandbox probe failed: {child}")
        return 1
    print(f"kernel {os.uname().release}, running as uid {os.geteuid()}")
    print("\nconfinement step                     active")
    steps = {**report.get("worker", {}), **probes["active"]}
    for name, active in sorted(steps.items()):
        print(f"  {name:<35} {'yes' if active else 'NO'}")
    print("\nattempted by a confined child        blocked")
    for name, blocked in probes["checks"].items():
        print(f"  {name:<35} {'yes' if blocked else 'NO'}")
    print(
        f"\nchild uid {probes['uid']}, no_new_privs {probes['no_new_privs']}, open fds {probes['open_fds']}"
    )
    print(f"child environment: {', '.join(probes['env'])}")
    print(f"box writable by the child: {'yes' if probes.get('box_writable') else 'NO'}")
    print("hard limits: " + ", ".join(f"{k[7:]}={v}" for k, v in probes["limits"].items()))
    return 0 if all(probes["checks"].values()) else 1
