"""`acecoder train-rm --config configs/rm/NAME.yaml [key=value ...]`."""

from __future__ import annotations

import sys
from typing import Any

from acecoder_jax.train.cli_runner import run_trainer_cli

SHOWN = ("run_dir", "steps", "total_steps", "finished", "last", "eval")


def _config_class() -> type:
    from acecoder_jax.rm.config import RMConfig

    return RMConfig


def _trainer() -> tuple[Any, tuple[type, ...], tuple[type, ...]]:
    from acecoder_jax.data.pairs import PairDataError
    from acecoder_jax.rm.trainer import RMConfigError, train
    from acecoder_jax.train.checkpoint import CheckpointMismatchError

    return train, (), (PairDataError, CheckpointMismatchError, RMConfigError, FileNotFoundError)


def main(argv: list[str] | None = None) -> int:
    """Train a Bradley-Terry reward model; exit 2 on a config error, 1 on a data error, 143 on SIGTERM."""
    return run_trainer_cli(
        argv,
        command="train-rm",
        description="Train a Bradley-Terry reward model on AceCodePair rows (resumes a run_dir).",
        configs="configs/rm/*.yaml",
        example="train.lr=2e-5 run_dir=runs/x",
        config_class=_config_class,
        trainer=_trainer,
        shown=SHOWN,
    )


if __name__ == "__main__":
    sys.exit(main())
