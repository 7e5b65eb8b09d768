"""`acecoder train-rl --config configs/rl/NAME.yaml [key=value ...]`."""

from __future__ import annotations

import argparse
import json
import sys

from acecoder_jax.common.config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    """Train a policy with RL; exit 2 on a config error, 1 on a data/checkpoint error, 143 on SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="acecoder train-rl",
        description="RL for code (Reinforce++, GRPO, RLOO, Dr. GRPO) with executor and reward-model rewards "
        "(resumes a run_dir).",
    )
    parser.add_argument("--config", help="YAML config (configs/rl/*.yaml)")
    parser.add_argument(
        "overrides", nargs="*", help="dotted key=value overrides, e.g. loss.estimator=grpo run_dir=runs/x"
    )
    args = parser.parse_args(argv)

    from acecoder_jax.rl.config import RLConfig

    try:
        cfg = load_config(RLConfig, args.config, args.overrides)
    except ConfigError as err:
        print(f"acecoder train-rl: {err}", file=sys.stderr)
        return 2

    from acecoder_jax.train.distributed import maybe_initialize

    maybe_initialize()
    from acecoder_jax.rl.trainer import train
    from acecoder_jax.sharding import ShardingError
    from acecoder_jax.train.checkpoint import CheckpointMismatchError
    from executor.jsonl import JsonlError

    try:
        summary = train(cfg)
    except ConfigError as err:
        print(f"acecoder train-rl: {err}", file=sys.stderr)
        return 2
    except (JsonlError, CheckpointMismatchError, FileNotFoundError, ShardingError) as err:
        print(f"acecoder train-rl: {err}", file=sys.stderr)
        return 1
    keys = ("run_dir", "steps", "total_steps", "finished", "initial_eval", "eval", "policy_dir")
    print(json.dumps({k: summary.get(k) for k in keys}, default=str))
    if not summary["finished"]:
        print(
            f"acecoder train-rl: stopped at step {summary['steps']} (SIGTERM); rerun to resume",
            file=sys.stderr,
        )
        return 143
    return 0


if __name__ == "__main__":
    sys.exit(main())
