"""train-rm end to end on the tiny model: learning, mesh-independent losses, SIGKILL + resume, other
meshes."""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from rm_runs import ROOT, SHORT, TINY_CONFIG, reference_run, tiny_config

from acecoder_jax.rm.trainer import train
from acecoder_jax.train.checkpoint import CheckpointMismatchError
from acecoder_jax.train.metrics import read_metrics

DETERMINISTIC = (
    "loss",
    "accuracy",
    "margin",
    "lr",
    "grad_norm",
    "chosen_reward",
    "rejected_reward",
    "seq_len",
)


def _series(run_dir: Path, key: str) -> list[float]:
    return [row[key] for row in read_metrics(run_dir / "metrics.jsonl")]


@pytest.mark.slow
def test_tiny_model_learns_a_separable_preference_set(tmp_path):
    eval_file = ROOT / "tests/fixtures/rm_pairs_tiny_eval.jsonl"
    cfg = tiny_config(
        tmp_path / "run",
        "train.steps=20",
        f"data.eval={eval_file}",
        "eval.every=10",
        "mesh.data=1",
        "mesh.fsdp=8",
    )
    summary = train(cfg)
    rows = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert [r["step"] for r in rows] == list(range(1, 21))
    assert abs(rows[0]["loss"] - math.log(2)) < 0.05  # a fresh head scores both sides alike
    # The pairs share no feature whose sign always favours chosen: a random model is near chance at first.
    assert np.mean([r["accuracy"] for r in rows[:4]]) < 0.85
    assert all(r["accuracy"] == 1.0 for r in rows[-5:])
    assert rows[-1]["loss"] < rows[0]["loss"] - 0.15 and rows[-1]["margin"] > 0.3
    evals = read_metrics(tmp_path / "run" / "metrics.jsonl", split="eval")
    assert [e["step"] for e in evals] == [10, 20] and evals[-1]["pairs"] == 32
    assert evals[-1]["accuracy"] >= 0.9 and summary["eval"] == evals[-1]
    for key in ("step", "loss", "accuracy", "margin", "lr", "grad_norm", "tokens_per_s"):
        assert key in rows[-1]
    assert rows[2]["lr"] > rows[0]["lr"] and rows[-1]["lr"] < max(
        r["lr"] for r in rows
    )  # warmup, then cosine
    run = tmp_path / "run"
    assert (run / "config.yaml").is_file() and (run / "plots" / "loss.png").is_file()
    assert (run / "plots" / "accuracy.png").is_file() and list(
        (run / "tensorboard").glob("events.out.tfevents.*")
    )


@pytest.mark.slow
def test_mesh_layouts_and_micro_batching_give_the_same_losses():
    reference = reference_run((8, 1, 1))  # 2 accumulated micro-batches of 8 pairs
    # (1, 4, 2) also takes the whole batch of 16 in one pass: accumulation must not change the update either.
    for mesh, micro in (((2, 2, 2), 8), ((1, 4, 2), 16)):
        other = reference_run(mesh, micro)
        for key in ("loss", "grad_norm", "margin"):
            # Only the order of fp32 reductions differs between layouts.
            np.testing.assert_allclose(
                _series(other, key), _series(reference, key), rtol=2e-5, atol=1e-6, err_msg=f"{mesh} {key}"
            )
        assert _series(other, "accuracy") == _series(reference, "accuracy")


def _deterministic_rows(run_dir: Path) -> list[dict]:
    return [
        {k: r[k] for k in DETERMINISTIC if k in r} | {"step": r["step"]}
        for r in read_metrics(run_dir / "metrics.jsonl")
    ]


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_gives_identical_metrics_and_restores_onto_another_mesh(tmp_path):
    reference = reference_run((8, 1, 1))
    run_dir = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "acecoder_jax.cli",
        "train-rm",
        "--config",
        str(TINY_CONFIG),
        f"run_dir={run_dir}",
    ]
    cmd += [
        f"data.train={ROOT}/tests/fixtures/rm_pairs_tiny.jsonl",
        *SHORT,
        "mesh.data=8",
        "mesh.fsdp=1",
        "mesh.tensor=1",
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    metrics = run_dir / "metrics.jsonl"
    deadline = time.monotonic() + 600
    # Kill between checkpoints (every 2 steps): after step 3's row, possibly while a save is in flight.
    while time.monotonic() < deadline and proc.poll() is None:
        if metrics.exists() and metrics.read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert 3 <= len(read_metrics(metrics)) < 6

    other_mesh = tmp_path / "other_mesh"
    shutil.copytree(run_dir, other_mesh)
    summary = train(tiny_config(run_dir, "mesh.data=8", "mesh.fsdp=1", "mesh.tensor=1"))
    assert summary["finished"]
    assert _deterministic_rows(run_dir) == _deterministic_rows(reference)  # exactly, not approximately

    train(tiny_config(other_mesh, "mesh.data=1", "mesh.fsdp=4", "mesh.tensor=2"))
    got, want = _deterministic_rows(other_mesh), _deterministic_rows(reference)
    assert [r["step"] for r in got] == list(range(1, 7))
    for key in ("loss", "grad_norm"):
        np.testing.assert_allclose([r[key] for r in got], [r[key] for r in want], rtol=2e-5, atol=1e-6)


def test_rerun_of_a_finished_run_resumes_without_training_and_keeps_metrics(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(reference_run((8, 1, 1)), run_dir)
    before = (run_dir / "metrics.jsonl").read_text()
    summary = train(tiny_config(run_dir, "mesh.data=8", "mesh.fsdp=1", "mesh.tensor=1"))
    assert summary["steps"] == 6 and (run_dir / "metrics.jsonl").read_text() == before


def test_run_dir_of_a_different_model_or_data_order_fails_clearly(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(reference_run((8, 1, 1)), run_dir)
    with pytest.raises(
        CheckpointMismatchError, match=r"different model .*hidden_size: checkpoint 64 vs run 896"
    ):
        train(tiny_config(run_dir, "model=qwen2.5-0.5b"))
    with pytest.raises(CheckpointMismatchError, match=r"different data order .*seed: checkpoint 0 vs run 1"):
        train(tiny_config(run_dir, "seed=1"))


@pytest.mark.slow
def test_a_hf_causal_lm_trains_as_a_reward_model_in_bf16_with_remat_keeping_fp32_masters(tmp_path):
    import orbax.checkpoint as ocp
    from hf_fixtures import make_qwen2

    backbone = make_qwen2(tmp_path / "qwen2", tie=False)  # has an lm_head, which a reward model drops
    run_dir = tmp_path / "run"
    overrides = (
        f"model={backbone}",
        "dtype=bfloat16",
        "train.remat=true",
        "train.steps=3",
        "checkpoint.every=3",
    )
    summary = train(tiny_config(run_dir, *overrides))
    rows = read_metrics(run_dir / "metrics.jsonl")
    assert summary["finished"] and len(rows) == 3
    assert abs(rows[0]["loss"] - math.log(2)) < 0.05  # the v_head is fresh: both sides score alike
    assert all(math.isfinite(r["loss"]) and math.isfinite(r["grad_norm"]) for r in rows)
    saved = ocp.StandardCheckpointer().metadata(run_dir / "checkpoints" / "3" / "state").item_metadata
    dtypes = {str(leaf.dtype) for leaf in jax.tree.leaves(saved["params"])}
    assert dtypes == {"float32"}  # bf16 is the compute dtype only
    assert "lm_head" not in str(jax.tree_util.tree_structure(saved["params"]))
