"""`acecoder serve-exec`: the executor as an HTTP reward service (executor/serve.py, docs/scale_out.md)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys
import threading
from pathlib import Path

from executor.cli import _timeout
from executor.pool import Executor
from executor.serve import ExecServer, ExecService, ServeLimits

TOKEN_ENV = "ACECODER_EXEC_TOKEN"


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of `acecoder serve-exec`."""
    defaults = ServeLimits()
    parser = argparse.ArgumentParser(prog="acecoder serve-exec", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    parser.add_argument("--port", type=int, default=8000, help="port (0: any free port, printed at start)")
    parser.add_argument("--token-file", type=Path, help=f"bearer token file (else ${TOKEN_ENV})")
    parser.add_argument("--no-auth", action="store_true", help="serve without a token (loopback only)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    parser.add_argument("--timeout", type=_timeout, default=5.0, help="seconds per test (default 5)")
    parser.add_argument("--memory-mb", type=int, default=1024, help="address-space limit per program (MiB)")
    parser.add_argument("--max-requests", type=int, default=defaults.max_requests, help="admitted at once")
    parser.add_argument("--max-jobs", type=int, default=defaults.max_jobs, help="jobs per request")
    parser.add_argument("--max-body-mb", type=int, default=defaults.max_body_bytes >> 20, help="body size")
    parser.add_argument("--deadline", type=_timeout, default=defaults.deadline_s, help="seconds per request")
    parser.add_argument("--idle-timeout", type=_timeout, default=30.0, help="idle keep-alive seconds")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def read_token(args: argparse.Namespace) -> str | None:
    """The bearer token from --token-file or the environment; None when neither gives one."""
    if args.token_file is not None:
        token = args.token_file.read_text().strip()
        if not token:
            raise ValueError(f"{args.token_file}: the token file is empty")
        return token
    return os.environ.get(TOKEN_ENV, "").strip() or None


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    """Entry point of `acecoder serve-exec`; serves until SIGTERM/SIGINT, then finishes in-flight requests."""
    args = build_parser().parse_args(argv)
    try:
        token = read_token(args)
    except (OSError, ValueError) as err:
        print(f"acecoder serve-exec: {err}", file=sys.stderr)
        return 2
    if token is None and not (args.no_auth and is_loopback(args.host)):
        print(
            f"acecoder serve-exec: no token (--token-file or ${TOKEN_ENV}); "
            "--no-auth is allowed only on a loopback --host",
            file=sys.stderr,
        )
        return 2
    limits = ServeLimits(
        max_body_bytes=args.max_body_mb << 20,
        max_jobs=args.max_jobs,
        max_requests=args.max_requests,
        deadline_s=args.deadline,
    )
    with Executor(workers=args.workers, timeout_s=args.timeout, memory_mb=args.memory_mb) as executor:
        from acecoder_jax.rl.answer import answer_program  # noqa: F401  (imported now, not on the first reward)

        service = ExecService(executor, limits, token)
        server = ExecServer((args.host, args.port), service, args.verbose, args.idle_timeout)
        stop = threading.Event()

        def _stop(signum: int, frame: object) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        serving = threading.Thread(target=server.serve_forever, name="serve-exec", daemon=True)
        serving.start()
        print(f"acecoder serve-exec: listening on {server.url} ({executor.workers} workers)", flush=True)
        stop.wait()
        server.stop()  # no new connections; in-flight requests finish, their handler threads are joined
        serving.join()
    print("acecoder serve-exec: stopped", flush=True)
    return 0
