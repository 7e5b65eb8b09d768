"""`acecoder train-rl`, top to bottom: setup, prompts, policy + reference, reward, rollout source, the loop.

One rollout batch (rollout.prompts x group_size samples, drawn with the current policy) gives
prompts x group_size / train.batch_size optimizer updates through the shared train step (train/step.py) and
loop (train/loop.py): a rerun with the same run_dir resumes from the newest checkpoint (policy, optimizer,
RNG, prompt position, buffered rollout rows), so a run killed at any moment ends with the same metrics as one
never interrupted. At the end the policy is written as a Hugging Face checkpoint (run_dir/policy) and the
tests no rollout ever passed are listed in run_dir/unsatisfied_tests.jsonl.

Multi-host (scripts/launch/): every process runs this with the same config; each samples and judges its
share of every rollout batch with its own executor (rl/source.py), so the world and SFT policy inputs must
exist before the job starts (a single-process run builds them).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx

from acecoder_jax.common.config import ConfigError, dump_yaml
from acecoder_jax.rl.config import RLConfig
from acecoder_jax.rl.policy_step import EXTREMA, PolicyLossSettings, make_policy_loss_sums, row_weights
from acecoder_jax.rl.setup import build_reward, load_questions, load_reference, make_logprobs_fn, make_sampler
from acecoder_jax.rl.source import GLOBAL_TOKENS, RolloutSource, SourceSettings, device_fields
from acecoder_jax.rl.world_inputs import ensure_rl_inputs
from acecoder_jax.sharding import make_mesh
from acecoder_jax.train.batch import batch_axis_size, batch_sharding, put_batch
from acecoder_jax.train.loop import LoopSettings, train_loop
from acecoder_jax.train.optimizer import adamw_for, warmup_cosine
from acecoder_jax.train.progress import ProgressLine
from acecoder_jax.train.state import init_train_state, param_signature, shardings_of, split_model
from acecoder_jax.train.step import make_train_step

PROGRESS_KEYS = ("reward_mean", "pass_rate", "policy_loss", "kl")
PLOT_KEYS = ("reward_mean", "pass_rate", "all_pass_frac", "kl", "entropy", "response_length", "policy_loss")


def train(cfg: RLConfig) -> dict[str, Any]:
    """Run (or resume) `cfg`; returns the summary (also in run_dir/summary.json)."""
    from transformers import AutoTokenizer

    from acecoder_jax.eval.best_of_n_run import eos_ids
    from acecoder_jax.models import save_pretrained
    from acecoder_jax.rm.model_setup import tokenizer_dir_for
    from acecoder_jax.sft.policy_model import build_policy, policy_identity
    from executor import Executor

    if jax.process_count() > 1:
        _check_inputs_exist(cfg)
    else:
        ensure_rl_inputs(cfg)
    if not cfg.data.train:
        raise ConfigError("data.train is not set: give an AceCode-format JSONL/parquet file of RL prompts")
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    lead = jax.process_index() == 0
    messages = ProgressLine(0, enabled=cfg.log.progress and lead)
    mesh = make_mesh(cfg.mesh)
    micro = cfg.train.micro_batch_size or cfg.train.batch_size
    _check_batches(cfg, micro, batch_axis_size(mesh))

    # ---------------------------------------------------------------- prompts
    tokenizer_dir = tokenizer_dir_for(cfg.policy.model, cfg.policy.tokenizer)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    questions, skipped = load_questions(
        cfg.data.train,
        tokenizer,
        style=cfg.data.prompt_style,
        max_prompt_tokens=cfg.data.max_prompt_tokens,
        on_bad_row=cfg.data.on_bad_row,
    )
    if skipped:
        messages.message(f"{cfg.data.train}: skipped {len(skipped)} rows; e.g. {skipped[0]}")
    if not questions:
        raise ConfigError(f"{cfg.data.train}: no usable RL prompts")
    rollouts = cfg.train.rollouts or math.ceil(cfg.train.episodes * len(questions) / cfg.rollout.prompts)
    updates = cfg.rollout.prompts * cfg.rollout.group_size // cfg.train.batch_size
    total_steps = rollouts * updates

    # ---------------------------------------------------------------- policy, reference, optimizer
    with jax.set_mesh(mesh):
        model = build_policy(
            cfg.policy.model,
            dtype=cfg.policy.dtype,
            remat=cfg.train.remat,
            seed=cfg.seed,
            mesh=mesh,
            scan_unroll=cfg.train.scan_unroll,
        )
    model_config = model.config
    eos = eos_ids(tokenizer, model_config)
    graphdef, params, rest = split_model(model)
    del model
    schedule = warmup_cosine(cfg.train.lr, total_steps, cfg.train.warmup_ratio, cfg.train.min_lr_ratio)
    tx = adamw_for(cfg.train, schedule)
    state = init_train_state(params, tx, cfg.seed)
    del params
    loss = cfg.loss
    settings = PolicyLossSettings(
        clip_low=loss.clip_low,
        clip_high=loss.clip_high,
        dual_clip=loss.dual_clip,
        aggregation=loss.aggregation,
        kl_loss_coef=loss.kl_loss_coef,
        kl_loss_estimator=loss.kl_loss_estimator,
        entropy_coef=loss.entropy_coef,
        temperature=cfg.rollout.temperature,
        logprob_chunk=loss.logprob_chunk,
    )
    sharding = batch_sharding(mesh)
    train_step = make_train_step(
        graphdef,
        tx,
        schedule,
        make_policy_loss_sums(settings),
        mesh=mesh,
        state_shardings=shardings_of(state),
        rest_shardings=shardings_of(rest),
        batch_shardings=sharding,
        micro_batches=cfg.train.batch_size // micro,
        extrema=EXTREMA,
    )

    def to_mesh(rows: dict[str, np.ndarray]) -> dict[str, jax.Array]:
        return put_batch(mesh, device_fields(rows), sharding)

    ref_logprobs = None
    if loss.kl_coef or loss.kl_loss_coef:
        with jax.set_mesh(mesh):
            reference = load_reference(
                cfg.policy.model,
                dtype=cfg.policy.ref_dtype,
                seed=cfg.seed,
                mesh=mesh,
                scan_unroll=cfg.train.scan_unroll,
            )
        ref_logprobs = make_logprobs_fn(
            reference,
            temperature=cfg.rollout.temperature,
            chunk=loss.logprob_chunk,
            rows=cfg.train.batch_size // jax.process_count(),
            put=to_mesh,
        )

    # ---------------------------------------------------------------- reward + rollout source
    executor = Executor(
        workers=cfg.reward.workers or None, timeout_s=cfg.reward.timeout_s, memory_mb=cfg.reward.memory_mb
    )
    executor.start()
    reward = build_reward(cfg, executor, cfg.rollout.group_size, rm_scores=_rm_scores(cfg, mesh))
    prompt_width = max(len(q.prompt.token_ids) for q in questions)
    source = RolloutSource(
        questions,
        SourceSettings(
            prompts=cfg.rollout.prompts,
            group_size=cfg.rollout.group_size,
            train_batch=cfg.train.batch_size,
            prompt_width=prompt_width,
            max_new_tokens=cfg.rollout.max_new_tokens,
            pad_id=int(model_config.pad_token_id or 0),
            seed=cfg.seed,
            estimator=loss.estimator,
            kl_coef=loss.kl_coef,
            kl_estimator=loss.kl_estimator,
            gamma=loss.gamma,
            chunk_prompts=cfg.rollout.chunk_prompts,
            truncation=cfg.rollout.truncation,
            overlong_buffer=cfg.rollout.overlong_buffer,
            overlong_penalty=cfg.rollout.overlong_penalty,
            dynamic_filter=cfg.rollout.dynamic_filter,
            max_extra_prompts=cfg.rollout.max_extra_prompts,
            shuffle=cfg.data.shuffle,
            row_weight=lambda mask: row_weights(mask, loss.aggregation),
        ),
        sample=make_sampler(
            graphdef,
            rest,
            max_new_tokens=cfg.rollout.max_new_tokens,
            temperature=cfg.rollout.temperature,
            top_p=cfg.rollout.top_p,
            eos_ids=eos,
            mesh=mesh,
        ),
        decode=lambda ids: tokenizer.decode(ids, skip_special_tokens=True),
        reward=reward,
        ref_logprobs=ref_logprobs,
        buffer_dir=run_dir / "rollouts",
    )

    # ---------------------------------------------------------------- held-out greedy pass@1
    heldout = _heldout_eval(cfg, tokenizer, executor, eos, graphdef, rest, mesh)

    def evaluate(state: dict[str, Any], step: int) -> dict[str, Any] | None:
        return heldout(state["params"]) if heldout is not None else None

    def finish(state: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
        out = run_dir / "policy"
        policy = nnx.merge(graphdef, state["params"], rest)
        save_pretrained(policy, out, tokenizer_dir=tokenizer_dir)  # every process joins the gathers
        if lead:
            listed = source.write_unsatisfied(run_dir / "unsatisfied_tests.jsonl")
            messages.message(f"policy -> {out}; {listed} tests no rollout passed -> unsatisfied_tests.jsonl")
        return {"policy_dir": str(out)}

    initial = None
    if heldout is not None and not any((run_dir / "checkpoints").glob("*")):
        initial = heldout(state["params"])
        messages.message(f"held-out before RL: {_shown(initial)}")
    meta = {
        "trainer": "train-rl",  # what wrote the checkpoint (train/run_kind.py: export-hf reads it)
        "kind": "causal_lm",
        "model_config": policy_identity(model_config),
        "param_signature": param_signature(state["params"]),
        "model": cfg.policy.model,
        "data_plan": {
            "seed": cfg.seed,
            "prompts": len(questions),
            "rollout_prompts": cfg.rollout.prompts,
            "group_size": cfg.rollout.group_size,
            "batch_size": cfg.train.batch_size,
        },
    }
    if lead:
        dump_yaml(cfg, run_dir / "config.yaml")
    loop = LoopSettings.from_sections(
        run_dir=run_dir,
        total_steps=total_steps,
        checkpoint=cfg.checkpoint,
        log=cfg.log,
        eval_every=cfg.eval.every,
        progress_keys=PROGRESS_KEYS,
        plot_keys=PLOT_KEYS,
        eval_keys=("pass_at_1", "pass_rate"),
    )
    try:
        summary = train_loop(
            state=state,
            rest=rest,
            step_fn=train_step,
            source=source,
            settings=loop,
            put_batch=to_mesh,
            mesh=mesh,
            meta=meta,
            eval_fn=evaluate if heldout is not None else None,
            tokens_in_batch=lambda rows: int(rows[GLOBAL_TOKENS]),
            finish_fn=finish,
            summary_extra={"initial_eval": initial, "rollouts": rollouts, "updates_per_rollout": updates},
        )
    finally:
        close = getattr(reward, "close", None)
        if close is not None:
            close()
        executor.close()
    return summary


def _check_inputs_exist(cfg: RLConfig) -> None:
    """Multi-host jobs do not build inputs (every process would): name what is missing and how to build it."""
    missing = [
        f"{name} {path}"
        for name, path, wanted in (
            ("world.dir", cfg.world.dir, bool(cfg.world.dir)),
            ("policy.model", cfg.policy.model, bool(cfg.world.sft_config)),
        )
        if wanted and not Path(path).is_dir()
    ]
    if missing:
        raise ConfigError(
            f"{', '.join(missing)} missing: a multi-host job does not build its inputs (every process "
            "would); build them once in one process first: `python -m acecoder_jax.rl.world_inputs CONFIG`"
        )


def _check_batches(cfg: RLConfig, micro: int, data_parallel: int) -> None:
    rows = cfg.rollout.prompts * cfg.rollout.group_size
    problems = []
    processes = jax.process_count()
    if cfg.rollout.prompts % processes or cfg.train.batch_size % processes:
        problems.append(
            f"rollout.prompts {cfg.rollout.prompts} and train.batch_size {cfg.train.batch_size} must be "
            f"multiples of the process count {processes} (each process samples and feeds its share)"
        )
    if rows % cfg.train.batch_size:
        problems.append(
            f"rollout rows {cfg.rollout.prompts} x {cfg.rollout.group_size} = {rows} must be a multiple of "
            f"train.batch_size {cfg.train.batch_size}"
        )
    if cfg.train.batch_size % micro:
        problems.append(f"train.batch_size {cfg.train.batch_size} is not a multiple of micro-batch {micro}")
    if micro % data_parallel:
        problems.append(f"micro-batch {micro} is not a multiple of the data-parallel size {data_parallel}")
    if problems:
        raise ConfigError("; ".join(problems))


def _rm_scores(cfg: RLConfig, mesh: Any) -> Any:
    """The reward model's scorer for reward kinds that need one (None for the rule reward)."""
    if cfg.reward.kind == "rule":
        return None
    if not cfg.reward.rm:
        raise ConfigError(f"reward.kind={cfg.reward.kind} needs reward.rm (an AceCodeRM checkpoint dir)")
    from acecoder_jax.rl.rm_scores import make_rm_scores

    return make_rm_scores(cfg.reward.rm, mesh=mesh, dtype=cfg.policy.ref_dtype)


def _heldout_eval(
    cfg: RLConfig, tokenizer: Any, executor: Any, eos: list[int], graphdef: Any, rest: Any, mesh: Any
) -> Any:
    """params -> held-out greedy {pass_at_1, pass_rate} (None without data.heldout)."""
    if not cfg.data.heldout:
        return None
    from acecoder_jax.rl.rewards import RuleReward
    from acecoder_jax.sft.pass_rate import Sampling, policy_pass_rates, read_questions

    questions = read_questions(cfg.data.heldout, tokenizer, limit=cfg.eval.max_problems)
    sampling = Sampling(max_new_tokens=cfg.rollout.max_new_tokens, eos_ids=tuple(eos), greedy=True, n=0)

    def evaluate(params: Any) -> dict[str, float]:
        reward = RuleReward(executor, mode="pass_rate", deadline_s=cfg.reward.deadline_s)
        try:
            model = nnx.merge(graphdef, params, rest)
            result = policy_pass_rates(model, tokenizer, questions, sampling, reward, mesh=mesh)
        finally:
            reward.close()
        return {**result["greedy"], "questions": float(result["questions"])}

    return evaluate


def _shown(row: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in row.items())
