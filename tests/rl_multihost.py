"""One process of a 2-process tiny train-rl run on CPU (4 virtual devices each, gloo collectives, loopback).

    python tests/rl_multihost.py PROCESS_ID PORT CONFIG [key=value ...]

Each process samples and judges its share of every rollout batch with its own executor; process 0 writes the
metrics. Used by tests/test_rl_multihost.py.
"""

from __future__ import annotations

import sys
from pathlib import Path


def train_config(args: list[str]) -> None:
    """Run the RL config (args: CONFIG [key=value ...])."""
    from acecoder_jax.common.config import load_config
    from acecoder_jax.rl.config import RLConfig
    from acecoder_jax.rl.trainer import train

    config, *overrides = args
    train(load_config(RLConfig, config, overrides))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    from multihost import process_main

    process_main(train_config, sys.argv[1:])
