"""runs/demo/summary.md, summary.json and the plots, from the numbers each stage measured in this run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RL_KEYS = ("heldout_pass_at_1_before", "heldout_pass_at_1_after", "reward_first", "reward_last")


def summary_json(stages: dict[str, dict[str, Any]], total_seconds: float) -> dict[str, Any]:
    """The keys scripts read: pairs, rm_heldout_accuracy, rm_pool_pair_accuracy, best_of_n, rl, seconds
    (+ every stage's numbers)."""
    data, rm, bon, rl = (stages[k]["numbers"] for k in ("data", "rm", "best_of_n", "rl"))
    n = bon["n"]
    return {
        "pairs": data["pairs"],
        "rm_heldout_accuracy": rm["heldout_accuracy"],
        "rm_pool_pair_accuracy": bon["rm_pool_pairs"]["accuracy"],
        "best_of_n": {
            "n": n,
            "greedy": bon["greedy"],
            "average": bon["average"],
            "rm": bon["rm"][str(n)] if str(n) in bon["rm"] else bon["rm"][n],
            "oracle": bon["oracle"][str(n)] if str(n) in bon["oracle"] else bon["oracle"][n],
        },
        "rl": {
            k: rl[k]
            for k in ("heldout_pass_at_1_before", "heldout_pass_at_1_after", "reward_first", "reward_last")
        },
        "seconds": {key: stage["seconds"] for key, stage in stages.items()} | {"total": total_seconds},
        "stages": {key: stage["numbers"] for key, stage in stages.items()},
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:.1f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _by_n(mapping: dict[Any, float], n: int) -> float:
    return mapping[str(n)] if str(n) in mapping else mapping[n]


def summary_markdown(stages: dict[str, dict[str, Any]], total_seconds: float) -> str:
    """The human-readable summary: one section per stage, every number from this run's files."""
    ex, sft, data, rm, bon, rl, exp = (
        stages[k]["numbers"] for k in ("executor", "sft", "data", "rm", "best_of_n", "rl", "export")
    )
    heldout = sft["pass_rates"].get("heldout", {})
    train = sft["pass_rates"].get("train", {})
    lines = ["# AceCoder demo on the policy world (measured in this run)", ""]
    lines += ["| stage | result | seconds |", "|---|---|---|"]

    def row(key: str, text: str) -> None:
        resumed = " (resumed)" if stages[key].get("resumed") else ""
        lines.append(f"| {stages[key]['title']} | {text} | {stages[key]['seconds']:.1f}{resumed} |")

    row(
        "executor",
        f"{ex['programs']} HumanEval programs (canonical + hostile), {ex['wrong_verdicts']} wrong verdicts, "
        f"{ex['programs_per_s']:.1f} programs/s on {ex['workers']} workers",
    )
    row(
        "sft",
        f"{sft['steps']} steps, loss {_num(sft['final_loss'])}; greedy pass@1 train "
        f"{_pct(train.get('greedy', {}).get('pass_at_1'))}, held-out "
        f"{_pct(heldout.get('greedy', {}).get('pass_at_1'))}",
    )
    row(
        "data",
        f"{data['synth_questions']} questions, {data['synth_tests']} tests -> filter keeps "
        f"{data['filtered_questions']} questions / {data['filtered_tests']} tests; {data['samples']} samples "
        f"(mean pass rate {data['sample_pass_rate_mean']:.3f}); **{data['pairs']} pairs** from "
        f"{data['pair_questions']} questions; hard subset {data['hard_subset']}",
    )
    row(
        "rm",
        f"{rm['train_pairs']} train pairs, {rm['steps']} steps; **held-out pair accuracy "
        f"{_pct(rm['heldout_accuracy'])}** ({rm['heldout_pairs']} pairs of {rm['heldout_questions']} "
        "questions)",
    )
    n = bon["n"]
    row(
        "best_of_n",
        f"{bon['problems']} held-out problems: greedy {_pct(bon['greedy'])}, "
        f"average@{n} {_pct(bon['average'])}, "
        f"**RM@{n} {_pct(_by_n(bon['rm'], n))}**, oracle@{n} {_pct(_by_n(bon['oracle'], n))}; RM pair "
        f"accuracy on the pool's pairs **{_pct(bon['rm_pool_pairs']['accuracy'])}** "
        f"({bon['rm_pool_pairs']['pairs']} pairs of {bon['rm_pool_pairs']['problems']} problems)",
    )
    row(
        "rl",
        f"{rl['updates']} updates: reward {_num(rl['reward_first'])} -> {_num(rl['reward_last'])}; "
        f"**held-out greedy pass@1 {_pct(rl['heldout_pass_at_1_before'])} -> "
        f"{_pct(rl['heldout_pass_at_1_after'])}**",
    )
    row(
        "export",
        f"transformers reload: policy greedy pass@1 {_pct(exp['policy']['greedy_pass_at_1'])}, "
        f"RM held-out accuracy {_pct(exp['rm']['heldout_accuracy'])}",
    )
    lines.append(f"| total | | {total_seconds:.1f} |")

    lines += ["", "## Data", "", "| stage | count |", "|---|---|"]
    for label, key in (
        ("seeds (world fresh split: problems SFT never saw)", "seeds"),
        ("synth-tests questions (via the local OpenAI-compatible server)", "synth_questions"),
        ("synthesised tests", "synth_tests"),
        ("questions kept by filter-tests (reference as oracle)", "filtered_questions"),
        ("questions dropped (< 5 tests left)", "filter_dropped_questions"),
        ("tests kept", "filtered_tests"),
        ("sampled programs (SFT policy, n=16, T=0.8)", "samples"),
        ("questions: every sample passes / none passes / mixed", None),
        ("pairs", "pairs"),
        ("hard subset (RL prompts)", "hard_subset"),
        ("contamination: flagged / checked (HumanEval)", None),
    ):
        if key is not None:
            lines.append(f"| {label} | {data[key]} |")
        elif label.startswith("questions"):
            lines.append(
                f"| {label} | {data['questions_all_pass']} / {data['questions_none_pass']} / "
                f"{data['questions_mixed']} |"
            )
        else:
            lines.append(f"| {label} | {data['contamination_flagged']} / {data['contamination_checked']} |")
    lines.append(
        "| pairs: chosen / rejected mean pass rate (smallest gap) | "
        f"{data['pair_chosen_pass_rate_mean']:.3f} / "
        f"{data['pair_rejected_pass_rate_mean']:.3f} ({data['pair_gap_min']:.3f}) |"
    )
    lines.append(
        f"| test strength: mean mutation score | {_num(data['test_strength_mean_mutation_score'])} |"
    )
    lines += ["", "Pass rates of the sampled programs (`pass_rates.png`):", ""]
    hist = data["sample_pass_rate_histogram"]
    lines += [
        "| " + " | ".join(hist) + " |",
        "|" + "---|" * len(hist),
        "| " + " | ".join(map(str, hist.values())) + " |",
    ]

    lines += ["", f"## Best-of-N on {bon['problems']} held-out world problems (`best_of_n.png`)", ""]
    lines += ["| N | average | RM@N | oracle@N |", "|---|---|---|---|"]
    for k in bon["ns"]:
        lines.append(
            f"| {k} | {_pct(bon['average'])} | {_pct(_by_n(bon['rm'], k))} | "
            f"{_pct(_by_n(bon['oracle'], k))} |"
        )
    lines.append(f"\ngreedy: {_pct(bon['greedy'])}")
    lines += ["", "## RL (`rl_reward.png`)", ""]
    lines.append(
        "Reinforce++ from the SFT policy on the hard subset, executor pass-rate reward: "
        f"{rl['rollouts']} rollout batches, {rl['updates']} updates; reward mean "
        f"{_num(rl['reward_first'])} (first batch) -> "
        f"{_num(rl['reward_last'])} (last); held-out greedy pass@1 {_pct(rl['heldout_pass_at_1_before'])} -> "
        f"{_pct(rl['heldout_pass_at_1_after'])}, held-out test pass rate "
        f"{_pct(rl['heldout_pass_rate_before'])} -> "
        f"{_pct(rl['heldout_pass_rate_after'])}."
    )
    return "\n".join(lines) + "\n"


def plot_pass_rates(histogram: dict[str, int], path: Path) -> None:
    """Bar chart of the sampled programs' pass rates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.bar(list(histogram), list(histogram.values()), color="#4878a8")
    axes.set_xlabel("pass rate of a sampled program")
    axes.set_ylabel("programs")
    axes.set_title("SFT policy samples (n=16, T=0.8) on the synthesised tests")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_reward(curve: list[list[float]], path: Path) -> None:
    """RL reward mean of each rollout batch against the update step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.plot([s for s, _ in curve], [r for _, r in curve], marker="o")
    axes.set_xlabel("update step")
    axes.set_ylabel("rollout reward mean (pass rate)")
    axes.set_title("RL on the hard subset")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_summary(out: Path, stages: dict[str, dict[str, Any]], total_seconds: float) -> dict[str, Any]:
    """Write summary.md, summary.json and the plots into `out`; returns the JSON."""
    data = summary_json(stages, total_seconds)
    (out / "summary.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    (out / "summary.md").write_text(summary_markdown(stages, total_seconds), encoding="utf-8")
    plot_pass_rates(stages["data"]["numbers"]["sample_pass_rate_histogram"], out / "pass_rates.png")
    plot_reward(stages["rl"]["numbers"]["reward_curve"], out / "rl_reward.png")
    best = out / "best_of_n" / "best_of_n.png"
    if best.is_file():
        (out / "best_of_n.png").write_bytes(best.read_bytes())
    return data
