"""One process of a 2-process tiny train-sft run on CPU (4 virtual devices each, gloo collectives, loopback).

    python tests/sft_multihost.py PROCESS_ID PORT RUN_DIR [key=value ...]

Each process feeds its own rows and samples/judges its share of the pass-rate questions; process 0 writes
the metrics. Used by tests/test_sft_multihost.py.
"""

from __future__ import annotations

import sys
from pathlib import Path


def train_tiny(args: list[str]) -> None:
    """Train the tiny SFT config into RUN_DIR (args: RUN_DIR [key=value ...])."""
    from sft_runs import tiny_config

    from acecoder_jax.sft.trainer import train

    run_dir, *overrides = args
    train(tiny_config(Path(run_dir), *overrides))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    from multihost import process_main

    process_main(train_tiny, sys.argv[1:])
