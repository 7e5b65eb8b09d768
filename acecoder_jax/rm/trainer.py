"""`acecoder train-rm`, top to bottom: setup, data, model + optimizer, resume, the loop, outputs.

A rerun with the same run_dir resumes from the newest complete checkpoint (model, optimizer, step, RNG, data
position) and cuts metrics.jsonl back to it, so a run killed at any moment and resumed ends with the same
metrics
as one never interrupted.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from acecoder_jax.common.config import dump_yaml
from acecoder_jax.data.pairs import BadRowReport, EncodedPairs, load_pairs
from acecoder_jax.data.pipeline import eval_batches, steps_per_epoch, train_batches
from acecoder_jax.rm.config import RMConfig
from acecoder_jax.rm.loss import METRIC_SUMS
from acecoder_jax.rm.model_setup import (
    build_reward_model,
    model_config_for,
    model_identity,
    tokenizer_dir_for,
)
from acecoder_jax.rm.step import make_eval_step, make_train_step, to_global
from acecoder_jax.sharding import MeshConfig, make_mesh
from acecoder_jax.train.checkpoint import RunCheckpointer, check_compatible
from acecoder_jax.train.meter import ThroughputMeter, peak_flops
from acecoder_jax.train.metrics import MetricsWriter
from acecoder_jax.train.optimizer import adamw, warmup_cosine
from acecoder_jax.train.progress import ProgressLine
from acecoder_jax.train.state import (
    abstract_of,
    free,
    init_train_state,
    param_signature,
    shardings_of,
    split_model,
)


class RMConfigError(ValueError):
    """Settings that cannot work together (batch sizes vs mesh, empty data, ...)."""


@dataclasses.dataclass
class RunData:
    """Tokenized train/eval pairs and what was skipped."""

    train: EncodedPairs
    eval: EncodedPairs | None
    skipped: dict[str, BadRowReport]
    pad_id: int


def train(cfg: RMConfig) -> dict[str, Any]:
    """Train (or resume) a reward model as configured; returns a summary of the run."""
    # ---------------------------------------------------------------- setup
    if not cfg.data.train:
        raise RMConfigError("data.train is not set: give a JSONL/parquet file of AceCodePair rows")
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    lead = jax.process_index() == 0
    mesh = make_mesh(MeshConfig(data=cfg.mesh.data, fsdp=cfg.mesh.fsdp, tensor=cfg.mesh.tensor))
    data_parallel = mesh.shape["data"] * mesh.shape["fsdp"]
    micro = cfg.train.micro_batch_size or cfg.train.batch_size
    _check_batches(cfg, micro, data_parallel)
    progress = ProgressLine(0, enabled=cfg.log.progress and lead)

    # ---------------------------------------------------------------- data
    data = load_run_data(cfg, run_dir)
    for split, report in data.skipped.items():
        if report.total:
            progress.message(
                f"{split}: skipped {report.total} bad rows {dict(report.counts)}; e.g. {report.examples[0]}"
            )
    if len(data.train) < cfg.train.batch_size:
        raise RMConfigError(
            f"{cfg.data.train}: {len(data.train)} usable pairs, "
            f"fewer than one batch of {cfg.train.batch_size}"
        )
    epoch_steps = steps_per_epoch(len(data.train), cfg.train.batch_size)
    total_steps = cfg.train.steps or epoch_steps

    # ---------------------------------------------------------------- model + optimizer
    checkpointer = RunCheckpointer(
        run_dir / "checkpoints",
        every=cfg.checkpoint.every,
        keep=cfg.checkpoint.keep,
        async_save=cfg.checkpoint.async_save,
    )
    latest = checkpointer.latest_step()
    data_plan = {"seed": cfg.seed, "batch_size": cfg.train.batch_size, "train_pairs": len(data.train)}
    if latest is not None:  # a different model or data order fails here, before any weights are built
        identity = model_identity(model_config_for(cfg.model, dtype=cfg.dtype, remat=cfg.train.remat))
        try:
            check_compatible(
                checkpointer.read_meta(latest), {"model_config": identity, "data_plan": data_plan}, run_dir
            )
        except Exception:
            checkpointer.close()
            raise
    with jax.set_mesh(mesh):
        model = build_reward_model(
            cfg.model, dtype=cfg.dtype, remat=cfg.train.remat, seed=cfg.seed, mesh=mesh
        )
    model_config = model.config
    graphdef, params, rest = split_model(model)
    del model
    schedule = warmup_cosine(cfg.train.lr, total_steps, cfg.train.warmup_ratio)
    tx = adamw(
        schedule,
        weight_decay=cfg.train.weight_decay,
        b1=cfg.train.adam_b1,
        b2=cfg.train.adam_b2,
        eps=cfg.train.adam_eps,
        grad_clip=cfg.train.grad_clip,
    )
    state = init_train_state(params, tx, cfg.seed)
    del params
    state_shardings = shardings_of(state)
    rest_shardings = shardings_of(rest)
    meta = {
        "model_config": model_identity(model_config),
        "param_signature": param_signature(state["params"]),
        "model": cfg.model,
        "data_plan": data_plan,
        "total_steps": total_steps,
    }

    # ---------------------------------------------------------------- resume
    start, data_state = 0, None
    if latest is not None:
        saved_meta = checkpointer.read_meta(latest)
        check_compatible(saved_meta, meta, run_dir)
        target = abstract_of(state)
        free(state)
        state, data_state, _ = checkpointer.restore(latest, target)
        start = latest
        progress.message(f"resumed {run_dir} at step {start}/{total_steps}")
        if saved_meta.get("total_steps", total_steps) != total_steps:
            progress.message(
                f"warning: the checkpoint was written by a run of {saved_meta['total_steps']} steps, "
                f"this run has "
                f"{total_steps}: the learning-rate schedule changes from here on"
            )

    # ---------------------------------------------------------------- outputs
    if lead:
        dump_yaml(cfg, run_dir / "config.yaml")
    writer = MetricsWriter(run_dir, resume_step=start, enabled=lead)
    train_step = make_train_step(
        graphdef,
        tx,
        schedule,
        mesh=mesh,
        state_shardings=state_shardings,
        rest_shardings=rest_shardings,
        micro_batches=cfg.train.batch_size // micro,
        margin=cfg.train.margin,
        center_rewards_coef=cfg.train.center_rewards_coef,
    )
    eval_step = make_eval_step(
        graphdef,
        mesh=mesh,
        param_shardings=state_shardings["params"],
        rest_shardings=rest_shardings,
        margin=cfg.train.margin,
        center_rewards_coef=cfg.train.center_rewards_coef,
    )
    peak = cfg.train.peak_flops_per_device or peak_flops(jax.devices()[0].device_kind)
    meter = ThroughputMeter(peak * jax.device_count() if peak else None)
    progress = ProgressLine(total_steps, start, enabled=cfg.log.progress and lead)
    from acecoder_jax.models import flops_per_token

    # The reward model has no lm_head: take that matmul (6 FLOPs per weight and token) out of the LM count.
    head_flops = 6 * model_config.hidden_size * model_config.vocab_size

    def evaluate(step: int) -> dict[str, Any] | None:
        if data.eval is None:
            return None
        sums: dict[str, float] = {}
        for local in eval_batches(
            data.eval,
            batch_size=cfg.eval.batch_size or cfg.train.batch_size,
            max_length=cfg.data.max_length,
            pad_id=data.pad_id,
            pad_multiple=cfg.data.pad_multiple,
            process_index=jax.process_index(),
            process_count=jax.process_count(),
        ):
            out = jax.device_get(eval_step(state["params"], rest, to_global(mesh, local)))
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + float(v)
        row = {"step": step, "split": "eval"} | {k: sums[k] / sums["weight"] for k in METRIC_SUMS}
        row["pairs"] = int(sums["weight"])
        writer.write(row)
        progress.message(
            f"eval @ {step}: loss {row['loss']:.4f} accuracy {row['accuracy']:.3f} margin {row['margin']:.3f}"
        )
        return row

    # ---------------------------------------------------------------- loop
    stop = {"signal": None}

    def on_signal(signum: int, _frame: Any) -> None:
        stop["signal"] = signum  # finish the current step, checkpoint, exit

    in_main_thread = threading.current_thread() is threading.main_thread()  # signals need the main thread
    previous = signal.signal(signal.SIGTERM, on_signal) if in_main_thread else None
    iterator = iter(
        train_batches(
            data.train,
            batch_size=cfg.train.batch_size,
            total_steps=total_steps,
            seed=cfg.seed,
            max_length=cfg.data.max_length,
            pad_id=data.pad_id,
            pad_multiple=cfg.data.pad_multiple,
            window_batches=cfg.data.window_batches,
            process_index=jax.process_index(),
            process_count=jax.process_count(),
        )
    )
    if data_state is not None:
        iterator.set_state(data_state)
    last_row: dict[str, Any] = {}
    last_eval = None
    step = start
    saved_at = start if latest is not None else -1
    started = time.perf_counter()
    try:
        with jax.set_mesh(mesh):
            while step < total_steps:
                local = next(iterator)
                length = local["chosen_ids"].shape[1]
                state, metrics = train_step(state, rest, to_global(mesh, local))
                step += 1
                tokens = int(local["global_tokens"])
                meter.add(tokens, (flops_per_token(model_config, length) - head_flops) * tokens)
                if step % cfg.log.every == 0 or step == total_steps:
                    values = {k: float(v) for k, v in jax.device_get(metrics).items()}
                    tokens_per_s, mfu = meter.read()
                    last_row = {"step": step, **values, "tokens_per_s": tokens_per_s, "seq_len": length}
                    if mfu is not None:
                        last_row["mfu"] = mfu
                    writer.write(last_row)
                    progress.update(step, values["loss"], values["accuracy"], tokens_per_s, mfu)
                if cfg.eval.every and step % cfg.eval.every == 0 and step < total_steps:
                    last_eval = evaluate(step)
                # The last step is saved after the final eval, so a checkpoint at total_steps implies its
                # eval row.
                if step < total_steps and checkpointer.save(
                    step, state, iterator.get_state(), meta, force=stop["signal"] is not None
                ):
                    saved_at = step
                if stop["signal"] is not None:
                    progress.message(f"signal {stop['signal']}: checkpointed step {step}, stopping")
                    break
            if step == total_steps and saved_at != step:
                last_eval = evaluate(step)
                checkpointer.save(step, state, iterator.get_state(), meta, force=True)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
        checkpointer.close()
        progress.close()
        if lead:
            writer.plot()
        writer.close()
    summary = {
        "run_dir": str(run_dir),
        "steps": step,
        "total_steps": total_steps,
        "train_pairs": len(data.train),
        "eval_pairs": len(data.eval) if data.eval is not None else 0,
        "skipped": {k: dict(v.counts) for k, v in data.skipped.items()},
        "last": last_row,
        "eval": last_eval,
        "seconds": time.perf_counter() - started,
        "finished": step == total_steps,
    }
    if lead:
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def load_run_data(cfg: RMConfig, run_dir: Path) -> RunData:
    """Tokenize train (and eval) pairs; hold out `val_size` of train when no eval file is given."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir_for(cfg.model, cfg.data.tokenizer)))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    common = dict(
        max_length=cfg.data.max_length,
        truncation=cfg.data.truncation,
        on_bad_row=cfg.data.on_bad_row,
        system_prompt=cfg.data.system_prompt,
        cache_dir=run_dir / "data_cache",
    )
    train_pairs, train_report = load_pairs(expand_paths(cfg.data.train), tokenizer, **common)
    skipped = {"train": train_report}
    eval_pairs = None
    if cfg.data.eval:
        eval_pairs, skipped["eval"] = load_pairs(expand_paths(cfg.data.eval), tokenizer, **common)
    elif cfg.data.val_size > 0:
        order = np.random.default_rng([cfg.seed, 7]).permutation(len(train_pairs))
        n_val = max(1, round(cfg.data.val_size * len(train_pairs)))
        eval_pairs = train_pairs.select(np.sort(order[:n_val]))
        train_pairs = train_pairs.select(np.sort(order[n_val:]))
    if eval_pairs is not None and len(eval_pairs) == 0:
        eval_pairs = None
    return RunData(train_pairs, eval_pairs, skipped, int(pad_id))


def expand_paths(pattern: str) -> list[Path]:
    """A file, a dataset dir, or a glob of shards (`data/train-*.parquet`), sorted; a glob matching nothing
    fails."""
    if any(ch in pattern for ch in "*?["):
        found = sorted(Path(p) for p in glob.glob(pattern))
        if not found:
            raise FileNotFoundError(f"{pattern}: no files match")
        return found
    return [Path(pattern)]


def _check_batches(cfg: RMConfig, micro: int, data_parallel: int) -> None:
    batch = cfg.train.batch_size
    if batch % micro:
        raise RMConfigError(f"train.batch_size={batch} is not a multiple of train.micro_batch_size={micro}")
    if micro % data_parallel:
        raise RMConfigError(
            f"train.micro_batch_size={micro} is not a multiple of the data-parallel size {data_parallel} "
            "(mesh data x fsdp)"
        )
    if batch % jax.process_count():
        raise RMConfigError(f"train.batch_size={batch} does not split over {jax.process_count()} processes")
    eval_batch = cfg.eval.batch_size or batch
    if eval_batch % data_parallel:
        raise RMConfigError(
            f"eval.batch_size={eval_batch} is not a multiple of the data-parallel size {data_parallel}"
        )
