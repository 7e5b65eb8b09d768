"""Tiny train-rm runs shared by the RM tests (each made once per pytest process)."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

import jax

from acecoder_jax.common.config import load_config
from acecoder_jax.rm.config import RMConfig

ROOT = Path(__file__).resolve().parents[1]

# Many RM tests compile the same train step (resumed runs, the killed subprocess); a per-session persistent
# compilation cache lets each program compile once. Fresh directory per session: nothing stale is ever reused.
_COMPILE_CACHE = tempfile.mkdtemp(prefix="rm_jax_cache_")
atexit.register(shutil.rmtree, _COMPILE_CACHE, ignore_errors=True)
jax.config.update("jax_compilation_cache_dir", _COMPILE_CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
os.environ["JAX_COMPILATION_CACHE_DIR"] = _COMPILE_CACHE  # inherited by subprocess runs
TINY_CONFIG = ROOT / "configs" / "rm" / "tiny_cpu.yaml"
# 6 steps of 16 pairs in 2 micro-batches; checkpoints every 2 steps; metrics every step; no eval.
SHORT = (
    "train.steps=6",
    "train.batch_size=16",
    "train.micro_batch_size=8",
    "checkpoint.every=2",
    "checkpoint.keep=10",
    "log.every=1",
    "log.progress=false",
    "eval.every=0",
    "data.eval=null",
)


def tiny_config(run_dir: Path, *overrides: str) -> RMConfig:
    """configs/rm/tiny_cpu.yaml with run_dir, the SHORT settings and `overrides`."""
    return load_config(
        RMConfig,
        TINY_CONFIG,
        [f"run_dir={run_dir}", f"data.train={ROOT}/tests/fixtures/rm_pairs_tiny.jsonl", *SHORT, *overrides],
    )


@functools.cache
def reference_run(mesh: tuple[int, int, int] = (8, 1, 1), micro_batch_size: int = 8) -> Path:
    """A finished SHORT run on `mesh`; returns its run_dir (do not modify it: copy first)."""
    from acecoder_jax.rm.trainer import train

    root = tempfile.mkdtemp(prefix="rm_ref_")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    run_dir = Path(root) / "run"
    data, fsdp, tensor = mesh
    mesh_keys = (f"mesh.data={data}", f"mesh.fsdp={fsdp}", f"mesh.tensor={tensor}")
    train(tiny_config(run_dir, *mesh_keys, f"train.micro_batch_size={micro_batch_size}"))
    return run_dir
