"""`acecoder world --out DIR [--seed S]`: write the policy world (reused when DIR already holds it)."""

from __future__ import annotations

import argparse
import json
import sys

from acecoder_jax.world.files import MANIFEST, ensure_world
from acecoder_jax.world.problem import WorldError


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) the world in --out; print its manifest; exit 1 when --out holds something else."""
    parser = argparse.ArgumentParser(
        prog="acecoder world",
        description="Generate the policy world: AceCode-87K train/heldout rows with reference solutions, "
        "seed rows, SFT chat rows and a small tokenizer. Deterministic from --seed.",
    )
    parser.add_argument("--out", required=True, help="output directory (reused when it holds this world)")
    parser.add_argument("--seed", type=int, default=0, help="world seed (default 0)")
    args = parser.parse_args(argv)
    try:
        out = ensure_world(args.out, args.seed)
    except WorldError as err:
        print(f"acecoder world: {err}", file=sys.stderr)
        return 1
    print(json.dumps({"out": str(out), **json.loads((out / MANIFEST).read_text())}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
