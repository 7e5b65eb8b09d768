"""`acecoder train-sft --config configs/sft/NAME.yaml [key=value ...]`."""

from __future__ import annotations

import sys
from typing import Any

from acecoder_jax.train.cli_runner import run_trainer_cli

SHOWN = ("run_dir", "steps", "total_steps", "finished", "last", "eval", "policy_dir", "pass_rates")


def _config_class() -> type:
    from acecoder_jax.sft.config import SFTConfig

    return SFTConfig


def _trainer() -> tuple[Any, tuple[type, ...], tuple[type, ...]]:
    from acecoder_jax.data.sft_format import ChatTemplateError
    from acecoder_jax.data.sft_tokenize import SFTDataError
    from acecoder_jax.models import CheckpointError
    from acecoder_jax.sft.policy_model import PolicySpecError
    from acecoder_jax.sft.trainer import SFTConfigError, train
    from acecoder_jax.train.checkpoint import CheckpointMismatchError
    from acecoder_jax.world import WorldError
    from executor.jsonl import JsonlError

    data_errors = (
        SFTDataError,
        ChatTemplateError,
        JsonlError,
        CheckpointMismatchError,
        CheckpointError,
        WorldError,
        FileNotFoundError,
    )
    return train, (SFTConfigError, PolicySpecError), data_errors


def main(argv: list[str] | None = None) -> int:
    """Supervised fine-tuning; exit 2 on a config error, 1 on a data/checkpoint error, 143 on SIGTERM."""
    return run_trainer_cli(
        argv,
        command="train-sft",
        description="Supervised fine-tuning of a causal LM on chat rows, loss on assistant tokens "
        "(resumes a run_dir).",
        configs="configs/sft/*.yaml",
        example="train.lr=1e-5 run_dir=runs/x",
        config_class=_config_class,
        trainer=_trainer,
        shown=SHOWN,
    )


if __name__ == "__main__":
    sys.exit(main())
