"""A best-of-N run, top to bottom: problems -> candidates -> execution -> RM scores -> metrics and report.

Every stage writes JSONL to the run directory one problem at a time and skips problems already there, so an
interrupted run continues where it stopped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from executor.jsonl import iter_jsonl

from .benchmarks import Problem, load_benchmark
from .candidates import problem_key, read_candidates, sample_candidates
from .config import BestOfNConfig
from .execution import execute_candidates
from .metrics import ProblemOutcome, benchmark_metrics, default_ns
from .ranking import score_candidates
from .report import markdown_table, plot


def load_problems(config: BestOfNConfig) -> list[Problem]:
    """Every configured benchmark's problems (each cut to its `limit`)."""
    problems: list[Problem] = []
    for bench in config.benchmarks:
        loaded = load_benchmark(bench.kind, bench.path, bench.name)
        problems.extend(loaded[: bench.limit] if bench.limit is not None else loaded)
    return problems


def load_tokenizer(path: str | None) -> Any:
    """A Hugging Face tokenizer directory, or the offline Qwen2.5 tokenizer by default."""
    if path is None:
        from acecoder_jax.common.tokenizer import load_qwen25_tokenizer

        return load_qwen25_tokenizer()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def eos_ids(tokenizer: Any, model_config: Any) -> list[int]:
    """Ids that end a generation: the tokenizer's EOS, ChatML's <|im_end|> and the model config's EOS."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != tokenizer.unk_token_id:
        ids.add(im_end)
    configured = getattr(model_config, "eos_token_id", None)
    for value in configured if isinstance(configured, list) else [configured]:
        if value is not None:
            ids.add(int(value))
    return sorted(i for i in ids if i < model_config.vocab_size)


def run(config: BestOfNConfig) -> dict[str, dict[str, float]]:
    """Run (or resume) the evaluation; returns {benchmark: {metric: percent}} and writes the report files."""
    from acecoder_jax.common.config import dump_yaml

    run_dir = Path(config.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    dump_yaml(config, run_dir / "config.yaml")
    problems = load_problems(config)
    style = config.policy.prompt_style
    tokenizer = load_tokenizer(config.tokenizer)
    mesh = None

    # ---- candidates
    if config.policy.candidates is not None:
        candidates = read_candidates(config.policy.candidates, problems)
    else:
        mesh = _mesh(config)
        model = _load(config.policy.path, config.policy.dtype, mesh)
        sample_candidates(
            model,
            tokenizer,
            problems,
            style,
            config.sampling,
            run_dir / "candidates.jsonl",
            mesh=mesh,
            eos_ids=eos_ids(tokenizer, model.config),
        )
        del model
        candidates = read_candidates(run_dir / "candidates.jsonl", problems)

    # ---- execution
    execute_candidates(problems, candidates, style, config.executor, run_dir / "executions.jsonl")
    executions = {row["id"]: row for _, row in iter_jsonl(run_dir / "executions.jsonl")}

    # ---- reward-model scores
    scores: dict[str, list[float]] = {}
    if config.reward.path is not None:
        mesh = mesh or _mesh(config)
        reward_model = _load(config.reward.path, config.reward.dtype, mesh)
        score_candidates(
            reward_model,
            tokenizer,
            problems,
            candidates,
            style,
            config.reward,
            run_dir / "scores.jsonl",
            mesh=mesh,
        )
        del reward_model
        scores = {row["id"]: row["scores"] for _, row in iter_jsonl(run_dir / "scores.jsonl")}

    # ---- metrics and report
    outcomes = []
    for problem in problems:
        key = problem_key(problem)
        row = executions[key]
        greedy = row.get("greedy_pass_rate")
        outcomes.append(
            ProblemOutcome(
                benchmark=problem.benchmark,
                task_id=problem.task_id,
                correct=[rate == 1.0 for rate in row["pass_rates"]],
                scores=scores.get(key),
                greedy_correct=None if greedy is None else greedy == 1.0,
            )
        )
    ns = config.ns or default_ns(min(len(o.correct) for o in outcomes))
    table = benchmark_metrics(outcomes, ns)
    (run_dir / "metrics.json").write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    (run_dir / "best_of_n.md").write_text(markdown_table(table), encoding="utf-8")
    plot(table, run_dir / "best_of_n.png", title=f"best-of-N: {run_dir.name}")
    return table


def _mesh(config: BestOfNConfig) -> Any:
    from acecoder_jax.sharding import make_mesh

    return make_mesh(config.mesh)


def _load(path: str | None, dtype: str, mesh: Any) -> Any:
    from acecoder_jax.models import from_pretrained

    if path is None:
        raise ValueError("a model path is required")
    return from_pretrained(path, dtype=dtype, param_dtype=dtype, mesh=mesh)
