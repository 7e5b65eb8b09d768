"""train-sft end to end on the world's tiny policy: learning, the policy directory, mesh-independent losses,
SIGKILL + resume, and the errors a user sees for bad settings, bad checkpoints and bad rows."""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sft_runs import ROOT, WORLD_CONFIG, reference_run, short_overrides, tiny_config, world_dir

from acecoder_jax.common.config import ConfigError, load_config
from acecoder_jax.sft.config import SFTConfig
from acecoder_jax.sft.trainer import train
from acecoder_jax.train.checkpoint import CheckpointMismatchError
from acecoder_jax.train.metrics import read_metrics

DETERMINISTIC = ("loss", "lr", "grad_norm", "seq_len", "loss_tokens")


def _rows(run_dir: Path) -> list[dict]:
    return [{k: r[k] for k in ("step", *DETERMINISTIC)} for r in read_metrics(run_dir / "metrics.jsonl")]


def _series(run_dir: Path, key: str) -> list[float]:
    return [row[key] for row in read_metrics(run_dir / "metrics.jsonl")]


def test_a_short_run_learns_and_writes_a_policy_transformers_loads():
    run_dir = reference_run()
    rows = read_metrics(run_dir / "metrics.jsonl")
    assert [r["step"] for r in rows] == list(range(1, 7))
    assert abs(rows[0]["loss"] - math.log(1024)) < 0.3  # random init: about uniform over the vocabulary
    assert rows[-1]["loss"] < rows[0]["loss"] - 1.0
    assert all(r["loss_tokens"] > 16 * 10 for r in rows)  # every answer has 20+ trained tokens
    assert (run_dir / "plots" / "loss.png").is_file() and (run_dir / "config.yaml").is_file()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    policy = run_dir / "policy"
    tokenizer = AutoTokenizer.from_pretrained(str(policy))
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") == 1004
    hf = AutoModelForCausalLM.from_pretrained(str(policy), torch_dtype=torch.float32).eval()
    from acecoder_jax.models import from_pretrained

    ours = from_pretrained(policy)
    ids = np.asarray([tokenizer("def add(a, b):\n    return a + b")["input_ids"]], np.int32)
    with torch.no_grad():
        want = hf(torch.from_numpy(ids).long()).logits.numpy()
    got = np.asarray(ours(ids, np.ones_like(ids)))
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_rerun_of_a_finished_run_trains_nothing_and_keeps_metrics(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(reference_run(), run_dir)
    before = (run_dir / "metrics.jsonl").read_text()
    summary = train(tiny_config(run_dir))
    assert summary["steps"] == 6 and summary["finished"]
    assert (run_dir / "metrics.jsonl").read_text() == before


def test_a_checkpoint_of_another_model_shape_or_data_order_fails_clearly(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(reference_run(), run_dir)
    with pytest.raises(
        CheckpointMismatchError, match=r"different model .*hidden_size: checkpoint 128 vs run 64"
    ):
        train(tiny_config(run_dir, "model=tiny"))
    with pytest.raises(CheckpointMismatchError, match=r"different data order .*seed: checkpoint 0 vs run 1"):
        train(tiny_config(run_dir, "seed=1"))


def test_a_reward_model_checkpoint_is_refused_as_the_starting_policy(tmp_path):
    from acecoder_jax.models import ModelConfig, init_model, save_pretrained
    from acecoder_jax.sft.policy_model import PolicySpecError

    reward = init_model(ModelConfig.preset("world-tiny"), kind="reward", seed=0)
    save_pretrained(reward, tmp_path / "rm", tokenizer_dir=world_dir() / "tokenizer")
    with pytest.raises(PolicySpecError, match=r"holds a reward model"):
        train(tiny_config(tmp_path / "run", f"model={tmp_path / 'rm'}"))


def test_unknown_config_keys_are_listed():
    with pytest.raises(ConfigError, match=r"unknown key\(s\) train.lrr; valid keys under train: .*lr"):
        load_config(SFTConfig, WORLD_CONFIG, ["train.lrr=1e-3"])
    from acecoder_jax.sft.cli import main

    assert main(["--config", str(WORLD_CONFIG), "data.max_len=10"]) == 2


def test_bad_rows_name_the_file_row_and_field(tmp_path, capsys):
    rows = tmp_path / "rows.jsonl"
    good = (world_dir() / "sft.jsonl").read_text().splitlines()[:3]
    bad = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": 3}]}'
    rows.write_text("\n".join([*good, bad]) + "\n")
    from acecoder_jax.data.sft_tokenize import SFTDataError

    with pytest.raises(SFTDataError, match=r"rows.jsonl:4: field 'messages'\[1\].content must be a string"):
        train(tiny_config(tmp_path / "run", f"data.train={rows}"))
    from acecoder_jax.sft.cli import main

    args = ["--config", str(WORLD_CONFIG), *short_overrides(tmp_path / "run2"), f"data.train={rows}"]
    assert main(args) == 1
    assert "rows.jsonl:4: field 'messages'[1].content" in capsys.readouterr().err
    # Skipped instead, they are counted; 3 usable rows are fewer than one batch: a clear error too.
    from acecoder_jax.sft.trainer import SFTConfigError

    with pytest.raises(SFTConfigError, match=r"3 usable rows, fewer than one batch of 16"):
        train(tiny_config(tmp_path / "run3", f"data.train={rows}", "data.on_bad_row=skip"))


@pytest.mark.slow
def test_mesh_layouts_and_micro_batching_give_the_same_losses():
    reference = reference_run((8, 1, 1))  # 2 accumulated micro-batches of 8 rows
    # (1, 4, 2) takes the whole batch of 16 in one pass: accumulation must not change the update either.
    for mesh, micro in (((2, 2, 2), 8), ((1, 4, 2), 16)):
        other = reference_run(mesh, micro)
        for key in ("loss", "grad_norm"):
            # Only the order of fp32 reductions differs between layouts.
            np.testing.assert_allclose(
                _series(other, key), _series(reference, key), rtol=2e-5, atol=1e-6, err_msg=f"{mesh} {key}"
            )
        assert _series(other, "loss_tokens") == _series(reference, "loss_tokens")


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_gives_identical_metrics_and_restores_onto_another_mesh(tmp_path):
    reference = reference_run((8, 1, 1))
    run_dir = tmp_path / "killed"
    cmd = [sys.executable, "-m", "acecoder_jax.cli", "train-sft", "--config", str(WORLD_CONFIG)]
    cmd += short_overrides(run_dir)
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
    summary = train(tiny_config(run_dir))
    assert summary["finished"]
    assert _rows(run_dir) == _rows(reference)  # exactly, not approximately

    train(tiny_config(other_mesh, "mesh.data=1", "mesh.fsdp=4", "mesh.tensor=2"))
    got, want = _rows(other_mesh), _rows(reference)
    assert [r["step"] for r in got] == list(range(1, 7))
    for key in ("loss", "grad_norm"):
        np.testing.assert_allclose([r[key] for r in got], [r[key] for r in want], rtol=2e-5, atol=1e-6)
