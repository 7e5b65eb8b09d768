"""Typed configuration of `acecoder train-rm` (YAML + dotted `key=value` overrides).

Defaults marked "paper" reproduce AceCodeRM's LLaMA-Factory recipe (arXiv 2502.01718, TIGER-AI-Lab/AceCoder
train/): 1 epoch, AdamW lr 1e-5, cosine with warmup ratio 0.1, global batch 128, bf16, val_size 0.005.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from acecoder_jax.sharding import MeshConfig
from acecoder_jax.train.config import CheckpointConfig, LogConfig


@dataclass
class DataConfig:
    """Where the AceCodePair rows come from and how they become token sequences."""

    train: str = ""  # JSONL/parquet of {instruction, input, chosen, rejected}, or an array_record dir (tfds)
    eval: str | None = None  # separate eval file; else `val_size` of train is held out
    val_size: float = 0.0  # paper: 0.005 of the pairs held out for evaluation
    max_length: int = 2048  # paper: 2048 (7B), 1024 (32B) tokens per (prompt + response) sequence
    truncation: Literal["none", "llamafactory"] = "none"  # none: over-long pairs are bad rows
    on_bad_row: Literal["fail", "skip"] = "fail"
    system_prompt: str | None = None  # None: the Qwen2.5 chat template's default system message
    pad_multiple: int = 64  # batches are padded to a multiple of this (fewer shapes, fewer compiles)
    window_batches: int = 64  # length-aware batching sorts windows of this many global batches
    tokenizer: str | None = None  # HF tokenizer dir; None: the model dir's, else the offline Qwen2.5 one


@dataclass
class TrainConfig:
    """Optimisation: AdamW + cosine schedule, clipping, accumulation to the global batch."""

    steps: int | None = None  # None: one epoch (paper: 1 epoch)
    batch_size: int = 128  # global pairs per optimizer step (paper: 128)
    micro_batch_size: int | None = None  # pairs per forward/backward; None: the whole batch at once
    lr: float = 1e-5  # paper
    warmup_ratio: float = 0.1  # paper
    weight_decay: float = 0.0  # LLaMA-Factory default (the paper sets none)
    adam_b1: float = 0.9
    adam_b2: float = 0.999
    adam_eps: float = 1e-8
    grad_clip: float = 1.0  # LLaMA-Factory / HF Trainer default max_grad_norm
    margin: float = 0.0  # loss = -log sigmoid(r_c - r_r - margin)
    center_rewards_coef: float = 0.0  # + coef * mean((r_c + r_r)^2) keeps rewards near zero
    remat: bool = False  # recompute each decoder layer in the backward pass (memory for compute)
    scan_unroll: int | None = None  # layers per layer-scan iteration; None: the model config's (HF dirs: 1)
    peak_flops_per_device: float | None = None  # for MFU; None: looked up from the device kind


@dataclass
class EvalConfig:
    """Held-out evaluation cadence (0: only at the end)."""

    every: int = 0
    batch_size: int | None = None  # None: train.batch_size


@dataclass
class RMConfig:
    """The whole `acecoder train-rm` configuration."""

    run_dir: str = "runs/rm"
    seed: int = 0
    dtype: Literal["bfloat16", "float32"] = "bfloat16"  # compute dtype; master weights are always fp32
    model: str = "tiny"  # a ModelConfig preset name or a Hugging Face checkpoint directory
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    mesh: MeshConfig = field(default_factory=MeshConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    log: LogConfig = field(default_factory=LogConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
