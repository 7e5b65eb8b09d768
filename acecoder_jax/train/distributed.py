"""Multi-host start-up: `jax.distributed.initialize()` when a launch script asks for it.

The launch scripts in scripts/launch/ export ACECODER_DISTRIBUTED=1; jax then finds the coordinator, process
count and index itself on TPU pods (TPU metadata) and SLURM clusters (SLURM_* variables), or from
JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID when those are set.
"""

from __future__ import annotations

import os


def maybe_initialize() -> bool:
    """Join the multi-process job if ACECODER_DISTRIBUTED=1; returns whether it did. Call before any jax
    use."""
    if os.environ.get("ACECODER_DISTRIBUTED", "") not in ("1", "true", "yes"):
        return False
    import jax

    kwargs = {}
    if os.environ.get("JAX_COORDINATOR_ADDRESS"):
        kwargs = dict(
            coordinator_address=os.environ["JAX_COORDINATOR_ADDRESS"],
            num_processes=int(os.environ["JAX_NUM_PROCESSES"]),
            process_id=int(os.environ["JAX_PROCESS_ID"]),
        )
    jax.distributed.initialize(**kwargs)
    return True
