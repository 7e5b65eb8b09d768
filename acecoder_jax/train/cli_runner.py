"""The command line every `acecoder train-*` shares: config + overrides, multi-host join, the run, exit codes.

Exit 0 when the run finished, 2 on a config error, 1 on a data/checkpoint/mesh error, 143 when SIGTERM
stopped it (the run is checkpointed; rerun to resume). The trainer and its error types are imported only after
the config loaded, so a bad key fails fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from acecoder_jax.common.config import ConfigError, load_config

# () -> (train(cfg) -> summary, errors that mean a bad config (exit 2), errors that mean bad data (exit 1))
TrainerLoader = Callable[[], tuple[Callable[[Any], dict[str, Any]], tuple[type, ...], tuple[type, ...]]]
MESH_HINT = "XLA_FLAGS=--xla_force_host_platform_device_count=8 gives 8 virtual CPU devices"


def run_trainer_cli(
    argv: list[str] | None,
    *,
    command: str,
    description: str,
    configs: str,
    example: str,
    config_class: Callable[[], type],
    trainer: TrainerLoader,
    shown: Sequence[str],
) -> int:
    """Parse `--config FILE [key=value ...]`, run the trainer, print the summary's `shown` keys as JSON."""
    prog = f"acecoder {command}"
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", help=f"YAML config ({configs})")
    parser.add_argument("overrides", nargs="*", help=f"dotted key=value overrides, e.g. {example}")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(config_class(), args.config, args.overrides)
    except ConfigError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 2

    from acecoder_jax.train.distributed import maybe_initialize

    maybe_initialize()  # multi-host jobs (scripts/launch/) join before jax is used
    from acecoder_jax.sharding import ShardingError

    train, config_errors, data_errors = trainer()
    try:
        summary = train(cfg)
    except (ConfigError, *config_errors) as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 2
    except data_errors as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    except ShardingError as err:
        print(f"{prog}: {err}; set mesh.data/fsdp/tensor to fit the devices ({MESH_HINT})", file=sys.stderr)
        return 1
    print(json.dumps({k: summary.get(k) for k in shown}, default=str))
    if not summary["finished"]:
        print(f"{prog}: stopped at step {summary['steps']} (SIGTERM); rerun to resume", file=sys.stderr)
        return 143  # 128 + SIGTERM, as if the signal had ended the process
    return 0
