"""One process of a 2-process tiny training run on CPU (4 virtual devices each, gloo collectives, loopback).

    python tests/trainer_multihost.py PROCESS_ID PORT rm|sft RUN_DIR [key=value ...]
    python tests/trainer_multihost.py PROCESS_ID PORT rl CONFIG [key=value ...]

rm / sft train the tests' tiny config (tests/rm_runs.py, tests/sft_runs.py) into RUN_DIR; rl runs an RL
config file. Each process feeds only its own rows (and, for sft's pass rates and rl's rollouts, samples and
judges its own share); process 0 writes the metrics. Used by tests/test_{rm,sft,rl}_multihost.py.
"""

from __future__ import annotations

import sys
from pathlib import Path


def run(args: list[str]) -> None:
    """Dispatch on the trainer kind (see the module docstring)."""
    kind, target, *overrides = args
    if kind == "rl":
        from acecoder_jax.common.config import load_config
        from acecoder_jax.rl.config import RLConfig
        from acecoder_jax.rl.trainer import train

        train(load_config(RLConfig, target, overrides))
    elif kind == "rm":
        from rm_runs import tiny_config

        from acecoder_jax.rm.trainer import train

        train(tiny_config(Path(target), *overrides))
    elif kind == "sft":
        from sft_runs import tiny_config

        from acecoder_jax.sft.trainer import train

        train(tiny_config(Path(target), *overrides))
    else:
        raise SystemExit(f"unknown trainer kind {kind!r}: rm, sft or rl")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    from multihost import process_main

    process_main(run, sys.argv[1:])
