"""The typed config of `acecoder pipeline` (YAML in configs/data/, `key=value` overrides).

Defaults reproduce the paper; configs/data/tiny_cpu.yaml shrinks everything to run on a laptop CPU.
"""

from __future__ import annotations

import dataclasses

from data_gen.backends.base import GenerationConfig
from data_gen.stages.contamination_check import ContaminationOptions
from data_gen.stages.filter_tests import FilterOptions
from data_gen.stages.hard_subset import HardOptions
from data_gen.stages.pairs import PairOptions
from data_gen.stages.sample import SampleOptions
from data_gen.stages.score import ScoreOptions
from data_gen.stages.synth_tests import SynthOptions
from data_gen.stages.test_strength import StrengthOptions
from executor.config import ExecutorConfig

# Stage name -> output file name inside output_dir, in pipeline order.
STAGE_OUTPUTS: dict[str, str] = {
    "synth_tests": "synth.jsonl",
    "filter_tests": "filtered.jsonl",
    "sample": "samples.jsonl",
    "score": "acecode.jsonl",
    "pairs": "pairs.jsonl",
    "hard_subset": "hard.jsonl",
    "test_strength": "test_strength.jsonl",
    "contamination": "contamination.jsonl",
}
PAPER_STAGES = ["synth_tests", "filter_tests", "sample", "score", "pairs", "hard_subset"]


def paper_synth_generation() -> GenerationConfig:
    """Paper: GPT-4o-mini, temperature 0.7, max_tokens 8192, JSON replies."""
    return GenerationConfig(
        backend="openai", model="gpt-4o-mini", temperature=0.7, max_tokens=8192, json_mode=True
    )


def paper_oracle_generation() -> GenerationConfig:
    """Paper: Qwen2.5-Coder-32B-Instruct, greedy, max_tokens 1024 (the release's vLLM default)."""
    return GenerationConfig(
        backend="vllm", model="Qwen/Qwen2.5-Coder-32B-Instruct", temperature=0.0, max_tokens=1024
    )


def paper_sampler_generation() -> GenerationConfig:
    """Paper: Qwen2.5-Coder-7B-Instruct, n=16, temperature 0.7, top_p 1.0, max_tokens 1024."""
    return GenerationConfig(
        backend="vllm",
        model="Qwen/Qwen2.5-Coder-7B-Instruct",
        n=16,
        temperature=0.7,
        top_p=1.0,
        max_tokens=1024,
    )


@dataclasses.dataclass
class SynthSection(SynthOptions):
    """synth-tests: options and the synthesis model."""

    generation: GenerationConfig = dataclasses.field(default_factory=paper_synth_generation)


@dataclasses.dataclass
class FilterSection(FilterOptions):
    """filter-tests: rules and the oracle model (unused when solution_field is set)."""

    oracle: GenerationConfig = dataclasses.field(default_factory=paper_oracle_generation)


@dataclasses.dataclass
class SampleSection(SampleOptions):
    """sample: prompt options and the policy model."""

    generation: GenerationConfig = dataclasses.field(default_factory=paper_sampler_generation)


@dataclasses.dataclass
class PipelineConfig:
    """Every data stage, in order, with its settings."""

    seeds: str = ""  # seed rows {id, instruction?, program}: JSONL or parquet
    output_dir: str = "runs/data"
    stages: list[str] = dataclasses.field(default_factory=lambda: list(PAPER_STAGES))
    shard: str | None = None  # "i/n": this process's share of every streaming stage
    progress: bool = True
    synth: SynthSection = dataclasses.field(default_factory=SynthSection)
    filter: FilterSection = dataclasses.field(default_factory=FilterSection)
    sample: SampleSection = dataclasses.field(default_factory=SampleSection)
    executor: ExecutorConfig = dataclasses.field(default_factory=ExecutorConfig)
    score: ScoreOptions = dataclasses.field(default_factory=ScoreOptions)
    pairs: PairOptions = dataclasses.field(default_factory=PairOptions)
    hard_subset: HardOptions = dataclasses.field(default_factory=HardOptions)
    test_strength: StrengthOptions = dataclasses.field(default_factory=StrengthOptions)
    contamination: ContaminationOptions = dataclasses.field(default_factory=ContaminationOptions)

    def __post_init__(self) -> None:
        unknown = [s for s in self.stages if s not in STAGE_OUTPUTS]
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown}; valid: {list(STAGE_OUTPUTS)}")
