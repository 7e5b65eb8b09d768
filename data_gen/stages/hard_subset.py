"""hard-subset: the RL subset, by the rule of the release (jdf-prog/OpenRLHF scripts/get_hard_data.py).

Per question, take the pass rates of its sampled programs (optionally only some models; the release used
"qwen_coder_2.5" and "llama3_instruct"); keep questions whose mean is <= the median of all means, then among
those the ones whose population standard deviation is >= the median of their standard deviations.
Medians are numpy's 50th percentile (linear interpolation), as released. Rows are written unchanged.
"""

from __future__ import annotations

import dataclasses
import math
from array import array
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from acecoder_jax.common.rows import iter_rows
from acecoder_jax.common.schemas import parse_acecode
from data_gen.row_shards import WHOLE_INPUT, Shard
from data_gen.stages.streaming import OK, Item, Outcome, StageStats, run_stage


@dataclasses.dataclass
class HardOptions:
    """Which models' pass rates count."""

    models: list[str] = dataclasses.field(default_factory=list)  # empty = every model


@dataclasses.dataclass(frozen=True)
class HardThresholds:
    """The two medians of the rule."""

    mean_median: float
    std_median: float


def pass_rates(raw: dict, where: str, models: Sequence[str]) -> list[float]:
    """A row's pass rates from the chosen models."""
    row = parse_acecode(raw, where)
    return [inf.pass_rate for inf in row.inferences if not models or inf.model_name in models]


def row_stats(rates: Sequence[float]) -> tuple[float, float]:
    """(mean, population std) of one question's pass rates; (nan, nan) when it has none."""
    if not len(rates):
        return math.nan, math.nan
    return float(np.mean(rates)), float(np.std(rates))


def hard_thresholds(means: Sequence[float], stds: Sequence[float]) -> HardThresholds:
    """The mean median over all rated questions and the std median over those with mean <= it."""
    means_array, stds_array = np.asarray(means, dtype=np.float64), np.asarray(stds, dtype=np.float64)
    rated = ~np.isnan(means_array)
    if not rated.any():
        raise ValueError("hard-subset: no question has pass rates from the chosen models")
    mean_median = float(np.percentile(means_array[rated], 50))
    low = rated & (means_array <= mean_median)
    std_median = float(np.percentile(stds_array[low], 50))
    return HardThresholds(mean_median, std_median)


def is_hard(mean: float, std: float, thresholds: HardThresholds) -> bool:
    """Whether a question with these statistics is in the subset (nan: no rates, never)."""
    return mean <= thresholds.mean_median and std >= thresholds.std_median


def run_hard_subset(
    input_path: str | Path,
    output_path: str | Path,
    options: HardOptions | None = None,
    *,
    shard: Shard = WHOLE_INPUT,
    progress: bool = True,
) -> StageStats:
    """Two passes: the medians over the whole input (pass rates only), then the rows that qualify."""
    options = options or HardOptions()
    # Medians are global: every shard computes them over the whole input, then writes only its own rows.
    # Two floats per question, so memory stays small and flat in the size of each row.
    means, stds = array("d"), array("d")
    for where, row in iter_rows(input_path):
        mean, std = row_stats(pass_rates(row, where, options.models))
        means.append(mean)
        stds.append(std)
    thresholds = hard_thresholds(means, stds)
    without = sum(1 for m in means if math.isnan(m))

    def process(batch: list[Item]) -> list[list[Outcome]]:
        return [
            [(OK, row)] if is_hard(*row_stats(pass_rates(row, where, options.models)), thresholds) else []
            for where, row in batch
        ]

    stats = run_stage(
        name="hard-subset",
        input_path=input_path,
        output_path=output_path,
        process=process,
        shard=shard,
        batch_size=256,
        progress=progress,
    )
    stats.notes.append(
        f"mean median {thresholds.mean_median:.6g}, std median {thresholds.std_median:.6g}; "
        f"{without} questions without pass rates from the chosen models skipped"
    )
    return stats
