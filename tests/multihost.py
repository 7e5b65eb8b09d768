"""A real multi-process JAX job on this machine: `run_processes` starts N processes of a driver script
(coordinator on a free loopback port) and fails with their stderr if any fails; `process_main` is what each
driver process runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = 2  # the multi-host tests' job: 2 processes x 4 CPU devices


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_processes(script: Path, args: list[str], processes: int, timeout_s: float = 900) -> None:
    """`python script PROCESS_ID PORT *args` for every process id; all must exit 0."""
    port = free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(i), str(port), *args],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for i in range(processes)
    ]
    errors = [p.communicate(timeout=timeout_s)[1].decode()[-3000:] for p in procs]
    assert [p.returncode for p in procs] == [0] * processes, "\n".join(errors)


def process_main(run: Callable[[list[str]], None], argv: list[str], local_devices: int = 4) -> None:
    """The body of a driver script: `argv` = PROCESS_ID PORT *rest. Gives this process `local_devices` virtual
    CPU devices, joins the job on 127.0.0.1:PORT over gloo, calls `run(rest)`, leaves. Call before jax is
    imported."""
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={local_devices}"
    os.environ["JAX_PLATFORMS"] = "cpu"
    import jax

    process_id, port, *rest = argv
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{port}", num_processes=PROCESSES, process_id=int(process_id)
    )
    run(rest)
    jax.distributed.shutdown()
