"""Typed configuration of `acecoder train-sft` (YAML + dotted `key=value` overrides).

Optimiser defaults follow TRL's SFTTrainer / HF Trainer (AdamW, linear warmup then cosine, clip 1.0); the
AceCoder paper trains no SFT stage of its own, so nothing here is a paper setting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from acecoder_jax.sharding import MeshConfig
from acecoder_jax.train.config import CheckpointConfig, LogConfig


@dataclass
class WorldSection:
    """The policy world the data paths point into, built when missing (acecoder_jax.world.ensure_world)."""

    dir: str | None = None  # None: the data files must already exist
    seed: int = 0


@dataclass
class DataConfig:
    """Where the SFT rows come from and how they become token sequences."""

    train: str = ""  # JSONL/parquet (or a glob of shards) of {messages} or {prompt, completion} rows
    eval: str | None = None  # rows of the same format for a held-out token-level loss
    max_length: int = 2048  # tokens per formatted chat, prompt included
    truncation: Literal["none", "left"] = "none"  # none: over-long rows are bad rows; left: keep the end
    on_bad_row: Literal["fail", "skip"] = "fail"
    pad_multiple: int = 64  # batches are padded to a multiple of this (fewer shapes, fewer compiles)
    window_batches: int = 64  # length-aware batching sorts windows of this many global batches (1: random)
    tokenizer: str | None = None  # HF tokenizer dir; None: the model dir's, else the offline Qwen2.5 one


@dataclass
class TrainConfig:
    """Optimisation: AdamW + warmup-cosine, clipping, accumulation to the global batch."""

    steps: int | None = None  # None: `epochs` passes over the train rows
    epochs: float = 1.0  # used when steps is None
    batch_size: int = 64  # global sequences per optimizer step
    micro_batch_size: int | None = None  # sequences per forward/backward; None: the whole batch at once
    lr: float = 2e-5  # TRL SFTConfig default
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    adam_b1: float = 0.9
    adam_b2: float = 0.999
    adam_eps: float = 1e-8
    grad_clip: float = 1.0  # HF Trainer default max_grad_norm
    remat: bool = False  # recompute each decoder layer in the backward pass (memory for compute)
    scan_unroll: int | None = None  # layers per layer-scan iteration; None: the model config's (HF dirs: 1)
    logprob_chunk: int = 512  # positions whose [B, chunk, V] logits exist at once (rl.logprobs)
    peak_flops_per_device: float | None = None  # for MFU; None: looked up from the device kind


@dataclass
class EvalConfig:
    """Held-out token loss cadence, and the policy's pass rates through the executor at the end."""

    every: int = 0  # token-level eval of data.eval every this many steps (0: only at the end)
    batch_size: int | None = None  # None: train.batch_size
    heldout: str | None = None  # AceCode-87K rows (id, question, test_cases) sampled and judged at the end
    train: str | None = None  # the same for train-split rows (how well the policy fits what it saw)
    limit: int = 0  # judge only the first this many rows of each file (0: all)
    train_every: int = 1  # judge every k-th row of eval.train (a sample across a file grouped by family)
    greedy: bool = True  # greedy pass@1 (mean pass rate and all-pass fraction of one greedy answer each)
    n: int = 0  # samples per question at `temperature` (0: none)
    temperature: float = 0.8
    top_p: float = 1.0
    max_new_tokens: int = 512
    sample_batch: int | None = 64  # rows decoded together (None: all; the prefill holds [rows, T, V] logits)
    timeout_s: float = 5.0  # per test in the executor
    workers: int = 0  # executor processes (0: one per CPU)


@dataclass
class SFTConfig:
    """The whole `acecoder train-sft` configuration."""

    run_dir: str = "runs/sft"
    seed: int = 0
    dtype: Literal["bfloat16", "float32"] = "bfloat16"  # compute dtype; master weights are always fp32
    model: str = ""  # a ModelConfig preset, a configs/model/*.yaml (random init) or a HF checkpoint dir
    world: WorldSection = field(default_factory=WorldSection)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    mesh: MeshConfig = field(default_factory=MeshConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    log: LogConfig = field(default_factory=LogConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
