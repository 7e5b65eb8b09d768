"""The training loop every trainer shares: resume, steps, metrics, eval/checkpoint cadence, SIGTERM, outputs.

    train_loop(*, state, rest, step_fn, source, settings, put_batch, mesh, meta,
               eval_fn=None, tokens_in_batch=None, flops_per_token=None, finish_fn=None, summary_extra=None)
        -> summary dict (also written to run_dir/summary.json)

A trainer builds the model, optimizer and jitted step (train/step.py), a resumable `BatchSource`
(train/batch_source.py) and `LoopSettings`, then hands them here. A rerun with the same run_dir resumes
from the newest complete checkpoint (train state incl. step and RNG, and `source.get_state()`), cuts
metrics.jsonl back to it, and continues, so a run killed at any moment and resumed ends with the metrics of
one never interrupted. SIGTERM finishes the current step, checkpoints and returns ("finished": False).

Per step: `source.next_batch(state)` -> host rows + host metrics; `step_fn(state, rest, put_batch(rows))`.
Every `log_every` steps (and the last) one metrics row {step, device metrics..., tokens_per_s, host
metrics..., mfu} is written. Every `eval_every` steps and after the last, `eval_fn(state, step)` returns
an eval row (or None), written with "split": "eval". Checkpoints every `save_every` steps; the last step's
checkpoint is written after its eval, so a checkpoint at total_steps implies its eval row.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh

from acecoder_jax.train.batch_source import BatchSource, HostBatch
from acecoder_jax.train.checkpoint import RunCheckpointer, check_compatible
from acecoder_jax.train.config import CheckpointConfig, LogConfig
from acecoder_jax.train.meter import ThroughputMeter, peak_flops
from acecoder_jax.train.metrics import MetricsWriter
from acecoder_jax.train.progress import ProgressLine
from acecoder_jax.train.state import TrainState, abstract_of, free
from acecoder_jax.train.step import TrainStepFn


@dataclass(frozen=True)
class LoopSettings:
    """Cadence and outputs of a run (steps count optimizer updates)."""

    total_steps: int
    log_every: int
    eval_every: int  # 0: only after the last step (when an eval_fn is given)
    save_every: int
    keep: int  # checkpoints kept
    async_save: bool
    run_dir: Path
    progress_keys: tuple[str, ...] = ("loss",)  # metrics shown on the progress line
    plot_keys: tuple[str, ...] = ("loss", "lr", "grad_norm")  # plots/<key>.png at the end
    eval_keys: tuple[str, ...] = ("loss",)  # metrics printed after each eval
    progress: bool = True  # print the progress line (process 0 only)
    peak_flops_per_device: float | None = None  # for MFU; None: looked up from the device kind

    @classmethod
    def from_sections(
        cls,
        *,
        run_dir: Path,
        total_steps: int,
        checkpoint: CheckpointConfig,
        log: LogConfig,
        eval_every: int,
        **display: Any,
    ) -> LoopSettings:
        """Settings from a trainer config's shared sections; `display`: progress_keys, plot_keys, ..."""
        return cls(
            total_steps=total_steps,
            log_every=log.every,
            eval_every=eval_every,
            save_every=checkpoint.every,
            keep=checkpoint.keep,
            async_save=checkpoint.async_save,
            run_dir=Path(run_dir),
            progress=log.progress,
            **display,
        )


def train_loop(
    *,
    state: TrainState,
    rest: nnx.State,
    step_fn: TrainStepFn,
    source: BatchSource,
    settings: LoopSettings,
    put_batch: Callable[[HostBatch], dict[str, jax.Array]],
    mesh: Mesh,
    meta: dict[str, Any],
    eval_fn: Callable[[TrainState, int], dict[str, float] | None] | None = None,
    tokens_in_batch: Callable[[HostBatch], int] | None = None,
    flops_per_token: Callable[[HostBatch], float] | None = None,
    finish_fn: Callable[[TrainState, dict[str, Any]], dict[str, Any] | None] | None = None,
    summary_extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train (or resume) to `settings.total_steps`; returns the run summary.

    `state` is a fresh train state (replaced by the checkpoint's on resume); `meta` (JSON) is saved in every
    checkpoint and checked against it on resume (`check_compatible`: model_config, param_signature,
    data_plan). `tokens_in_batch(rows)` counts the real tokens of the GLOBAL batch (for tokens/s) and
    `flops_per_token(rows)` the model FLOPs per token (for MFU). `finish_fn(state, summary)` runs after the
    final save (e.g. a pass-rate check of the trained policy); what it returns joins the summary.
    """
    run_dir = Path(settings.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    lead = jax.process_index() == 0
    total = settings.total_steps
    meta = {**meta, "total_steps": total}
    checkpointer = RunCheckpointer(
        run_dir / "checkpoints", every=settings.save_every, keep=settings.keep, async_save=settings.async_save
    )
    try:
        state, start = _resume(checkpointer, state, source, meta, run_dir, settings.progress and lead)
    except BaseException:
        checkpointer.close()
        raise
    resumed = start is not None
    start = start or 0

    writer = MetricsWriter(run_dir, resume_step=start, enabled=lead)
    progress = ProgressLine(total, start, enabled=settings.progress and lead, keys=settings.progress_keys)
    peak = settings.peak_flops_per_device or peak_flops(jax.devices()[0].device_kind)
    meter = ThroughputMeter(peak * jax.device_count() if peak and flops_per_token else None)

    def evaluate(state: TrainState, step: int) -> dict[str, Any] | None:
        result = eval_fn(state, step) if eval_fn is not None else None
        if result is None:
            return None
        row = {"step": step, "split": "eval"} | result
        writer.write(row)
        shown = " ".join(f"{k} {row[k]:.4f}" for k in settings.eval_keys if k in row)
        progress.message(f"eval @ {step}: {shown}")
        return row

    stop: dict[str, int | None] = {"signal": None}

    def on_signal(signum: int, _frame: Any) -> None:
        stop["signal"] = signum  # finish the current step, checkpoint, exit

    in_main_thread = threading.current_thread() is threading.main_thread()  # signals need the main thread
    previous = signal.signal(signal.SIGTERM, on_signal) if in_main_thread else None
    last_row: dict[str, Any] = {}
    last_eval = None
    step = start
    saved_at = start if resumed else -1
    started = time.perf_counter()
    summary: dict[str, Any] = {}
    try:
        with jax.set_mesh(mesh):
            while step < total:
                rows, host_metrics = source.next_batch(state)
                state, metrics = step_fn(state, rest, put_batch(rows))
                step += 1
                if tokens_in_batch is not None:
                    tokens = tokens_in_batch(rows)
                    meter.add(tokens, flops_per_token(rows) * tokens if flops_per_token else 0.0)
                if step % settings.log_every == 0 or step == total:
                    last_row = _log_row(step, metrics, host_metrics, meter if tokens_in_batch else None)
                    writer.write(last_row)
                    progress.update(step, last_row, last_row.get("tokens_per_s"), last_row.get("mfu"))
                if settings.eval_every and step % settings.eval_every == 0 and step < total:
                    last_eval = evaluate(state, step)
                if step < total and checkpointer.save(
                    step, state, source.get_state(), meta, force=stop["signal"] is not None
                ):
                    saved_at = step
                if stop["signal"] is not None:
                    progress.message(f"signal {stop['signal']}: checkpointed step {step}, stopping")
                    break
            if step == total and saved_at != step:
                last_eval = evaluate(state, step)
                checkpointer.save(step, state, source.get_state(), meta, force=True)
            summary = {
                "run_dir": str(run_dir),
                "steps": step,
                "total_steps": total,
                **(summary_extra or {}),
                "last": last_row,
                "eval": last_eval,
                "seconds": time.perf_counter() - started,
                "finished": step == total,
            }
            if start == total:
                summary = _kept_from_the_finished_run(run_dir, summary)
            if finish_fn is not None:
                summary |= finish_fn(state, summary) or {}
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
        checkpointer.close()
        progress.close()
        if lead:
            writer.plot(settings.plot_keys)
        writer.close()
    if lead:
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def _kept_from_the_finished_run(run_dir: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """A rerun of a finished run trains and measures nothing: what the run measured (its last row, final
    eval, time, and extras this rerun has no value for, such as an eval before training) stays as it was."""
    path = run_dir / "summary.json"
    if not path.is_file():
        return summary
    previous = json.loads(path.read_text(encoding="utf-8"))
    kept = {k: v for k, v in previous.items() if k in ("last", "eval", "seconds") or summary.get(k) is None}
    return summary | kept


def _resume(
    checkpointer: RunCheckpointer,
    state: TrainState,
    source: BatchSource,
    meta: dict[str, Any],
    run_dir: Path,
    show: bool,
) -> tuple[TrainState, int | None]:
    """(state, step) restored from the newest complete checkpoint, or (the given state, None)."""
    latest = checkpointer.latest_step()
    if latest is None:
        return state, None
    saved_meta = checkpointer.read_meta(latest)
    check_compatible(saved_meta, meta, run_dir)
    target = abstract_of(state)
    free(state)  # the fresh state's buffers go before the checkpoint's arrive: halves peak memory
    state, data_state, _ = checkpointer.restore(latest, target)
    source.set_state(data_state)
    messages = ProgressLine(0, enabled=show)
    total = meta["total_steps"]
    messages.message(f"resumed {run_dir} at step {latest}/{total}")
    if saved_meta.get("total_steps", total) != total:
        messages.message(
            f"warning: the checkpoint was written by a run of {saved_meta['total_steps']} steps, "
            f"this run has {total}: the learning-rate schedule changes from here on"
        )
    return state, latest


def _log_row(
    step: int,
    metrics: Mapping[str, jax.Array],
    host_metrics: Mapping[str, float],
    meter: ThroughputMeter | None,
) -> dict[str, Any]:
    """One metrics.jsonl row: step, the device metrics (as floats), tokens/s, host metrics, MFU."""
    row: dict[str, Any] = {"step": step}
    row |= {k: float(v) for k, v in jax.device_get(dict(metrics)).items()}
    mfu = None
    if meter is not None:
        row["tokens_per_s"], mfu = meter.read()
    row |= {k: v.item() if isinstance(v, np.generic) else v for k, v in host_metrics.items()}
    if mfu is not None:
        row["mfu"] = mfu
    return row
