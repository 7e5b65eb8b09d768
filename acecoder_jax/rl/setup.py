"""What an RL run is built from: the policy and its frozen reference on the mesh, the prompts, the reward,
and the jitted sampler and reference log-probabilities the rollout source calls."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx

from acecoder_jax.common.config import ConfigError
from acecoder_jax.common.schemas import iter_acecode
from acecoder_jax.rl.config import RLConfig
from acecoder_jax.rl.logprobs import token_logprobs
from acecoder_jax.rl.prompting import build_prompt
from acecoder_jax.rl.rewards import (
    FormatReward,
    HybridReward,
    Reward,
    RuleReward,
    ScoreReward,
    WeightedReward,
)
from acecoder_jax.rl.rollout import Question
from acecoder_jax.train.batch import local_rows


def load_reference(model: str, *, dtype: str, seed: int, mesh: Any, scan_unroll: int | None = None) -> Any:
    """The frozen reference: the initial policy (`model`: a HF dir, or a preset / model YAML initialised from
    `seed`, as the policy was) with its weights stored in `dtype` (bf16: half the memory of the policy)."""
    from acecoder_jax.models import from_pretrained, init_model
    from acecoder_jax.sft.policy_model import policy_model_config

    config = policy_model_config(model, dtype=dtype, remat=False, scan_unroll=scan_unroll)
    if Path(model).is_dir():
        return from_pretrained(
            model,
            dtype=dtype,
            param_dtype=dtype,
            mesh=mesh,
            kind="causal_lm",
            scan_unroll=config.scan_unroll,
        )
    policy = init_model(config, kind="causal_lm", seed=seed, mesh=mesh)  # fp32 init, as the policy's
    graphdef, state = nnx.split(policy)
    return nnx.merge(graphdef, jax.tree.map(lambda x: x.astype(dtype), state))


def load_questions(
    path: str | Path, tokenizer: Any, *, style: str, max_prompt_tokens: int, on_bad_row: str
) -> tuple[list[Question], list[str]]:
    """(RL prompts of an AceCode-format file, problems skipped); a prompt longer than `max_prompt_tokens` or
    a row without tests is a bad row: an error naming the file and row, or skipped with `on_bad_row: skip`."""
    questions: list[Question] = []
    skipped: list[str] = []
    for index, row in enumerate(iter_acecode(path)):
        problem = None
        if not row.test_cases:
            problem = f"{path}: row {index + 1} (id {row.id}): field 'test_cases' is empty"
        else:
            prompt = build_prompt(tokenizer, row.question, row.test_cases, style)
            if len(prompt.token_ids) > max_prompt_tokens:
                problem = (
                    f"{path}: row {index + 1} (id {row.id}): field 'question': prompt of "
                    f"{len(prompt.token_ids)} tokens > data.max_prompt_tokens {max_prompt_tokens}"
                )
        if problem is not None:
            if on_bad_row == "fail":
                raise ConfigError(problem + " (set data.on_bad_row=skip to skip such rows)")
            skipped.append(problem)
            continue
        questions.append(Question(str(row.id), row.question, tuple(row.test_cases), prompt))
    return questions, skipped


def build_reward(cfg: RLConfig, executor: Any, group_size: int, rm_scores: Callable | None) -> Reward:
    """The configured reward (reward.kind) plus the optional format reward."""
    r = cfg.reward
    rule = RuleReward(executor, mode=r.mode, deadline_s=r.deadline_s)
    if r.kind == "rule":
        reward: Reward = rule
    elif rm_scores is None:
        raise ConfigError(f"reward.kind={r.kind} needs reward.rm (an AceCodeRM checkpoint dir)")
    elif r.kind == "rm":
        reward = ScoreReward(rm_scores)
    elif r.kind == "weighted":
        reward = WeightedReward([(r.rule_weight, rule), (r.rm_weight, ScoreReward(rm_scores))])
    else:
        reward = HybridReward(rule, ScoreReward(rm_scores), group_size, coef=r.hybrid_coef)
    if r.format_weight:
        reward = WeightedReward([(1.0, reward), (r.format_weight, FormatReward())])
    return reward


def make_sampler(
    graphdef: nnx.GraphDef,
    rest: nnx.State,
    *,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    eos_ids: Sequence[int],
    mesh: Any,
) -> Callable[[Any, list[tuple[int, ...]], int, int, list[int]], Any]:
    """sample(params, prompts, n, seed, prompt_seeds) -> Generation with log-probabilities, from the training
    params."""
    from acecoder_jax.sample import generate

    def sample(
        params: Any, prompts: list[tuple[int, ...]], n: int, seed: int, prompt_seeds: list[int]
    ) -> Any:
        model = nnx.merge(graphdef, params, rest)
        return generate(
            model,
            prompts,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            eos_ids=eos_ids,
            n=n,
            seed=seed,
            prompt_seeds=prompt_seeds,
            return_logprobs=True,
            mesh=mesh,
        )

    return sample


def make_logprobs_fn(
    model: Any, *, temperature: float, chunk: int, rows: int, put: Callable[[dict[str, np.ndarray]], Any]
) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    """rows -> [R, W] float32 log-probabilities of `model` (the frozen reference), `rows` rows at a time
    (multi-host: this process's rows, and `rows` of them per call, on every process alike)."""
    graphdef, state = nnx.split(model)

    @jax.jit
    def forward(state: Any, ids: jax.Array, mask: jax.Array) -> jax.Array:
        logprobs, _ = token_logprobs(
            nnx.merge(graphdef, state), ids, mask, chunk=chunk, temperature=temperature
        )
        return logprobs

    def logprobs(arrays: dict[str, np.ndarray]) -> np.ndarray:
        total = arrays["input_ids"].shape[0]
        parts = []
        for start in range(0, total, rows):
            piece = put(
                {
                    "input_ids": arrays["input_ids"][start : start + rows],
                    "attention_mask": arrays["attention_mask"][start : start + rows],
                }
            )
            out = forward(state, piece["input_ids"], piece["attention_mask"])
            parts.append(local_rows(out).astype(np.float32))
        return np.concatenate(parts)

    return logprobs
