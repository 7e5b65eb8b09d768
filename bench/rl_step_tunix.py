"""The google-tunix side of bench/rl_step.py: GRPOLearner steps on the bench's checkpoint, timed by phase.

Runs inside the tunix virtualenv that bench/rl_step.py builds (never in this project's .venv, never in the
process of the other side). Reads `settings.json` and `prompts.json` from the work dir, loads the safetensors
checkpoint with tunix's Qwen2 loader, and trains with tunix's own loop (`GRPOLearner.train` over an
`RLCluster`: actor, rollout and trainer on one 1-device mesh, the vanilla sampler, no reference: beta 0).
The phases are timed by wrapping the cluster's `generate` and `update_actor` and by the reward function
itself; a step is the time between the ends of two consecutive updates. Prints one JSON line on stdout.

    .cache/bench-tunix-venv/bin/python bench/rl_step_tunix.py WORK_DIR
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.append(str(Path(__file__).resolve().parent))  # after site-packages: bench/ shadows nothing

from rl_step import IdTokenizer, even_fraction


def main() -> None:
    """Train warmup + steps GRPO steps and print the per-phase times as JSON."""
    work = Path(sys.argv[1])
    s = json.loads((work / "settings.json").read_text())
    prompts = json.loads((work / "prompts.json").read_text())

    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    import tunix
    from flax import nnx
    from tunix.models.qwen2 import model as qwen2_model
    from tunix.models.qwen2 import params as qwen2_params
    from tunix.rl import rl_cluster as rl_cluster_lib
    from tunix.rl.grpo import grpo_learner
    from tunix.rl.rollout import base_rollout

    hf = json.loads((work / "model" / "config.json").read_text())
    config = qwen2_model.ModelConfig(
        num_layers=hf["num_hidden_layers"],
        vocab_size=hf["vocab_size"],
        embed_dim=hf["hidden_size"],
        hidden_dim=hf["intermediate_size"],
        num_heads=hf["num_attention_heads"],
        head_dim=hf["hidden_size"] // hf["num_attention_heads"],
        num_kv_heads=hf["num_key_value_heads"],
        rope_theta=int(hf.get("rope_theta") or hf.get("rope_parameters", {}).get("rope_theta", 10000)),
        norm_eps=hf["rms_norm_eps"],
        use_tied_embedding=hf["tie_word_embeddings"],
    )
    # an Auto-axes mesh, as tunix's examples build (jax.make_mesh now defaults to Explicit axes)
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]).reshape(1, 1), ("fsdp", "tp"))
    with mesh:
        model = qwen2_params.create_model_from_safe_tensors(
            str(work / "model"), config, mesh, dtype=jnp.float32
        )

    steps = s["warmup"] + s["steps"]
    optimizer = optax.chain(
        optax.clip_by_global_norm(s["grad_clip"]),
        optax.adamw(s["lr"], b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0),
    )
    cluster_config = rl_cluster_lib.ClusterConfig(
        role_to_mesh={
            rl_cluster_lib.Role.ACTOR: mesh,
            rl_cluster_lib.Role.REFERENCE: mesh,
            rl_cluster_lib.Role.ROLLOUT: mesh,
        },
        rollout_engine="vanilla",
        offload_to_cpu=False,
        training_config=rl_cluster_lib.RLTrainingConfig(
            actor_optimizer=optimizer,
            eval_every_n_steps=10**9,
            max_steps=steps,
            pbar_description=None,
        ),
        rollout_config=base_rollout.RolloutConfig(
            max_tokens_to_generate=s["new_tokens"],
            max_prompt_length=s["prompt_width"],
            kv_cache_size=s["prompt_width"] + s["new_tokens"],
            temperature=s["temperature"],
            top_p=1.0,
            top_k=None,
            eos_tokens=[s["eos_id"]],
        ),
    )
    cluster = rl_cluster_lib.RLCluster(
        actor=model,
        reference=None,
        tokenizer=IdTokenizer(s["pad_id"], s["eos_id"]),
        cluster_config=cluster_config,
    )
    algo = grpo_learner.GRPOConfig(
        num_generations=s["group_size"],
        num_iterations=1,
        beta=0.0,
        epsilon=s["clip"],
        loss_agg_mode="token-mean",
    )

    times: dict[str, list[float]] = {"generate": [], "reward": [], "update": [], "step": [], "step_cpu": []}
    generated: list[int] = []

    def reward_fn(prompts: list[str], completions: list[str], **_: object) -> list[float]:
        began = time.perf_counter()
        out = [even_fraction(c) for c in completions]
        times["reward"].append(time.perf_counter() - began)
        return out

    learner = grpo_learner.GRPOLearner(rl_cluster=cluster, algo_config=algo, reward_fns=[reward_fn])

    generate, update = cluster.generate, cluster.update_actor
    marks = [(time.perf_counter(), time.process_time())]

    def timed_generate(*args: object, **kwargs: object):
        began = time.perf_counter()
        out = generate(*args, **kwargs)
        times["generate"].append(time.perf_counter() - began)
        generated.append(sum(len(t) for t in out.tokens))
        return out

    def timed_update(*args: object, **kwargs: object):
        began = time.perf_counter()
        out = update(*args, **kwargs)
        jax.block_until_ready(nnx.state(cluster.actor_trainer.model))
        now, cpu = time.perf_counter(), time.process_time()
        times["update"].append(now - began)
        times["step"].append(now - marks[-1][0])
        times["step_cpu"].append(cpu - marks[-1][1])
        marks.append((now, cpu))
        return out

    cluster.generate, cluster.update_actor = timed_generate, timed_update
    batch = {"prompts": np.array([" ".join(map(str, p)) for p in prompts])}
    learner.train([dict(batch) for _ in range(steps)])

    warm = s["warmup"]
    medians = {k: statistics.median(v[warm:]) for k, v in times.items()}
    result = {
        "side": "tunix",
        "version": tunix.__version__,
        "jax": jax.__version__,
        "devices": [str(d) for d in jax.devices()],
        "seconds": medians,
        "first_step_s": times["step"][0],
        "per_step_s": times["step"],
        "generated_tokens": statistics.median(generated[warm:]),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
