"""`acecoder train-sft --config configs/sft/NAME.yaml [key=value ...]`."""

from __future__ import annotations

import argparse
import json
import sys

from acecoder_jax.common.config import ConfigError, load_config

SHOWN = ("run_dir", "steps", "total_steps", "finished", "last", "eval", "policy_dir", "pass_rates")


def main(argv: list[str] | None = None) -> int:
    """Supervised fine-tuning; exit 2 on a config error, 1 on a data/checkpoint error, 143 on SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="acecoder train-sft",
        description="Supervised fine-tuning of a causal LM on chat rows, loss on assistant tokens "
        "(resumes a run_dir).",
    )
    parser.add_argument("--config", help="YAML config (configs/sft/*.yaml)")
    parser.add_argument(
        "overrides", nargs="*", help="dotted key=value overrides, e.g. train.lr=1e-5 run_dir=runs/x"
    )
    args = parser.parse_args(argv)

    from acecoder_jax.sft.config import SFTConfig

    try:
        cfg = load_config(SFTConfig, args.config, args.overrides)
    except ConfigError as err:
        print(f"acecoder train-sft: {err}", file=sys.stderr)
        return 2

    from acecoder_jax.train.distributed import maybe_initialize

    maybe_initialize()  # multi-host jobs join before jax is used
    from acecoder_jax.data.sft_format import ChatTemplateError
    from acecoder_jax.data.sft_tokenize import SFTDataError
    from acecoder_jax.models import CheckpointError
    from acecoder_jax.sft.policy_model import PolicySpecError
    from acecoder_jax.sft.trainer import SFTConfigError, train
    from acecoder_jax.sharding import ShardingError
    from acecoder_jax.train.checkpoint import CheckpointMismatchError
    from acecoder_jax.world import WorldError
    from executor.jsonl import JsonlError

    try:
        summary = train(cfg)
    except (SFTConfigError, PolicySpecError) as err:
        print(f"acecoder train-sft: {err}", file=sys.stderr)
        return 2
    except (
        SFTDataError,
        ChatTemplateError,
        JsonlError,
        CheckpointMismatchError,
        CheckpointError,
        WorldError,
        FileNotFoundError,
    ) as err:
        print(f"acecoder train-sft: {err}", file=sys.stderr)
        return 1
    except ShardingError as err:
        hint = "XLA_FLAGS=--xla_force_host_platform_device_count=8 gives 8 virtual CPU devices"
        print(
            f"acecoder train-sft: {err}; set mesh.data/fsdp/tensor to fit the devices ({hint})",
            file=sys.stderr,
        )
        return 1
    print(json.dumps({k: summary.get(k) for k in SHOWN}, default=str))
    if not summary["finished"]:
        print(
            f"acecoder train-sft: stopped at step {summary['steps']} (SIGTERM); rerun to resume",
            file=sys.stderr,
        )
        return 143  # 128 + SIGTERM, as if the signal had ended the process
    return 0


if __name__ == "__main__":
    sys.exit(main())
