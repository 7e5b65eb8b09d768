"""Per-device memory of AceCoder's RL step for a 7B policy, from ahead-of-time compiles of our own code.

The three phases of one RL iteration are compiled on an abstract mesh (nothing is allocated) with the code the
trainer runs: the rollout prefill of `acecoder_jax.sample.generate` (its KV cache for prompt 2048 +
generation 2048, sampling from the fp32 master weights in bf16 compute), the frozen bf16 reference's chunked
log-probabilities (`rl/logprobs.py`), and the train step (`train/step.py` over `rl/policy_step.py`:
micro-batch scan, fp32 gradient accumulation, AdamW, donated state). What stays resident across phases
(AdamW moments during rollout; the reference's weights during the update) is added to each phase's own peak.

    .venv/bin/python bench/aot_memory_rl.py --devices 8    # 8xH100 (80 GiB each)
    .venv/bin/python bench/aot_memory_rl.py --devices 64   # TPU v5e-64 (16 GiB each)

The peer number is the usual back-of-envelope: 16 bytes/parameter (fp32 weights + grads + Adam) + 2 bytes
(bf16 reference) per parameter over the devices, activations and KV cache not included.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

GiB = 1024**3
LIMITS = {8: ("8xH100", 80), 64: ("TPU v5e-64", 16)}


def _device_flag(argv: list[str]) -> int:
    devices = 8
    for i, arg in enumerate(argv):
        if arg == "--devices" and i + 1 < len(argv):
            devices = int(argv[i + 1])
        elif arg.startswith("--devices="):
            devices = int(arg.split("=", 1)[1])
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={devices}"
    ).strip()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    return devices


def _peak(compiled) -> int:
    mem = compiled.memory_analysis()
    return (
        mem.argument_size_in_bytes
        + mem.output_size_in_bytes
        - mem.alias_size_in_bytes
        + mem.temp_size_in_bytes
    )


def _per_device(tree) -> int:
    """Bytes one device holds of an abstract sharded pytree."""
    import jax
    import numpy as np

    total = 0
    for leaf in jax.tree.leaves(tree):
        shard = leaf.sharding.shard_shape(leaf.shape)
        total += int(np.prod(shard)) * leaf.dtype.itemsize
    return total


def compile_phases(preset: str, devices: int, *, prompt: int, generate: int, rollout_rows: int,
                   train_rows: int, micro_rows: int, logprob_chunk: int) -> dict[str, float]:  # fmt: skip
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    from acecoder_jax.models import ModelConfig, count_params, param_shardings
    from acecoder_jax.models.init import abstract_model
    from acecoder_jax.rl.logprobs import token_logprobs
    from acecoder_jax.rl.policy_step import EXTREMA, PolicyLossSettings, make_policy_loss_sums
    from acecoder_jax.sample.generate import _prefill, _Settings
    from acecoder_jax.sharding import MeshConfig, make_mesh
    from acecoder_jax.train.batch import batch_sharding
    from acecoder_jax.train.step import make_train_step

    config = ModelConfig.preset(preset, dtype="bfloat16", param_dtype="float32", remat=True)
    mesh = make_mesh(MeshConfig(data=1, fsdp=devices, tensor=1))
    model = abstract_model(config)
    n_params = count_params(model)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    shardings = param_shardings(params, mesh)
    replicated = NamedSharding(mesh, P())

    def abstract(tree, sh):
        return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), tree, sh)

    params_abs = abstract(params, shardings)
    rest_abs = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=replicated), rest)
    tx = optax.adamw(5e-7)
    opt_abs = jax.eval_shape(tx.init, params_abs)
    opt_shardings = optax.tree_utils.tree_map_params(
        tx, lambda _, s: s, opt_abs, shardings, transform_non_params=lambda _: replicated
    )
    opt_abs = abstract(opt_abs, opt_shardings)
    ref_abs = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, jnp.bfloat16, sharding=x.sharding), params_abs
    )
    rows = batch_sharding(mesh)
    width = prompt + generate
    out: dict[str, float] = {"params_b": n_params / 1e9}
    opt_bytes, ref_bytes = _per_device(opt_abs), _per_device(ref_abs)

    with jax.set_mesh(mesh):
        # 1. rollout: prefill writes the KV cache of prompt + generation slots (decode updates it in place)
        settings = _Settings(generate, 1.0, 1.0, 0)
        full_graphdef, _ = nnx.split(nnx.merge(graphdef, params, rest))
        full_abs = nnx.merge_state(params_abs, rest_abs)
        ids = jax.ShapeDtypeStruct((rollout_rows, prompt), jnp.int32, sharding=rows)
        key = jax.eval_shape(lambda: jax.random.key(0))
        eos = jax.ShapeDtypeStruct((1,), jnp.int32)
        began = time.perf_counter()
        prefill = _prefill.lower(
            full_graphdef, full_abs, ids, ids, key, eos, settings=settings, cache_len=width, mesh=mesh
        ).compile()
        out["rollout"] = (_peak(prefill) + opt_bytes + ref_bytes) / GiB
        out["rollout_compile_s"] = time.perf_counter() - began

        # 2. the frozen bf16 reference's log-probabilities, one micro-batch of rows at a time
        ref_graphdef = graphdef

        def ref_logprobs(ref_params, rest_state, ids, mask):
            model = nnx.merge(ref_graphdef, ref_params, rest_state)
            return token_logprobs(model, ids, mask, chunk=logprob_chunk)[0]

        seq = jax.ShapeDtypeStruct((micro_rows, width), jnp.int32, sharding=rows)
        began = time.perf_counter()
        ref = jax.jit(ref_logprobs).lower(ref_abs, rest_abs, seq, seq).compile()
        state_bytes = _per_device(params_abs) + opt_bytes
        out["reference"] = (_peak(ref) + state_bytes) / GiB
        out["reference_compile_s"] = time.perf_counter() - began

        # 3. the update: train_rows rows in micro-batches of micro_rows, policy loss, AdamW
        state_abs = {
            "step": jax.ShapeDtypeStruct((), jnp.int32, sharding=replicated),
            "params": params_abs,
            "opt_state": opt_abs,
            "rng": jax.ShapeDtypeStruct((2,), jnp.uint32, sharding=replicated),
        }
        state_shardings = jax.tree.map(lambda x: x.sharding, state_abs)
        step = make_train_step(
            graphdef,
            tx,
            optax.constant_schedule(5e-7),
            make_policy_loss_sums(
                PolicyLossSettings(aggregation="seq-mean-token-mean", logprob_chunk=logprob_chunk)
            ),
            mesh=mesh,
            state_shardings=state_shardings,
            rest_shardings=jax.tree.map(lambda x: x.sharding, rest_abs),
            batch_shardings=rows,
            micro_batches=train_rows // micro_rows,
            extrema=EXTREMA,
        )
        batch = {
            "input_ids": jax.ShapeDtypeStruct((train_rows, width), jnp.int32, sharding=rows),
            "attention_mask": jax.ShapeDtypeStruct((train_rows, width), jnp.int32, sharding=rows),
            "response_mask": jax.ShapeDtypeStruct((train_rows, width), jnp.int32, sharding=rows),
            "old_logprobs": jax.ShapeDtypeStruct((train_rows, width), jnp.float32, sharding=rows),
            "advantages": jax.ShapeDtypeStruct((train_rows, width), jnp.float32, sharding=rows),
            "weight": jax.ShapeDtypeStruct((train_rows,), jnp.float32, sharding=rows),
        }
        began = time.perf_counter()
        update = step.lower(state_abs, rest_abs, batch).compile()
        out["update"] = (_peak(update) + ref_bytes) / GiB
        out["update_compile_s"] = time.perf_counter() - began
    out["envelope"] = 18 * n_params / devices / GiB
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    devices = _device_flag(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--preset", default="qwen2.5-coder-7b")
    parser.add_argument("--prompt", type=int, default=2048)  # paper: prompt_max_len 2048
    parser.add_argument("--generate", type=int, default=2048)  # paper: generate_max_len 2048
    parser.add_argument(
        "--rollout-rows",
        type=int,
        default=0,
        help="rows decoded at once (0: 8 per GPU; 2 per 16 GiB v5e chip)",
    )
    parser.add_argument("--train-rows", type=int, default=128)  # paper: train_batch_size 128
    parser.add_argument("--micro-rows", type=int, default=0, help="rows per micro-step (0: 1 per device)")
    parser.add_argument("--logprob-chunk", type=int, default=512)
    args = parser.parse_args(argv)

    import jax

    rollout_rows = args.rollout_rows or (8 if devices <= 8 else 2) * devices
    micro_rows = args.micro_rows or devices
    name, limit = LIMITS.get(devices, (f"{devices} devices", None))
    print(
        f"jax {jax.__version__}, {jax.device_count()} abstract {jax.devices()[0].platform} devices ({name}), "
        f"mesh fsdp={devices}; {args.preset}: prompt {args.prompt} + generation {args.generate}, rollout "
        f"{rollout_rows} rows at once, update {args.train_rows} rows in micro-batches of {micro_rows}"
    )
    result = compile_phases(
        args.preset,
        devices,
        prompt=args.prompt,
        generate=args.generate,
        rollout_rows=rollout_rows,
        train_rows=args.train_rows,
        micro_rows=micro_rows,
        logprob_chunk=args.logprob_chunk,
    )
    peak = max(result["rollout"], result["reference"], result["update"])
    print(
        f"  params {result['params_b']:.2f} B; per device: rollout {result['rollout']:.2f} GiB, reference "
        f"log-probs {result['reference']:.2f} GiB, update {result['update']:.2f} GiB -> peak {peak:.2f} GiB"
        + (f" of {limit} GiB: {'fits' if peak <= limit else 'DOES NOT FIT'}" if limit else "")
    )
    print(
        f"  compile s: rollout {result['rollout_compile_s']:.0f}, "
        f"reference {result['reference_compile_s']:.0f}, "
        f"update {result['update_compile_s']:.0f}; peer estimate (18 B/param / {devices} devices, no "
        f"activations or KV cache): {result['envelope']:.2f} GiB, ratio {peak / result['envelope']:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
