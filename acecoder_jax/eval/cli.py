"""`acecoder best-of-n --config configs/eval/NAME.yaml [key=value ...]`."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str]) -> int:
    """Run a best-of-N evaluation from a YAML config plus dotted overrides; prints the markdown table."""
    parser = argparse.ArgumentParser(prog="acecoder best-of-n", description=__doc__)
    parser.add_argument("--config", required=True, help="YAML file (configs/eval/*.yaml)")
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. sampling.n=16")
    args = parser.parse_args(argv)

    from acecoder_jax.common.config import ConfigError, load_config

    from .best_of_n_run import run
    from .config import BestOfNConfig

    try:
        config = load_config(BestOfNConfig, args.config, args.overrides)
    except ConfigError as err:
        print(f"acecoder best-of-n: {err}", file=sys.stderr)
        return 2
    table_path = f"{config.run_dir}/best_of_n.md"
    run(config)
    with open(table_path, encoding="utf-8") as handle:
        print(handle.read())
    print(f"wrote {table_path}, {config.run_dir}/best_of_n.png and {config.run_dir}/metrics.json")
    return 0
