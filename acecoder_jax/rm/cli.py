"""`acecoder train-rm --config configs/rm/NAME.yaml [key=value ...]`."""

from __future__ import annotations

import argparse
import json
import sys

from acecoder_jax.common.config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    """Train a Bradley-Terry reward model; exit 2 on a config error, 1 on a data error, 143 on SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="acecoder train-rm",
        description="Train a Bradley-Terry reward model on AceCodePair rows (resumes a run_dir).",
    )
    parser.add_argument("--config", help="YAML config (configs/rm/*.yaml)")
    parser.add_argument(
        "overrides", nargs="*", help="dotted key=value overrides, e.g. train.lr=2e-5 run_dir=runs/x"
    )
    args = parser.parse_args(argv)

    from acecoder_jax.rm.config import RMConfig

    try:
        cfg = load_config(RMConfig, args.config, args.overrides)
    except ConfigError as err:
        print(f"acecoder train-rm: {err}", file=sys.stderr)
        return 2

    from acecoder_jax.train.distributed import maybe_initialize

    maybe_initialize()  # multi-host jobs (scripts/launch/) join before jax is used
    from acecoder_jax.data.pairs import PairDataError
    from acecoder_jax.rm.trainer import RMConfigError, train
    from acecoder_jax.sharding import ShardingError
    from acecoder_jax.train.checkpoint import CheckpointMismatchError

    try:
        summary = train(cfg)
    except (PairDataError, CheckpointMismatchError, RMConfigError, FileNotFoundError) as err:
        print(f"acecoder train-rm: {err}", file=sys.stderr)
        return 1
    except ShardingError as err:
        hint = "XLA_FLAGS=--xla_force_host_platform_device_count=8 gives 8 virtual CPU devices"
        print(
            f"acecoder train-rm: {err}; set mesh.data/fsdp/tensor to fit the devices ({hint})",
            file=sys.stderr,
        )
        return 1
    print(
        json.dumps(
            {k: summary[k] for k in ("run_dir", "steps", "total_steps", "finished", "last", "eval")},
            default=str,
        )
    )
    if not summary["finished"]:
        print(
            f"acecoder train-rm: stopped at step {summary['steps']} (SIGTERM); rerun to resume",
            file=sys.stderr,
        )
        return 143  # 128 + SIGTERM, as if the signal had ended the process
    return 0


if __name__ == "__main__":
    sys.exit(main())
