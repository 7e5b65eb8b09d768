"""`acecoder best-of-n` end to end: tiny policy + tiny reward model, and candidates read from JSONL."""

import json
from pathlib import Path

import pytest
from hf_fixtures import make_acecoderm, make_qwen2

from acecoder_jax.cli import main as acecoder
from acecoder_jax.common.config import load_config
from acecoder_jax.eval.benchmarks import KINDS, load_benchmark
from acecoder_jax.eval.config import BestOfNConfig
from executor.jsonl import iter_jsonl

CONFIG = Path(__file__).parent.parent / "configs" / "eval" / "tiny.yaml"


def _rows(path):
    return [row for _, row in iter_jsonl(path)]


@pytest.mark.slow
def test_best_of_n_end_to_end_with_the_jax_sampler_and_reward_model(tmp_path, capsys):
    policy = make_qwen2(tmp_path / "policy", tie=True, seed=1)
    reward = make_acecoderm(tmp_path / "rm", seed=2)
    run_dir = tmp_path / "run"
    argv = [
        "best-of-n",
        "--config",
        str(CONFIG),
        f"policy.path={policy}",
        f"reward.path={reward}",
        f"run_dir={run_dir}",
    ]
    assert acecoder(argv) == 0
    out = capsys.readouterr().out
    assert "| method | humaneval | average |" in out and "| RM@4 |" in out

    candidates = _rows(run_dir / "candidates.jsonl")
    assert [row["task_id"] for row in candidates] == ["HumanEval/0", "HumanEval/1"]
    assert all(len(row["samples"]) == 4 and isinstance(row["greedy"], str) for row in candidates)
    executions = _rows(run_dir / "executions.jsonl")
    assert all(len(row["pass_rates"]) == 4 for row in executions)
    for row in _rows(run_dir / "scores.jsonl"):
        assert len(row["scores"]) == 4 and row["scores"][row["best"]] == max(row["scores"])
    table = json.loads((run_dir / "metrics.json").read_text())
    assert set(table) == {"humaneval", "average"}
    assert {"greedy", "average@4", "oracle@1", "oracle@4", "rm@1", "rm@2", "rm@4"} <= set(table["humaneval"])
    assert (run_dir / "best_of_n.png").read_bytes()[:4] == b"\x89PNG"
    assert (run_dir / "config.yaml").is_file()

    # A rerun resumes: nothing is sampled, executed or scored again.
    before = {
        name: (run_dir / name).read_bytes()
        for name in ("candidates.jsonl", "executions.jsonl", "scores.jsonl")
    }
    assert acecoder(argv) == 0
    assert before == {name: (run_dir / name).read_bytes() for name in before}


def test_best_of_n_from_candidate_jsonl_scores_known_pools(tmp_path):
    problems = load_benchmark("humaneval")[:2]
    wrong = "```python\ndef nothing():\n    return None\n```"
    rows = []
    for problem in problems:
        right = problem.canonical_solution + "\n```"  # a chat continuation after the opening fence
        rows.append({"task_id": problem.task_id, "samples": [wrong, right, wrong, wrong], "greedy": right})
    candidates = tmp_path / "candidates.jsonl"
    candidates.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run_dir = tmp_path / "run"
    argv = [
        "best-of-n",
        "--config",
        str(CONFIG),
        "policy.path=null",
        f"policy.candidates={candidates}",
        f"run_dir={run_dir}",
    ]
    assert acecoder(argv) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())["humaneval"]
    assert metrics["greedy"] == 100.0
    assert metrics["average@4"] == 25.0
    assert metrics["oracle@1"] == pytest.approx(25.0) and metrics["oracle@4"] == 100.0
    assert metrics["oracle@2"] == pytest.approx(50.0)  # 3 of 6 pairs hold the right one
    assert "rm@4" not in metrics  # no reward model configured


def test_every_eval_config_loads():
    for path in sorted(CONFIG.parent.glob("*.yaml")):
        overrides = ["policy.path=x"] if path.name == "tiny.yaml" else []
        config = load_config(BestOfNConfig, path, overrides)
        assert config.benchmarks and all(b.kind in KINDS for b in config.benchmarks), path


def test_config_errors_are_reported_with_the_key(tmp_path, capsys):
    assert acecoder(["best-of-n", "--config", str(CONFIG), "sampling.nn=3"]) == 2
    assert "sampling.nn" in capsys.readouterr().err
    assert acecoder(["best-of-n", "--config", str(CONFIG)]) == 2  # neither policy.path nor candidates
    assert "policy.path" in capsys.readouterr().err


def test_generate_calls_never_mix_stop_strings():
    from acecoder_jax.eval.candidates import _groups
    from acecoder_jax.eval.prompts import stop_strings

    fixtures = Path(__file__).parent / "fixtures" / "eval"
    mixed = load_benchmark("humaneval")[:3] + load_benchmark("mbpp", fixtures / "mbpp-mini.jsonl")
    mixed += load_benchmark("humaneval")[3:4]
    groups = _groups(mixed, "base", size=2)
    assert [len(g) for g in groups] == [2, 1, 2, 1]
    assert all(len({stop_strings(p, "base") for p in g}) == 1 for g in groups)
    assert [len(g) for g in _groups(mixed, "chat", size=4)] == [4, 2]
