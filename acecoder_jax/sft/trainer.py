"""`acecoder train-sft`, top to bottom: inputs, data, model + optimizer, the shared loop, outputs.

SFT supplies only its masked token cross-entropy sums (sft/loss.py), its grain batch source (sft/run_data.py)
and its config; the jitted step and the loop (resume, metrics, eval and checkpoint cadence, SIGTERM) are the
shared training core (train/). A rerun with the same run_dir resumes from the newest complete checkpoint, so a
run killed at any moment and resumed ends with the metrics of one never interrupted. At the end the policy is
written to run_dir/policy as a Hugging Face directory (with the run's tokenizer), and its pass rates on the
configured AceCode rows are measured through the executor.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jax
from flax import nnx

from acecoder_jax.common.config import dump_yaml
from acecoder_jax.data.pair_batches import steps_per_epoch
from acecoder_jax.sft.config import SFTConfig
from acecoder_jax.sft.loss import BATCH_KEYS, METRIC_SUMS, sft_loss_sums
from acecoder_jax.sft.policy_model import build_policy, policy_identity, policy_model_config
from acecoder_jax.sft.run_data import RunData, ensure_inputs, eval_stream, load_run_data, train_stream
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

POLICY_DIR = "policy"  # run_dir/policy: the trained policy as a Hugging Face checkpoint directory


class SFTConfigError(ValueError):
    """Settings that cannot work together (batch sizes vs mesh, too few rows, ...)."""


def train(cfg: SFTConfig) -> dict[str, Any]:
    """Train (or resume) a policy as configured; returns the run summary (also run_dir/summary.json)."""
    # ---------------------------------------------------------------- setup
    if not cfg.data.train:
        raise SFTConfigError(
            "data.train is not set: give a JSONL/parquet file of messages or prompt/completion rows"
        )
    ensure_inputs(cfg)
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
        raise SFTConfigError(
            f"{cfg.data.train}: {len(data.train)} usable rows, fewer than one batch of {cfg.train.batch_size}"
        )
    epoch_steps = steps_per_epoch(len(data.train), cfg.train.batch_size)
    total_steps = cfg.train.steps or max(1, math.ceil(cfg.train.epochs * epoch_steps))

    # ---------------------------------------------------------------- model + optimizer
    data_plan = {"seed": cfg.seed, "batch_size": cfg.train.batch_size, "train_rows": len(data.train)}
    # A different model, kind or data order fails here, before any weights are built.
    identity = policy_identity(policy_model_config(cfg.model, dtype=cfg.dtype, remat=cfg.train.remat))
    check_latest_compatible(
        run_dir / "checkpoints", {"model_config": identity, "data_plan": data_plan}, run_dir
    )
    with jax.set_mesh(mesh):
        model = build_policy(
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
        "trainer": "train-sft",  # what wrote the checkpoint (train/run_kind.py: export-hf reads it)
        "model_config": policy_identity(model_config),
        "param_signature": param_signature(state["params"]),
        "model": cfg.model,
        "data_plan": data_plan,
    }
    loss_sums = sft_loss_sums(cfg.train.logprob_chunk)
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
        train_stream(cfg, data, total_steps),
        host_metrics=lambda rows: {
            "seq_len": rows["input_ids"].shape[1],
            "loss_tokens": int(rows["global_loss_tokens"]),
        },
    )
    eval_batches = eval_stream(cfg, data)

    def evaluate(state: dict[str, Any], step: int) -> dict[str, Any] | None:
        if not eval_batches:
            return None
        sums = eval_sums(eval_step, state["params"], rest, eval_batches, to_mesh)
        return eval_means(sums, METRIC_SUMS) | {"loss_tokens": int(sums["weight"])}

    def finish(state: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
        from acecoder_jax.models import save_pretrained

        if not summary["finished"]:
            return {}
        out = run_dir / POLICY_DIR
        policy = nnx.merge(graphdef, state["params"], rest)
        save_pretrained(policy, out, tokenizer_dir=data.tokenizer_dir)  # every process joins the gathers
        messages.message(f"policy -> {out}")
        return {"policy_dir": str(out), "pass_rates": _pass_rates(cfg, data, policy, mesh, run_dir, messages)}

    from acecoder_jax.models import flops_per_token

    # ---------------------------------------------------------------- the loop
    if lead:
        dump_yaml(cfg, run_dir / "config.yaml")
    settings = LoopSettings(
        total_steps=total_steps,
        log_every=cfg.log.every,
        eval_every=cfg.eval.every,
        save_every=cfg.checkpoint.every,
        keep=cfg.checkpoint.keep,
        async_save=cfg.checkpoint.async_save,
        run_dir=run_dir,
        progress_keys=("loss",),
        plot_keys=("loss", "lr", "grad_norm"),
        eval_keys=("loss",),
        progress=cfg.log.progress,
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
        flops_per_token=lambda rows: flops_per_token(model_config, rows["input_ids"].shape[1]),
        finish_fn=finish,
        summary_extra={
            "train_rows": len(data.train),
            "eval_rows": len(data.eval) if data.eval is not None else 0,
            "epoch_steps": epoch_steps,
            "skipped": {k: dict(v.counts) for k, v in data.skipped.items()},
        },
    )


def _pass_rates(
    cfg: SFTConfig, data: RunData, policy: Any, mesh: Any, run_dir: Path, messages: ProgressLine
) -> dict[str, Any]:
    """Pass rates of the trained policy on eval.train / eval.heldout through the executor (pass_rate.py)."""
    splits = {name: path for name, path in (("train", cfg.eval.train), ("heldout", cfg.eval.heldout)) if path}
    if not splits or not (cfg.eval.greedy or cfg.eval.n):
        return {}
    from acecoder_jax.eval.best_of_n_run import eos_ids
    from acecoder_jax.rl.rewards import RuleReward
    from acecoder_jax.sft.pass_rate import Sampling, policy_pass_rates, read_questions
    from executor import Executor

    sampling = Sampling(
        max_new_tokens=cfg.eval.max_new_tokens,
        eos_ids=tuple(eos_ids(data.tokenizer, policy.config)),
        n=cfg.eval.n,
        temperature=cfg.eval.temperature,
        top_p=cfg.eval.top_p,
        greedy=cfg.eval.greedy,
        seed=cfg.seed,
        batch_size=cfg.eval.sample_batch,
    )
    lead = jax.process_index() == 0
    results: dict[str, Any] = {}
    with Executor(workers=cfg.eval.workers or None, timeout_s=cfg.eval.timeout_s) as executor:
        reward = RuleReward(executor, mode="pass_rate")
        try:
            for split, path in splits.items():
                every = cfg.eval.train_every if split == "train" else 1
                questions = read_questions(path, data.tokenizer, cfg.eval.limit, every=every)
                details = run_dir / f"pass_rates_{split}.jsonl" if lead else None
                results[split] = policy_pass_rates(
                    policy, data.tokenizer, questions, sampling, reward, mesh=mesh, details=details
                )
                messages.message(f"{split} pass rates: {_shown(results[split])}")
        finally:
            reward.close()
    return results


def _shown(result: dict[str, Any]) -> str:
    parts = [f"{result['questions']} questions"]
    if "greedy" in result:
        parts.append(
            "greedy pass@1 {pass_at_1:.3f} (test pass rate {pass_rate:.3f})".format(**result["greedy"])
        )
    if "sampled" in result:
        parts.append(
            "T={temperature} x{n}: pass@1 {pass_at_1:.3f}, test pass rate {pass_rate:.3f}, "
            "mixed questions {mixed:.2f}".format(**result["sampled"])
        )
    return "; ".join(parts)


def _check_batches(cfg: SFTConfig, micro: int, data_parallel: int) -> None:
    batch = cfg.train.batch_size
    if batch % micro:
        raise SFTConfigError(f"train.batch_size={batch} is not a multiple of train.micro_batch_size={micro}")
    if micro % data_parallel:
        raise SFTConfigError(
            f"train.micro_batch_size={micro} is not a multiple of the data-parallel size {data_parallel} "
            "(mesh data x fsdp)"
        )
    if batch % jax.process_count():
        raise SFTConfigError(f"train.batch_size={batch} does not split over {jax.process_count()} processes")
    eval_batch = cfg.eval.batch_size or batch
    if cfg.data.eval and eval_batch % data_parallel:
        raise SFTConfigError(
            f"eval.batch_size={eval_batch} is not a multiple of the data-parallel size {data_parallel}"
        )
