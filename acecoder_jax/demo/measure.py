"""The numbers each demo stage reports, read back from the files its `acecoder` commands wrote."""

from __future__ import annotations

import itertools
import json
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from acecoder_jax.common.pair_rule import PairOptions, question_pairs

# Pass-rate histogram bins of the sampled programs: exactly 0, then five (lo, hi] bins; 1.0 is the last one.
HISTOGRAM_EDGES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def rows(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON rows of a JSONL file (none when it does not exist)."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file a stage wrote (the stage failed if it is missing)."""
    return json.loads(path.read_text(encoding="utf-8"))


def executor_numbers(summary: Path) -> dict[str, Any]:
    """HumanEval in the sandbox: programs, wrong verdicts, throughput (executor.humaneval_demo --summary)."""
    data = read_json(summary)
    return {k: data[k] for k in ("problems", "programs", "workers", "wrong_verdicts", "programs_per_s")}


def sft_numbers(run_dir: Path) -> dict[str, Any]:
    """The SFT policy's steps, final loss and pass rates on the train and held-out splits (summary.json)."""
    summary = read_json(run_dir / "summary.json")
    losses = [r["loss"] for r in rows(run_dir / "metrics.jsonl") if r.get("split") != "eval" and "loss" in r]
    return {
        "steps": summary.get("steps"),
        "final_loss": losses[-1] if losses else None,
        "pass_rates": summary.get("pass_rates", {}),
    }


def histogram(rates: list[float]) -> dict[str, int]:
    """Counts of pass rates in the bins "0", "(0, 0.2]", ..., "(0.8, 1)" and "1"."""
    labels = ["0"] + [f"({lo:g}, {hi:g}]" for lo, hi in itertools.pairwise(HISTOGRAM_EDGES)]
    labels[-1] = "(0.8, 1)"
    counts = dict.fromkeys([*labels, "1"], 0)
    for rate in rates:
        if rate <= 0.0:
            counts["0"] += 1
        elif rate >= 1.0:
            counts["1"] += 1
        else:
            index = next(i for i, hi in enumerate(HISTOGRAM_EDGES[1:]) if rate <= hi)
            counts[labels[index + 1]] += 1
    return counts


def data_numbers(data: Path) -> dict[str, Any]:
    """Counts of every data stage, the sampled pass-rate histogram and the pairs' pass-rate gaps."""
    synth = list(rows(data / "synth.jsonl"))
    filtered = list(rows(data / "filtered.jsonl"))
    scored = list(rows(data / "acecode.jsonl"))
    pairs = list(rows(data / "pairs.jsonl"))
    rates = [float(i["pass_rate"]) for row in scored for i in row.get("inferences", [])]
    question_means = [
        statistics.fmean(float(i["pass_rate"]) for i in row["inferences"])
        for row in scored
        if row["inferences"]
    ]
    strength = [
        float(r["mutation_score"]) for r in rows(data / "test_strength.jsonl") if "mutation_score" in r
    ]
    gaps = [float(p["chosen_pass_rate"]) - float(p["rejected_pass_rate"]) for p in pairs]
    return {
        "seeds": sum(1 for _ in rows(data.parent / "seeds.jsonl")) or None,
        "synth_questions": len(synth),
        "synth_rejected": sum(1 for _ in rows(data / "synth.rejected.jsonl")),
        "synth_tests": sum(len(r["tests"]) for r in synth),
        "filtered_questions": len(filtered),
        "filter_dropped_questions": sum(1 for _ in rows(data / "filtered.rejected.jsonl")),
        "filtered_tests": sum(len(r["tests"]) for r in filtered),
        "samples": len(rates),
        "sample_pass_rate_mean": statistics.fmean(rates) if rates else 0.0,
        "sample_pass_rate_histogram": histogram(rates),
        "questions_all_pass": sum(m == 1.0 for m in question_means),
        "questions_none_pass": sum(m == 0.0 for m in question_means),
        "questions_mixed": sum(0.0 < m < 1.0 for m in question_means),
        "pairs": len(pairs),
        "pair_questions": len({p["question_id"] for p in pairs}),
        "pair_chosen_pass_rate_mean": statistics.fmean(p["chosen_pass_rate"] for p in pairs)
        if pairs
        else 0.0,
        "pair_rejected_pass_rate_mean": (
            statistics.fmean(p["rejected_pass_rate"] for p in pairs) if pairs else 0.0
        ),
        "pair_gap_min": min(gaps) if gaps else 0.0,
        "hard_subset": sum(1 for _ in rows(data / "hard.jsonl")),
        "test_strength_mean_mutation_score": statistics.fmean(strength) if strength else None,
        "contamination_flagged": sum(bool(r.get("flagged")) for r in rows(data / "contamination.jsonl")),
        "contamination_checked": sum(1 for _ in rows(data / "contamination.jsonl")),
    }


def rm_numbers(run_dir: Path, rm_data: Path) -> dict[str, Any]:
    """Pairs trained on / held out, steps, and the held-out pair accuracy after training (summary.json)."""
    summary = read_json(run_dir / "summary.json")
    final_eval = summary.get("eval") or {}
    train_rows = list(rows(run_dir / "metrics.jsonl"))
    train_acc = [r["accuracy"] for r in train_rows if r.get("split") != "eval" and "accuracy" in r]
    return {
        "train_pairs": summary.get("train_pairs"),
        "heldout_pairs": summary.get("eval_pairs"),
        "heldout_questions": len({r["question_id"] for r in rows(rm_data / "heldout.jsonl")}),
        "steps": summary.get("steps"),
        "heldout_accuracy": final_eval.get("accuracy"),
        "heldout_loss": final_eval.get("loss"),
        "train_accuracy_first": train_acc[0] if train_acc else None,
        "train_accuracy_last": train_acc[-1] if train_acc else None,
    }


def pool_pair_accuracy(run_dir: Path, pair_options: PairOptions) -> dict[str, Any]:
    """The RM's pair accuracy on the best-of-N pool: every problem's samples, paired by the data stage's rule
    (held-out problems the RM never saw, far more pairs than the RM's own held-out split); ties count half."""
    executions = {r["id"]: r["pass_rates"] for r in rows(run_dir / "executions.jsonl")}
    scores = {r["id"]: r["scores"] for r in rows(run_dir / "scores.jsonl")}
    correct, pairs, problems = 0.0, 0, 0
    for row in rows(run_dir / "candidates.jsonl"):
        score_of = dict(zip(row["samples"], scores[row["id"]]))
        candidates = [(p, rate, "pool") for p, rate in zip(row["samples"], executions[row["id"]])]
        found = question_pairs(candidates, pair_options)
        problems += bool(found)
        pairs += len(found)
        for pair in found:
            chosen, rejected = score_of[pair.chosen], score_of[pair.rejected]
            correct += 1.0 if chosen > rejected else 0.5 if chosen == rejected else 0.0
    return {"pairs": pairs, "problems": problems, "accuracy": correct / pairs if pairs else None}


def pair_options(data_config: Path) -> PairOptions:
    """The `pairs:` section of a data-stage config, as the pair rule's options."""
    section = yaml.safe_load(data_config.read_text(encoding="utf-8")).get("pairs") or {}
    return PairOptions(**section)


def best_of_n_numbers(run_dir: Path, benchmark: str, pairs: PairOptions) -> dict[str, Any]:
    """greedy / average@M / RM@N / oracle@N (fractions) of one benchmark column of metrics.json, and the RM's
    pair accuracy on the pool."""
    table = read_json(run_dir / "metrics.json")[benchmark]
    ns = sorted(int(k.split("@")[1]) for k in table if k.startswith("oracle@"))
    pool = max(int(k.split("@")[1]) for k in table if k.startswith("average@"))
    problems = sum(1 for _ in rows(run_dir / "executions.jsonl"))
    return {
        "problems": problems,
        "n": max(ns),
        "ns": ns,
        "greedy": table["greedy"] / 100.0,
        "average": table[f"average@{pool}"] / 100.0,
        "rm": {n: table[f"rm@{n}"] / 100.0 for n in ns},
        "oracle": {n: table[f"oracle@{n}"] / 100.0 for n in ns},
        "rm_pool_pairs": pool_pair_accuracy(run_dir, pairs),
    }


def rl_numbers(run_dir: Path) -> dict[str, Any]:
    """Held-out greedy pass@1 before/after RL and the reward curve (first update of each rollout batch)."""
    summary = read_json(run_dir / "summary.json")
    curve = [
        (int(r["step"]), float(r["reward_mean"]))
        for r in rows(run_dir / "metrics.jsonl")
        if r.get("split") != "eval" and "reward_mean" in r
    ]
    before = summary.get("initial_eval") or {}
    after = summary.get("eval") or {}
    return {
        "rollouts": summary.get("rollouts"),
        "updates": summary.get("steps"),
        "heldout_pass_at_1_before": before.get("pass_at_1"),
        "heldout_pass_at_1_after": after.get("pass_at_1"),
        "heldout_pass_rate_before": before.get("pass_rate"),
        "heldout_pass_rate_after": after.get("pass_rate"),
        "reward_first": curve[0][1] if curve else None,
        "reward_last": curve[-1][1] if curve else None,
        "reward_curve": curve,
    }
