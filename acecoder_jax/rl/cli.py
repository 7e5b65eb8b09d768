"""`acecoder train-rl --config configs/rl/NAME.yaml [key=value ...]`."""

from __future__ import annotations

import sys
from typing import Any

from acecoder_jax.train.cli_runner import run_trainer_cli

SHOWN = ("run_dir", "steps", "total_steps", "finished", "initial_eval", "eval", "policy_dir")


def _config_class() -> type:
    from acecoder_jax.rl.config import RLConfig

    return RLConfig


def _trainer() -> tuple[Any, tuple[type, ...], tuple[type, ...]]:
    from acecoder_jax.rl.trainer import train
    from acecoder_jax.train.checkpoint import CheckpointMismatchError
    from executor.jsonl import JsonlError

    return train, (), (JsonlError, CheckpointMismatchError, FileNotFoundError)


def main(argv: list[str] | None = None) -> int:
    """Train a policy with RL; exit 2 on a config error, 1 on a data/checkpoint error, 143 on SIGTERM."""
    return run_trainer_cli(
        argv,
        command="train-rl",
        description="RL for code (Reinforce++, GRPO, RLOO, Dr. GRPO) with executor and reward-model rewards "
        "(resumes a run_dir).",
        configs="configs/rl/*.yaml",
        example="loss.estimator=grpo run_dir=runs/x",
        config_class=_config_class,
        trainer=_trainer,
        shown=SHOWN,
    )


if __name__ == "__main__":
    sys.exit(main())
