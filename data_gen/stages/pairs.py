"""pairs: AceCodePair preference pairs from scored AceCode-87K rows, by the release's rule.

Released rule (data/acecode_pair_300k/create_rm_dataset.py, one sampling model at a time): sort a model's
programs by pass rate, highest first (stable); for each j, walk k from the last program back to j+1 and keep
(j, k) when max >= 0.8, |difference| >= 0.4 and min > 0; a pair whose concatenated program texts were seen
before is skipped; all pairs are kept. Questions that are not ASCII are skipped. The paper states strict
inequalities (> 0.8, > 0.4): `strict=True`. Texts use the released templates (acecoder_jax.common.prompts).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from acecoder_jax.common.prompts import pair_texts
from acecoder_jax.common.schemas import parse_acecode
from data_gen.row_shards import WHOLE_INPUT, Shard
from data_gen.stages.streaming import OK, Item, Outcome, StageStats, run_stage


@dataclasses.dataclass
class PairOptions:
    """Thresholds and grouping of the pair rule (defaults: the release)."""

    min_chosen: float = 0.8
    min_gap: float = 0.4
    strict: bool = False  # paper: chosen > 0.8 and gap > 0.4 (release: >=)
    max_pairs_per_question: int = 0  # 0 = all pairs (release: return_size "inf")
    cross_model: bool = False  # pool every model's programs into one group (release: within one model)
    model: str | None = None  # only this sampling model's programs (release: "qwen_coder_2.5")
    skip_non_ascii: bool = True  # release: non-ASCII questions are skipped
    rejected_may_fail_all: bool = False  # release: rejected > 0 (a program failing every test makes no pair)


Candidate = tuple[str, float, str]  # (program, pass rate, model name), as the release's tuples


@dataclasses.dataclass(frozen=True)
class Pair:
    """One preference pair: chosen has the higher pass rate."""

    chosen: str
    chosen_pass_rate: float
    chosen_model: str
    rejected: str
    rejected_pass_rate: float
    rejected_model: str


def keeps(high: float, low: float, options: PairOptions) -> bool:
    """Whether two pass rates make a pair under the release's (or the paper's strict) thresholds."""
    top, bottom, gap = max(high, low), min(high, low), abs(high - low)
    rejected_ok = bottom > 0 or options.rejected_may_fail_all
    if options.strict:
        return top > options.min_chosen and gap > options.min_gap and rejected_ok
    return top >= options.min_chosen and gap >= options.min_gap and rejected_ok


def group_pairs(candidates: Sequence[Candidate], options: PairOptions, limit: int = 0) -> list[Pair]:
    """The release's pair loop over one group of programs; `limit` > 0 stops after that many pairs."""
    ranked = sorted(candidates, key=lambda c: c[1], reverse=True)
    pairs: list[Pair] = []
    seen: set[str] = set()
    for j in range(len(ranked) - 1):
        for k in range(len(ranked) - 1, j, -1):
            program_1, rate_1, model_1 = ranked[j]
            program_2, rate_2, model_2 = ranked[k]
            if not keeps(rate_1, rate_2, options):
                continue
            signature = program_1 + program_2  # the release dedupes on the concatenation
            if signature in seen:
                continue
            seen.add(signature)
            pairs.append(Pair(program_1, rate_1, model_1, program_2, rate_2, model_2))
            if 0 < limit <= len(pairs):
                return pairs
    return pairs


def question_pairs(candidates: Sequence[Candidate], options: PairOptions) -> list[Pair]:
    """All pairs of one question: per model (first-seen order) unless cross_model, capped per question."""
    groups: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        if options.model is not None and candidate[2] != options.model:
            continue
        groups.setdefault("*" if options.cross_model else candidate[2], []).append(candidate)
    pairs: list[Pair] = []
    cap = options.max_pairs_per_question
    for group in groups.values():
        pairs += group_pairs(group, options, limit=cap - len(pairs) if cap > 0 else 0)
        if 0 < cap <= len(pairs):
            break
    return pairs


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
