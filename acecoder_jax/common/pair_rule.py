"""The AceCodePair rule: which two programs of one question make a preference pair.

Released rule (data/acecode_pair_300k/create_rm_dataset.py, one sampling model at a time): sort a model's
programs by pass rate, highest first (stable); for each j, walk k from the last program back to j+1 and keep
(j, k) when max >= 0.8, |difference| >= 0.4 and min > 0; a pair whose concatenated program texts were seen
before is skipped; all pairs are kept. The paper states strict inequalities (> 0.8, > 0.4): `strict=True`.
Used by `acecoder pairs` (data_gen/stages/pairs.py) and by the demo's reward-model measurement on the
best-of-N pool; it imports neither jax nor torch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence


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
