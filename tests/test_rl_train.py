"""train-rl: the policy loss through the shared step is invariant to micro-batching and mesh; bad rows and
keys fail clearly; a run killed with SIGKILL and resumed ends with the metrics of one never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import optax
import pytest
from rl_runs import tiny_rl_config

from acecoder_jax.common.config import ConfigError
from acecoder_jax.models import ModelConfig, init_model
from acecoder_jax.rl.policy_step import EXTREMA, PolicyLossSettings, make_policy_loss_sums, row_weights
from acecoder_jax.sharding import MeshConfig, make_mesh
from acecoder_jax.train.batch import batch_sharding, put_batch
from acecoder_jax.train.state import init_train_state, shardings_of, split_model
from acecoder_jax.train.step import make_train_step

ROOT = Path(__file__).resolve().parents[1]
TIMING = ("tokens_per_s", "time_generate", "time_reward_wait", "time_rollout", "rollout_tokens_per_s")


def _rollout_rows(rows: int, width: int, aggregation: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    prompt = 5
    ids = rng.integers(1, 500, size=(rows, width)).astype(np.int32)
    lengths = rng.integers(1, width - prompt, size=rows)
    attention = np.zeros((rows, width), np.int32)
    response = np.zeros((rows, width), np.int32)
    for row, length in enumerate(lengths):
        attention[row, : prompt + length] = 1
        response[row, prompt : prompt + length] = 1
    return {
        "input_ids": ids,
        "attention_mask": attention,
        "response_mask": response,
        # near the random policy's log(1/512), so some ratios fall outside the clip range on either side
        "old_logprobs": ((-np.log(512) + 0.3 * rng.normal(size=(rows, width))) * response).astype(np.float32),
        "advantages": (rng.normal(size=(rows, width)) * response).astype(np.float32),
        "weight": row_weights(response, aggregation),
    }


def _one_update(mesh_shape, micro_batches, aggregation):
    mesh = make_mesh(MeshConfig(*mesh_shape))
    config = ModelConfig.preset("tiny", vocab_size=512)
    with jax.set_mesh(mesh):
        model = init_model(config, kind="causal_lm", seed=1, mesh=mesh)
    graphdef, params, rest = split_model(model)
    schedule = optax.constant_schedule(1.0)
    tx = optax.sgd(schedule)  # the update is the gradient itself (Adam would amplify rounding in tiny ones)
    state = init_train_state(params, tx, 0)
    settings = PolicyLossSettings(aggregation=aggregation, clip_low=0.1, clip_high=0.3, logprob_chunk=4)
    step = make_train_step(
        graphdef,
        tx,
        schedule,
        make_policy_loss_sums(settings),
        mesh=mesh,
        state_shardings=shardings_of(state),
        rest_shardings=shardings_of(rest),
        batch_shardings=batch_sharding(mesh),
        micro_batches=micro_batches,
        extrema=EXTREMA,
    )
    with jax.set_mesh(mesh):
        state, metrics = step(state, rest, put_batch(mesh, _rollout_rows(16, 12, aggregation)))
        params = jax.tree.map(np.asarray, jax.device_get(state["params"]))
    return {k: float(v) for k, v in jax.device_get(metrics).items()}, params


@pytest.mark.parametrize(
    ("aggregation", "layouts"),
    [
        ("token-mean", [((2, 2, 2), 2)]),
        pytest.param("seq-mean-token-mean", [((1, 8, 1), 2), ((2, 2, 2), 4)], marks=pytest.mark.slow),
    ],
)
def test_micro_batching_and_mesh_leave_the_update_unchanged(aggregation, layouts):
    reference, params = _one_update((1, 8, 1), 1, aggregation)
    assert reference["ratio_min"] < 1.0 < reference["ratio_max"] and 0 < reference["clip_frac"] < 1
    for mesh_shape, micro in layouts:
        metrics, other = _one_update(mesh_shape, micro, aggregation)
        for key in ("loss", "policy_loss", "clip_frac", "entropy", "grad_norm", "ratio_min", "ratio_max"):
            assert metrics[key] == pytest.approx(reference[key], rel=2e-5, abs=1e-7), (mesh_shape, micro, key)
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(other)):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def test_rows_without_tests_and_unknown_keys_are_named(tmp_path):
    from transformers import AutoTokenizer

    from acecoder_jax.rl.setup import load_questions
    from acecoder_jax.world import ensure_world

    world = ensure_world(tmp_path / "world")
    rows = (world / "train.jsonl").read_text().splitlines()[:3]
    broken = json.loads(rows[1]) | {"test_cases": []}
    data = tmp_path / "prompts.jsonl"
    data.write_text("\n".join([rows[0], json.dumps(broken), rows[2]]) + "\n")
    tokenizer = AutoTokenizer.from_pretrained(str(world / "tokenizer"))
    with pytest.raises(ConfigError, match=r"prompts\.jsonl: row 2 .*'test_cases' is empty"):
        load_questions(data, tokenizer, style="chat", max_prompt_tokens=512, on_bad_row="fail")
    kept, skipped = load_questions(data, tokenizer, style="chat", max_prompt_tokens=512, on_bad_row="skip")
    assert len(kept) == 2 and len(skipped) == 1
    with pytest.raises(ConfigError, match=r"row 1 .*prompt of \d+ tokens > data.max_prompt_tokens 8"):
        load_questions(data, tokenizer, style="chat", max_prompt_tokens=8, on_bad_row="fail")

    from acecoder_jax.rl.cli import main

    assert main(["rollout.group=4"]) == 2


def _rows(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_gives_the_uninterrupted_metrics(tmp_path):
    from acecoder_jax.common.config import load_config
    from acecoder_jax.rl.config import RLConfig
    from acecoder_jax.rl.trainer import train
    from acecoder_jax.world import ensure_world

    world = ensure_world(tmp_path / "world")
    whole = tiny_rl_config(tmp_path / "a", world) if (tmp_path / "a").mkdir() is None else None
    train(load_config(RLConfig, whole))
    expected = _rows(tmp_path / "a" / "run")
    assert [row["step"] for row in expected] == [1, 2, 3, 4, 5, 6]
    assert any(row.get("kl", 0) > 0 for row in expected)  # the policy moved away from its reference

    (tmp_path / "b").mkdir()
    killed = tiny_rl_config(tmp_path / "b", world)
    env = os.environ | {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    process = subprocess.Popen(
        [sys.executable, "-m", "acecoder_jax.cli", "train-rl", "--config", str(killed)], cwd=ROOT, env=env
    )
    checkpoints = tmp_path / "b" / "run" / "checkpoints"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if (checkpoints / "3").is_dir():  # mid rollout batch 2: rows buffered, policy moved
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert (checkpoints / "3").is_dir() and not (checkpoints / "6").exists()
    summary = train(load_config(RLConfig, killed))
    assert summary["finished"] and summary["steps"] == 6
    assert _rows(tmp_path / "b" / "run") == expected
