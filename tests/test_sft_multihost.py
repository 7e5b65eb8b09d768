"""Multi-host SFT for real: the tiny train-sft run as 2 processes x 4 CPU devices gives the losses of 1
process x 8 devices, and its end-of-run pass rates (greedy and sampled, 5 held-out questions split 3/2 over
the processes, each judged by its process's own executor) equal the single process's, question by question."""

from __future__ import annotations

import json

import numpy as np
import pytest
from multihost import PROCESSES, ROOT, run_processes
from sft_runs import tiny_config, world_dir

from acecoder_jax.sft.trainer import train
from acecoder_jax.train.metrics import read_metrics


def _eval_overrides() -> list[str]:
    return [
        f"eval.heldout={world_dir() / 'heldout.jsonl'}",
        "eval.limit=5",
        "eval.n=2",
        "eval.max_new_tokens=16",
        "eval.workers=1",
    ]


@pytest.mark.slow
def test_two_processes_match_one_with_pass_rates(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    summary = train(tiny_config(one, *_eval_overrides()))
    run_processes(ROOT / "tests" / "trainer_multihost.py", ["sft", str(two), *_eval_overrides()], PROCESSES)

    want, got = read_metrics(one / "metrics.jsonl"), read_metrics(two / "metrics.jsonl")
    assert [r["step"] for r in got] == [r["step"] for r in want] == list(range(1, 7))
    for key in ("loss", "grad_norm"):
        # Only the order of fp32 reductions (gloo all-reduce vs in-process) may differ.
        np.testing.assert_allclose([r[key] for r in got], [r[key] for r in want], rtol=2e-5, atol=1e-6)
    two_summary = json.loads((two / "summary.json").read_text())
    assert two_summary["pass_rates"] == summary["pass_rates"]
    assert summary["pass_rates"]["heldout"]["questions"] == 5
    assert (two / "pass_rates_heldout.jsonl").read_text() == (one / "pass_rates_heldout.jsonl").read_text()
