"""Reward-model scores of every candidate, and the pick the RM makes from the full pool.

Rows (run_dir/scores.jsonl, resumable per problem): {"id", "scores": [float per sample], "best": index}.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from acecoder_jax.rm.scoring import chat_token_ids, score_token_ids

from .benchmarks import Problem
from .config import RewardConfig
from .prompts import PromptStyle, candidate_code, rm_messages
from .rerank import best_index
from .run_rows import pending_problems, problem_key


def score_candidates(
    model: Any,
    tokenizer: Any,
    problems: Sequence[Problem],
    candidates: dict[str, dict[str, Any]],
    style: PromptStyle,
    config: RewardConfig,
    out_path: Path,
    *,
    mesh: Any = None,
    problems_per_batch: int = 8,
) -> None:
    """Score each pool with the reward model (chat: instruction + fenced program); keep the best."""
    with pending_problems(problems, out_path, "scoring") as (todo, write):
        for start in range(0, len(todo), problems_per_batch):
            group = todo[start : start + problems_per_batch]
            rows, owners = [], []
            for problem in group:
                for completion in candidates[problem_key(problem)]["samples"]:
                    code = candidate_code(problem, style, completion)
                    rows.append(chat_token_ids(tokenizer, rm_messages(problem, code), config.max_length))
                    owners.append(problem_key(problem))
            scores = score_token_ids(model, rows, batch_size=config.batch_size, mesh=mesh)
            for problem in group:
                key = problem_key(problem)
                mine = [s for s, owner in zip(scores, owners) if owner == key]
                write({"id": key, "scores": mine, "best": best_index(mine)})
