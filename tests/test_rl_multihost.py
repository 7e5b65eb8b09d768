"""Multi-host RL for real: the tiny train-rl run as 2 processes x 4 CPU devices (each sampling and judging its
half of every rollout batch with its own executor and scoring it with the reward model on the shared mesh, the
rows gathered for the whitening) gives the metrics of 1 process x 8 devices, the same held-out numbers, and an
exported policy with the same weights. The reward is rule + a random reward model's score, so rewards vary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from multihost import PROCESSES, ROOT, run_processes
from rl_runs import tiny_rl_config

MESH = ["mesh.data=8", "mesh.fsdp=1", "mesh.tensor=1"]  # the data axis spans both processes' devices
REWARD = ["reward.kind=weighted", "reward.rm_weight=1.0"]
# What rollouts and executor decide: equal exactly (each prompt's samples depend only on its position).
EXACT = (
    "pass_rate",
    "all_pass_frac",
    "all_fail_frac",
    "response_length",
    "truncated_frac",
    "programs_syntax_error",
    "programs_timeout",
    "programs_crash",
    "rollout",
    "lr",
)
# What the update computes: only the order of fp32 reductions (gloo all-reduce vs in-process) may differ.
# The RM's scores too: each process pads and batches its own rows, so its forward sees other shapes.
CLOSE = ("reward_mean", "policy_loss", "grad_norm", "kl", "entropy", "clip_frac")


def _metrics(run_dir: Path) -> tuple[list[dict], list[dict]]:
    """(training rows, eval rows) of metrics.jsonl."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r.get("split") != "eval"], [r for r in rows if r.get("split") == "eval"]


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    from safetensors.numpy import load_file

    from acecoder_jax.common.config import load_config
    from acecoder_jax.models import ModelConfig, init_model, save_pretrained
    from acecoder_jax.rl.config import RLConfig
    from acecoder_jax.rl.trainer import train
    from acecoder_jax.world import ensure_world

    world = ensure_world(tmp_path / "world")
    rm = init_model(ModelConfig.preset("world-tiny"), kind="reward", seed=0)
    save_pretrained(rm, tmp_path / "rm", tokenizer_dir=world / "tokenizer")
    overrides = [*MESH, *REWARD, f"reward.rm={tmp_path / 'rm'}"]
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = tiny_rl_config(tmp_path / "one", world, heldout_problems=5)  # 5: an uneven split over 2 processes
    two = tiny_rl_config(tmp_path / "two", world, heldout_problems=5)
    summary = train(load_config(RLConfig, one, overrides))
    run_processes(ROOT / "tests" / "trainer_multihost.py", ["rl", str(two), *overrides], PROCESSES)

    (want, want_eval), (got, got_eval) = (
        _metrics(tmp_path / "one" / "run"),
        _metrics(tmp_path / "two" / "run"),
    )
    assert got_eval == want_eval and [row["questions"] for row in want_eval] == [5.0]
    assert [row["step"] for row in got] == [row["step"] for row in want] == [1, 2, 3, 4, 5, 6]
    assert sum(want[0][f"programs_{k}"] for k in ("syntax_error", "timeout", "crash")) > 0  # judged rows
    assert len({row["reward_mean"] for row in want}) > 1  # the RM's scores move the reward
    for key in EXACT:
        assert [row.get(key) for row in got] == [row.get(key) for row in want], key
    for key in CLOSE:
        np.testing.assert_allclose(
            [row[key] for row in got], [row[key] for row in want], rtol=2e-4, atol=1e-6, err_msg=key
        )
    # each process kept its own rollout buffer
    assert sorted(p.name for p in (tmp_path / "two" / "run" / "rollouts").iterdir())[-2:] == [
        "rollout_000003.p0.npz",
        "rollout_000003.p1.npz",
    ]
    two_summary = json.loads((tmp_path / "two" / "run" / "summary.json").read_text())
    assert two_summary["initial_eval"] == summary["initial_eval"]
    assert summary["initial_eval"]["questions"] == 5
    weights = [
        load_file(str(run / "run" / "policy" / "model.safetensors"))
        for run in (tmp_path / "one", tmp_path / "two")
    ]
    assert weights[0].keys() == weights[1].keys()
    for name in weights[0]:
        # Adam steps are ~lr (1e-3) whatever the gradient's size, so reduction-order rounding in near-zero
        # gradient components shows at ~1e-6; 1e-5 is 1% of one step.
        np.testing.assert_allclose(weights[1][name], weights[0][name], rtol=1e-4, atol=1e-5, err_msg=name)
