"""Typed configuration of `acecoder train-rl` (YAML + dotted `key=value` overrides).

Defaults marked "paper" are AceCoder's RL recipe (arXiv 2502.01718; the released OpenRLHF fork): Reinforce++
with k1 KL 0.01 in the reward, PPO clip 0.2, 8 samples per prompt at temperature 1.0, lr 5e-7, train batch
128, rollout batch 256 prompts, 1 episode, the rule reward = pass rate of the question's kept tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from acecoder_jax.sharding import MeshConfig
from acecoder_jax.train.config import CheckpointConfig, LogConfig


@dataclass
class PolicyConfig:
    """The policy to train and the frozen reference it is held near."""

    model: str = ""  # HF checkpoint dir (an SFT'd or released policy) or a ModelConfig preset (random init)
    tokenizer: str | None = None  # None: the model dir's tokenizer
    dtype: Literal["bfloat16", "float32"] = "bfloat16"  # compute dtype; master weights stay fp32
    ref_dtype: Literal["bfloat16", "float32"] = (
        "bfloat16"  # the frozen reference (skipped when no KL is used)
    )


@dataclass
class DataConfig:
    """The RL prompts: AceCode-87K-format rows (id, question, test_cases)."""

    train: str = ""  # JSONL/parquet (the hard subset in the paper)
    heldout: str | None = None  # rows whose greedy pass@1 is measured at eval time
    prompt_style: Literal["chat", "r1"] = (
        "chat"  # chat: the instruct models; r1: <think>/<answer> from a base
    )
    max_prompt_tokens: int = 2048  # paper: 2048; longer prompts are bad rows
    on_bad_row: Literal["fail", "skip"] = "fail"
    shuffle: bool = True  # prompt order per episode (seeded)


@dataclass
class RolloutConfig:
    """Sampling: prompts per rollout batch, samples per prompt, lengths, truncation."""

    prompts: int = 256  # paper: rollout batch 256 prompts (the fork's script: 512)
    group_size: int = 8  # paper: n_samples_per_prompt 8
    temperature: float = 1.0  # paper
    top_p: float = 1.0
    max_new_tokens: int = 2048  # paper: generate_max_len 2048
    chunk_prompts: int = 0  # prompts decoded at once (0: all); each chunk is judged while the next decodes
    truncation: Literal["keep", "mask", "zero"] = "keep"  # what a response cut at max_new_tokens contributes
    overlong_buffer: int = 0  # DAPO: reward falls linearly over the last this many tokens ...
    overlong_penalty: float = 0.0  # ... to -overlong_penalty at max_new_tokens
    dynamic_filter: bool = False  # drop groups whose raw pass rates are all equal, backfill from next prompts
    max_extra_prompts: int = 0  # cap on backfill prompts per rollout batch (0: rollout.prompts)


@dataclass
class RewardConfig:
    """Which reward: the executor's pass rate (rule), a reward model (rm), or both."""

    kind: Literal["rule", "rm", "weighted", "hybrid"] = "rule"
    mode: Literal["pass_rate", "binary", "bonus"] = "pass_rate"  # paper: pass_rate; bonus: +0.5 if all pass
    rm: str | None = None  # AceCodeRM checkpoint dir (kind rm / weighted / hybrid)
    rule_weight: float = 1.0  # kind weighted: rule_weight * rule + rm_weight * rm
    rm_weight: float = 1.0
    hybrid_coef: float = 0.1  # kind hybrid: tie-break coefficient on the RM's centred score
    format_weight: float = 0.0  # R1 style: + format_weight if the completion follows <think>/<answer>
    timeout_s: float = 5.0  # per test
    memory_mb: int = 1024
    workers: int = 0  # executor processes (0: one per CPU)
    deadline_s: float = 120.0  # a rollout batch never waits longer for rewards; late programs get 0


@dataclass
class LossConfig:
    """Advantage estimator and the PPO-clip policy loss."""

    estimator: Literal["reinforce", "reinforce_baseline", "grpo", "rloo", "dr_grpo"] = "reinforce"  # paper
    kl_coef: float = 0.01  # paper: init_kl_coef 0.01, k1, in the reward
    kl_estimator: Literal["k1", "k2", "k3"] = "k1"
    kl_loss_coef: float = 0.0  # KL as a loss term instead (GRPO style, k3)
    kl_loss_estimator: Literal["k1", "k2", "k3"] = "k3"
    gamma: float = 1.0
    clip_low: float = 0.2  # paper: eps_clip 0.2
    clip_high: float = 0.2
    dual_clip: float | None = None
    aggregation: Literal["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"] = (
        "seq-mean-token-mean"
    )
    entropy_coef: float = 0.0
    logprob_chunk: int = 512  # positions whose logits exist at once (never [B, T, V])


@dataclass
class TrainConfig:
    """Optimisation and run length."""

    rollouts: int | None = None  # rollout batches to run; None: `episodes` passes over the prompts
    episodes: int = 1  # paper: 1
    batch_size: int = 128  # rows per optimizer update (paper: train_batch_size 128)
    micro_batch_size: int | None = None  # rows per forward/backward; None: the whole batch
    lr: float = 5e-7  # paper: actor_learning_rate 5e-7
    warmup_ratio: float = 0.03  # OpenRLHF: cosine_with_min_lr, warmup 3% of the updates ...
    min_lr_ratio: float = 0.1  # ... down to 0.1 x lr
    remat: bool = False  # recompute each decoder layer in the backward pass
    scan_unroll: int | None = None  # layers per layer-scan iteration; None: the model config's (HF dirs: 1)
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    adam_b1: float = 0.9
    adam_b2: float = 0.95  # OpenRLHF's default betas (0.9, 0.95)
    adam_eps: float = 1e-8


@dataclass
class EvalConfig:
    """Held-out greedy pass@1 (data.heldout) every `every` updates and at the end (0: only at the end)."""

    every: int = 0
    max_problems: int = 0  # 0: all held-out rows


@dataclass
class WorldConfig:
    """Build the policy world and its SFT policy when missing (configs/rl/world_cpu.yaml)."""

    dir: str | None = None  # world files (train.jsonl, heldout.jsonl); generated here when missing
    seed: int = 0
    sft_config: str | None = None  # SFT config that produces policy.model when it is missing


@dataclass
class RLConfig:
    """The whole `acecoder train-rl` configuration."""

    run_dir: str = "runs/rl"
    seed: int = 0
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    data: DataConfig = field(default_factory=DataConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    mesh: MeshConfig = field(default_factory=MeshConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    log: LogConfig = field(default_factory=LogConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    world: WorldConfig = field(default_factory=WorldConfig)
