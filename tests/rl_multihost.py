"""One process of a 2-process tiny train-rl run on CPU (4 virtual devices each, gloo collectives, loopback).

    python tests/rl_multihost.py PROCESS_ID PORT CONFIG [key=value ...]

Each process samples and judges its share of every rollout batch with its own executor; process 0 writes the
metrics. Used by tests/test_rl_multihost.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROCESSES = 2


def main(argv: list[str]) -> None:
    """Join the job on 127.0.0.1:PORT as PROCESS_ID, then run the RL config."""
    import jax

    process_id, port, config, *overrides = argv
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{port}", num_processes=PROCESSES, process_id=int(process_id)
    )
    from acecoder_jax.common.config import load_config
    from acecoder_jax.rl.config import RLConfig
    from acecoder_jax.rl.trainer import train

    train(load_config(RLConfig, config, overrides))
    jax.distributed.shutdown()


if __name__ == "__main__":  # before jax starts: 4 virtual CPU devices in this process
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    os.environ["JAX_PLATFORMS"] = "cpu"
    sys.path.insert(0, str(Path(__file__).parent))
    main(sys.argv[1:])
