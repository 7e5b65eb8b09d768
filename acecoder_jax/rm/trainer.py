"""`acecoder train-rm`, top to bottom: setup, data, model + optimizer, the shared loop, outputs.

The reward model supplies only its Bradley-Terry loss sums (rm/step.py), its grain batch source and its
config; the jitted step (train/step.py) and the loop (train/loop.py: resume, metrics, eval and checkpoint
cadence, SIGTERM) are the shared training core. A rerun with the same run_dir resumes from the newest
complete checkpoint, so a run killed at any moment and resumed ends with the metrics of one never interrupted.
"""

from __future__ import annotations

import dataclasses
import glob
from pathlib import Path
from typing import Any

import jax
import numpy as np

from acecoder_jax.common.config import dump_yaml
from acecoder_jax.data.pair_batches import eval_batches, steps_per_epoch, train_batches
from acecoder_jax.data.pairs import BadRowReport, EncodedPairs, load_pairs
from acecoder_jax.rm.config import RMConfig
from acecoder_jax.rm.loss import METRIC_SUMS
from acecoder_jax.rm.model_setup import (
    build_reward_model,
    model_config_for,
    model_identity,
    tokenizer_dir_for,
)
from acecoder_jax.rm.step import BATCH_KEYS, bradley_terry_loss_sums
from acecoder_jax.sharding import make_mesh
from acecoder_jax.train.batch import batch_axis_size, batch_sharding, put_batch
from acecoder_jax.train.batch_source import GrainSource, HostBatch
from acecoder_jax.train.checkpoint import check_latest_compatible
from acecoder_jax.train.evaluate import eval_means, eval_sums
from acecoder_jax.train.loop import LoopSettings, train_loop
from acecoder_jax.train.optimizer import adamw_for, warmup_cosine
from acecoder_jax.train.progress import ProgressLine
from acecoder_jax.train.state import init_train_state, param_signature, shardings_of, split_model
from acecoder_jax.train.step import make_eval_step, make_train_step


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
    mesh = make_mesh(cfg.mesh)
    micro = cfg.train.micro_batch_size or cfg.train.batch_size
    _check_batches(cfg, micro, batch_axis_size(mesh))
    messages = ProgressLine(0, enabled=cfg.log.progress and lead)

    # ---------------------------------------------------------------- data
    data = load_run_data(cfg, run_dir)
    for split, report in data.skipped.items():
        if report.total:
            messages.message(
                f"{split}: skipped {report.total} bad rows {dict(report.counts)}; e.g. {report.examples[0]}"
            )
    if len(data.train) < cfg.train.batch_size:
        raise RMConfigError(
            f"{cfg.data.train}: {len(data.train)} usable pairs, "
            f"fewer than one batch of {cfg.train.batch_size}"
        )
    total_steps = cfg.train.steps or steps_per_epoch(len(data.train), cfg.train.batch_size)

    # ---------------------------------------------------------------- model + optimizer
    data_plan = {"seed": cfg.seed, "batch_size": cfg.train.batch_size, "train_pairs": len(data.train)}
    # A different model or data order fails here, before any weights are built.
    identity = model_identity(model_config_for(cfg.model, dtype=cfg.dtype, remat=cfg.train.remat))
    check_latest_compatible(
        run_dir / "checkpoints", {"model_config": identity, "data_plan": data_plan}, run_dir
    )
    with jax.set_mesh(mesh):
        model = build_reward_model(
            cfg.model,
            dtype=cfg.dtype,
            remat=cfg.train.remat,
            seed=cfg.seed,
            mesh=mesh,
            scan_unroll=cfg.train.scan_unroll,
        )
    model_config = model.config
    graphdef, params, rest = split_model(model)
    del model
    schedule = warmup_cosine(cfg.train.lr, total_steps, cfg.train.warmup_ratio)
    tx = adamw_for(cfg.train, schedule)
    state = init_train_state(params, tx, cfg.seed)
    del params
    meta = {
        "trainer": "train-rm",  # what wrote the checkpoint (train/run_kind.py: export-hf reads it)
        "model_config": model_identity(model_config),
        "param_signature": param_signature(state["params"]),
        "model": cfg.model,
        "data_plan": data_plan,
    }
    loss_sums = bradley_terry_loss_sums(
        margin=cfg.train.margin, center_rewards_coef=cfg.train.center_rewards_coef
    )
    sharding = batch_sharding(mesh)
    train_step = make_train_step(
        graphdef,
        tx,
        schedule,
        loss_sums,
        mesh=mesh,
        state_shardings=shardings_of(state),
        rest_shardings=shardings_of(rest),
        batch_shardings=sharding,
        micro_batches=cfg.train.batch_size // micro,
    )
    eval_step = make_eval_step(
        graphdef,
        loss_sums,
        mesh=mesh,
        param_shardings=shardings_of(state["params"]),
        rest_shardings=shardings_of(rest),
        batch_shardings=sharding,
    )

    def to_mesh(rows: HostBatch) -> dict[str, jax.Array]:
        return put_batch(mesh, {k: rows[k] for k in BATCH_KEYS}, sharding)

    # ---------------------------------------------------------------- data source + eval
    source = GrainSource(
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
        ),
        host_metrics=lambda rows: {"seq_len": rows["chosen_ids"].shape[1]},
    )

    def evaluate(state: dict[str, Any], step: int) -> dict[str, Any] | None:
        if data.eval is None:
            return None
        batches = eval_batches(
            data.eval,
            batch_size=cfg.eval.batch_size or cfg.train.batch_size,
            max_length=cfg.data.max_length,
            pad_id=data.pad_id,
            pad_multiple=cfg.data.pad_multiple,
            process_index=jax.process_index(),
            process_count=jax.process_count(),
        )
        sums = eval_sums(eval_step, state["params"], rest, batches, to_mesh)
        return eval_means(sums, METRIC_SUMS) | {"pairs": int(sums["weight"])}

    from acecoder_jax.models import flops_per_token

    # The reward model has no lm_head: take that matmul (6 FLOPs per weight and token) out of the LM count.
    head_flops = 6 * model_config.hidden_size * model_config.vocab_size

    # ---------------------------------------------------------------- the loop
    if lead:
        dump_yaml(cfg, run_dir / "config.yaml")
    settings = LoopSettings.from_sections(
        run_dir=run_dir,
        total_steps=total_steps,
        checkpoint=cfg.checkpoint,
        log=cfg.log,
        eval_every=cfg.eval.every,
        progress_keys=("loss", "accuracy"),
        plot_keys=("loss", "accuracy", "margin", "lr", "grad_norm"),
        eval_keys=("loss", "accuracy", "margin"),
        peak_flops_per_device=cfg.train.peak_flops_per_device,
    )
    return train_loop(
        state=state,
        rest=rest,
        step_fn=train_step,
        source=source,
        settings=settings,
        put_batch=to_mesh,
        mesh=mesh,
        meta=meta,
        eval_fn=evaluate,
        tokens_in_batch=lambda rows: int(rows["global_tokens"]),
        flops_per_token=lambda rows: flops_per_token(model_config, rows["chosen_ids"].shape[1]) - head_flops,
        summary_extra={
            "train_pairs": len(data.train),
            "eval_pairs": len(data.eval) if data.eval is not None else 0,
            "skipped": {k: dict(v.counts) for k, v in data.skipped.items()},
        },
    )


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
