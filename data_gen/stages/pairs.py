"""pairs: AceCodePair preference pairs from scored AceCode-87K rows, by the release's rule.

The rule itself (thresholds, order, dedup) is acecoder_jax/common/pair_rule.py. Questions that are not ASCII
are skipped. Texts use the released templates (acecoder_jax.common.prompts).
"""

from __future__ import annotations

from pathlib import Path

from acecoder_jax.common.pair_rule import PairOptions, question_pairs

__all__ = ["PairOptions", "question_pairs", "run_pairs"]
from acecoder_jax.common.prompts import pair_texts
from acecoder_jax.common.schemas import parse_acecode
from data_gen.row_shards import WHOLE_INPUT, Shard
from data_gen.stages.streaming import OK, Item, Outcome, StageStats, run_stage


def run_pairs(
    input_path: str | Path,
    output_path: str | Path,
    options: PairOptions | None = None,
    *,
    shard: Shard = WHOLE_INPUT,
    progress: bool = True,
) -> StageStats:
    """Run the stage; pair ids are `<question id>-<index>`, so a rerun never duplicates a pair."""
    options = options or PairOptions()
    skipped = {"non_ascii": 0, "no_tests": 0, "no_pairs": 0}

    def process(batch: list[Item]) -> list[list[Outcome]]:
        outcomes = []
        for where, raw in batch:
            row = parse_acecode(raw, where)
            if options.skip_non_ascii and not row.question.isascii():
                skipped["non_ascii"] += 1
                outcomes.append([])
                continue
            if not row.test_cases:
                skipped["no_tests"] += 1
                outcomes.append([])
                continue
            candidates = [(inf.completion, inf.pass_rate, inf.model_name) for inf in row.inferences]
            pairs = question_pairs(candidates, options)
            skipped["no_pairs"] += not pairs
            rows = []
            for index, pair in enumerate(pairs):
                texts = pair_texts(row.question, row.test_cases, pair.chosen, pair.rejected)
                rows.append(
                    (
                        OK,
                        {
                            "id": f"{row.id}-{index}",
                            **texts,
                            "question_id": row.id,
                            "chosen_model": pair.chosen_model,
                            "rejected_model": pair.rejected_model,
                            "chosen_pass_rate": pair.chosen_pass_rate,
                            "rejected_pass_rate": pair.rejected_pass_rate,
                        },
                    )
                )
            outcomes.append(rows)
        return outcomes

    stats = run_stage(
        name="pairs",
        input_path=input_path,
        output_path=output_path,
        process=process,
        shard=shard,
        batch_size=64,
        skip_done_inputs=False,  # outputs are keyed by pair id; recomputing pairs is cheap and pure
        progress=progress,
    )
    stats.notes.append(
        f"questions skipped: {skipped['non_ascii']} non-ASCII, {skipped['no_tests']} without tests, "
        f"{skipped['no_pairs']} without a qualifying pair"
    )
    return stats
