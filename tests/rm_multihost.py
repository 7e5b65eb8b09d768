"""One process of a 2-process tiny train-rm run on CPU (4 virtual devices each, gloo collectives, loopback).

    python tests/rm_multihost.py PROCESS_ID PORT RUN_DIR [key=value ...]

Each process loads only its own rows of every batch; process 0 writes the metrics. Used by
tests/test_rm_multihost.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROCESSES = 2


def main(argv: list[str]) -> None:
    """Join the job on 127.0.0.1:PORT as PROCESS_ID, then train the tiny config into RUN_DIR."""
    import jax

    process_id, port, run_dir, *overrides = argv
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{port}", num_processes=PROCESSES, process_id=int(process_id)
    )
    from rm_runs import tiny_config

    from acecoder_jax.rm.trainer import train

    train(tiny_config(Path(run_dir), *overrides))
    jax.distributed.shutdown()


if __name__ == "__main__":  # before jax starts: 4 virtual CPU devices in this process
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    os.environ["JAX_PLATFORMS"] = "cpu"
    sys.path.insert(0, str(Path(__file__).parent))
    main(sys.argv[1:])
