"""One process of a 2-process tiny train-rm run on CPU (4 virtual devices each, gloo collectives, loopback).

    python tests/rm_multihost.py PROCESS_ID PORT RUN_DIR [key=value ...]

Each process loads only its own rows of every batch; process 0 writes the metrics. Used by
tests/test_rm_multihost.py.
"""

from __future__ import annotations

import sys
from pathlib import Path


def train_tiny(args: list[str]) -> None:
    """Train the tiny RM config into RUN_DIR (args: RUN_DIR [key=value ...])."""
    from rm_runs import tiny_config

    from acecoder_jax.rm.trainer import train

    run_dir, *overrides = args
    train(tiny_config(Path(run_dir), *overrides))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    from multihost import process_main

    process_main(train_tiny, sys.argv[1:])
