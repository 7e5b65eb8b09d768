"""The golden tiny RM run: its metrics.jsonl (timing fields dropped) is pinned in tests/fixtures.

The fixture was written by the RM trainer before it was rebuilt on the shared training core
(acecoder_jax/train/); tests/test_rm_golden.py asserts today's trainer reproduces it (tolerances there).
Regenerate only on purpose (a deliberate change of the numbers): `.venv/bin/python tests/rm_golden.py`.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # the same 8 virtual CPU devices the tests see (set before jax starts)
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
    os.environ["JAX_PLATFORMS"] = "cpu"
    sys.path.insert(0, str(Path(__file__).parent))

from rm_runs import ROOT, tiny_config

GOLDEN = ROOT / "tests" / "fixtures" / "rm_golden_metrics.jsonl"
TIMING = frozenset({"tokens_per_s", "mfu"})  # wall-clock dependent: not part of the golden record
# 6 steps of 16 pairs in 2 micro-batches on mesh (8, 1, 1), checkpoints every 2, eval of 32 pairs every 3.
OVERRIDES = (
    "mesh.data=8",
    "mesh.fsdp=1",
    "mesh.tensor=1",
    f"data.eval={ROOT}/tests/fixtures/rm_pairs_tiny_eval.jsonl",
    "eval.every=3",
)


def golden_run(run_dir: Path) -> list[dict[str, Any]]:
    """Train the golden configuration into `run_dir`; its metrics rows without timing fields."""
    from acecoder_jax.rm.trainer import train

    train(tiny_config(run_dir, *OVERRIDES))
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def read_golden() -> list[dict[str, Any]]:
    """The pinned rows."""
    return [json.loads(line) for line in GOLDEN.read_text().splitlines()]


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        rows = golden_run(Path(tmp) / "run")
    GOLDEN.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    print(f"wrote {len(rows)} rows to {GOLDEN}")
