"""The shared training loop on a toy model: metrics, eval and checkpoint cadence, SIGTERM + exact resume."""

from __future__ import annotations

import json
import os
import shutil
import signal

import jax
import optax
import pytest
from train_toy import ToySource, loss_sums, toy_model

from acecoder_jax.train.batch import batch_sharding, put_batch
from acecoder_jax.train.checkpoint import CheckpointMismatchError
from acecoder_jax.train.loop import LoopSettings, train_loop
from acecoder_jax.train.metrics import read_metrics
from acecoder_jax.train.state import init_train_state, shardings_of
from acecoder_jax.train.step import make_train_step

ROWS, STEPS = 8, 6


def _train(run_dir, *, on_batch=None, meta=None, total=STEPS):
    mesh, graphdef, params, rest = toy_model()
    schedule = optax.linear_schedule(0.1, 0.0, total)
    tx = optax.adam(schedule)
    state = init_train_state(params, tx, seed=0)
    step_fn = make_train_step(
        graphdef,
        tx,
        schedule,
        loss_sums,
        mesh=mesh,
        state_shardings=shardings_of(state),
        rest_shardings=shardings_of(rest),
        batch_shardings=batch_sharding(mesh),
        micro_batches=2,
        extrema={"err_max": "max"},
    )
    settings = LoopSettings(
        total_steps=total,
        log_every=1,
        eval_every=4,
        save_every=2,
        keep=10,
        async_save=False,
        run_dir=run_dir,
        plot_keys=("loss", "err_max"),
        progress=False,
    )
    finished = []
    return train_loop(
        state=state,
        rest=rest,
        step_fn=step_fn,
        source=ToySource(ROWS, on_batch),
        settings=settings,
        put_batch=lambda rows: put_batch(mesh, rows),
        mesh=mesh,
        meta=meta or {"data_plan": {"rows": ROWS}},
        eval_fn=lambda state, step: {"w0": float(jax.device_get(state["params"]["w"][...])[0])},
        tokens_in_batch=lambda rows: 2 * ROWS,
        finish_fn=lambda state, summary: finished.append(summary["steps"]) or {"finish_saw": finished[-1]},
        summary_extra={"rows": ROWS},
    )


def _rows(run_dir):
    return [
        {k: v for k, v in row.items() if k != "tokens_per_s"}
        for row in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
    ]


def test_a_run_logs_every_step_evaluates_saves_and_summarises(tmp_path):
    summary = _train(tmp_path / "run")
    rows = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))
    assert [r["position"] for r in rows] == list(range(STEPS))  # host metrics join their step's row
    assert {"loss", "abs_err", "token_err", "err_max", "grad_norm", "lr", "tokens_per_s"} <= set(rows[0])
    evals = read_metrics(tmp_path / "run" / "metrics.jsonl", split="eval")
    assert [e["step"] for e in evals] == [4, 6] and summary["eval"] == evals[-1]
    assert summary["finished"] and summary["steps"] == STEPS and summary["rows"] == ROWS
    assert summary["finish_saw"] == STEPS and summary["last"]["step"] == STEPS
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["finish_saw"] == STEPS
    assert sorted(p.name for p in (tmp_path / "run" / "plots").glob("*.png")) == ["err_max.png", "loss.png"]
    saved = sorted(int(p.name) for p in (tmp_path / "run" / "checkpoints").iterdir() if p.name.isdigit())
    assert saved == [2, 4, 6]


def test_sigterm_checkpoints_the_step_and_a_rerun_continues_with_identical_metrics(tmp_path):
    reference = tmp_path / "reference"
    _train(reference)

    def terminate_at_3(position: int) -> None:
        if position == 2:  # during step 3: the loop finishes it, saves it and stops
            os.kill(os.getpid(), signal.SIGTERM)

    run_dir = tmp_path / "run"
    handler = signal.getsignal(signal.SIGTERM)
    stopped = _train(run_dir, on_batch=terminate_at_3)
    assert signal.getsignal(signal.SIGTERM) is handler  # the loop's handler is gone again
    assert not stopped["finished"] and stopped["steps"] == 3
    assert [r["step"] for r in read_metrics(run_dir / "metrics.jsonl")] == [1, 2, 3]
    resumed = _train(run_dir)
    assert resumed["finished"] and _rows(run_dir) == _rows(reference)

    # A rerun of the finished run trains nothing and keeps the metrics and what the summary measured.
    before = (run_dir / "metrics.jsonl").read_text()
    measured = json.loads((run_dir / "summary.json").read_text())
    rerun = _train(run_dir)
    assert rerun["steps"] == STEPS and (run_dir / "metrics.jsonl").read_text() == before
    for key in ("last", "eval", "seconds"):
        assert rerun[key] == measured[key] and measured[key]
    assert json.loads((run_dir / "summary.json").read_text()) == json.loads(json.dumps(rerun))


def test_resume_cuts_metrics_back_to_the_checkpoint(tmp_path):
    reference = tmp_path / "reference"
    _train(reference)
    run_dir = tmp_path / "run"
    shutil.copytree(reference, run_dir)
    for step in ("4", "6"):  # as if killed after step 5's row, before step 6 was saved
        shutil.rmtree(run_dir / "checkpoints" / step)
    resumed = _train(run_dir)
    assert resumed["finished"] and _rows(run_dir) == _rows(reference)


def test_a_checkpoint_with_other_meta_is_refused(tmp_path):
    _train(tmp_path / "run")
    with pytest.raises(CheckpointMismatchError, match=r"different data order .*rows: checkpoint 8 vs run 9"):
        _train(tmp_path / "run", meta={"data_plan": {"rows": 9}})


def test_settings_from_a_trainer_configs_shared_sections(tmp_path):
    from acecoder_jax.train.config import CheckpointConfig, LogConfig

    settings = LoopSettings.from_sections(
        run_dir=str(tmp_path),
        total_steps=9,
        checkpoint=CheckpointConfig(every=3, keep=2, async_save=False),
        log=LogConfig(every=2, progress=False),
        eval_every=4,
        plot_keys=("loss",),
    )
    assert settings == LoopSettings(
        total_steps=9,
        log_every=2,
        eval_every=4,
        save_every=3,
        keep=2,
        async_save=False,
        run_dir=tmp_path,
        plot_keys=("loss",),
        progress=False,
    )
