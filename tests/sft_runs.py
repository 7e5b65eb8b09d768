"""Tiny train-sft runs shared by the SFT tests (the world and each reference run: once per pytest process)."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

import jax

from acecoder_jax.common.config import load_config
from acecoder_jax.sft.config import SFTConfig

ROOT = Path(__file__).resolve().parents[1]
WORLD_CONFIG = ROOT / "configs" / "sft" / "world_cpu.yaml"

# The resumed and killed runs compile the same step: a per-session persistent compilation cache (fresh, so
# nothing stale is reused) lets each program compile once, subprocesses included.
_COMPILE_CACHE = tempfile.mkdtemp(prefix="sft_jax_cache_")
atexit.register(shutil.rmtree, _COMPILE_CACHE, ignore_errors=True)
jax.config.update("jax_compilation_cache_dir", _COMPILE_CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
os.environ["JAX_COMPILATION_CACHE_DIR"] = _COMPILE_CACHE


@functools.cache
def world_dir() -> Path:
    """The seed-0 policy world, built once per session in a temp dir."""
    from acecoder_jax.world import ensure_world

    root = tempfile.mkdtemp(prefix="sft_world_")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return ensure_world(Path(root) / "world", 0)


@functools.cache
def short_rows() -> Path:
    """The world's first 64 SFT rows (4 batches of 16: a short run tokenizes only these)."""
    path = world_dir().parent / "sft_64.jsonl"
    lines = (world_dir() / "sft.jsonl").read_text().splitlines(keepends=True)[:64]
    path.write_text("".join(lines))
    return path


def short_overrides(run_dir: Path) -> list[str]:
    """world_cpu.yaml shortened: 6 steps of 16 rows in 2 micro-batches on 8 devices, checkpoints every 2
    steps, metrics every step, no pass-rate eval."""
    world = world_dir()
    return [
        f"run_dir={run_dir}",
        f"world.dir={world}",
        f"data.train={short_rows()}",
        f"data.tokenizer={world}/tokenizer",
        "train.steps=6",
        "train.batch_size=16",
        "train.micro_batch_size=8",
        "train.logprob_chunk=64",  # several position chunks per sequence
        "checkpoint.every=2",
        "checkpoint.keep=10",
        "log.every=1",
        "log.progress=false",
        "eval.heldout=null",
        "eval.train=null",
        "mesh.data=8",
        "mesh.fsdp=1",
        "mesh.tensor=1",
    ]


def tiny_config(run_dir: Path, *overrides: str) -> SFTConfig:
    """configs/sft/world_cpu.yaml with the short settings and `overrides` (which win)."""
    return load_config(SFTConfig, WORLD_CONFIG, [*short_overrides(run_dir), *overrides])


@functools.cache
def reference_run(mesh: tuple[int, int, int] = (8, 1, 1), micro_batch_size: int = 8) -> Path:
    """A finished short run on `mesh`; returns its run_dir (do not modify it: copy first)."""
    from acecoder_jax.sft.trainer import train

    root = tempfile.mkdtemp(prefix="sft_ref_")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    run_dir = Path(root) / "run"
    data, fsdp, tensor = mesh
    train(
        tiny_config(
            run_dir,
            f"mesh.data={data}",
            f"mesh.fsdp={fsdp}",
            f"mesh.tensor={tensor}",
            f"train.micro_batch_size={micro_batch_size}",
        )
    )
    return run_dir
