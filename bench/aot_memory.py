"""Per-device memory of a training step for the 7B and 32B presets, from an ahead-of-time compile.

Nothing is allocated: parameters, optimizer state and the batch are `jax.ShapeDtypeStruct`s carrying their
target `NamedSharding` on an 8-device `(data=1, fsdp=8, tensor=1)` mesh; the step (bf16 compute, fp32 master
weights, per-layer remat, next-token cross-entropy, AdamW update, donated state) is lowered and compiled and
XLA's `memory_analysis()` is printed. The peer number is the usual back-of-envelope for the same sharded
state: 16 bytes/parameter (fp32 weights + grads + Adam mu/nu) / 8 devices, activations not included.

    XLA_FLAGS=--xla_force_host_platform_device_count=8 .venv/bin/python bench/aot_memory.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

GiB = 1024**3
# (preset, sequences per step, sequence length): AceCoder's RM lengths (2048 for 7B, 1024 for 32B), one
# sequence per device per micro-step.
DEFAULT_RUNS = [("qwen2.5-coder-7b", 8, 2048), ("qwen2.5-coder-32b", 8, 1024)]


def compile_step(preset: str, batch: int, seq: int, *, remat: bool = True):
    """Lower + compile one train step on abstract inputs; returns (compiled, n_params, seconds)."""
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    from acecoder_jax.models import ModelConfig, count_params, param_shardings
    from acecoder_jax.models.init import abstract_model
    from acecoder_jax.sharding import MeshConfig, make_mesh

    config = ModelConfig.preset(preset, dtype="bfloat16", param_dtype="float32", remat=remat)
    mesh = make_mesh(MeshConfig(data=1, fsdp=8, tensor=1))
    model = abstract_model(config)
    graphdef, params = nnx.split(model)
    shardings = param_shardings(params, mesh)
    tx = optax.adamw(1e-5, weight_decay=0.0)

    def abstract(tree, sh):
        return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), tree, sh)

    params_abs = abstract(params, shardings)
    opt_abs = jax.eval_shape(tx.init, params_abs)
    # Adam moments have the params' structure and take the params' shardings; step counters are replicated.
    opt_shardings = optax.tree_utils.tree_map_params(
        tx, lambda _, s: s, opt_abs, shardings, transform_non_params=lambda _: NamedSharding(mesh, P())
    )
    opt_abs = abstract(opt_abs, opt_shardings)
    batch_sharding = NamedSharding(mesh, P(("data", "fsdp"), None))
    ids_abs = jax.ShapeDtypeStruct((batch, seq), jnp.int32, sharding=batch_sharding)

    def step(params, opt_state, ids):
        def loss_fn(p):
            logits = nnx.merge(graphdef, p)(ids, jnp.ones_like(ids))
            return optax.softmax_cross_entropy_with_integer_labels(logits[:, :-1], ids[:, 1:]).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    start = time.perf_counter()
    with jax.set_mesh(mesh):
        jitted = jax.jit(
            step,
            in_shardings=(shardings, opt_shardings, batch_sharding),
            out_shardings=(shardings, opt_shardings, NamedSharding(mesh, P())),
            donate_argnums=(0, 1),
        )
        compiled = jitted.lower(params_abs, opt_abs, ids_abs).compile()
    return compiled, count_params(model), time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", action="append", help="preset[:batch:seq]; default 7B and 32B")
    parser.add_argument("--no-remat", action="store_true")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    runs = DEFAULT_RUNS
    if args.preset:
        runs = []
        for item in args.preset:
            name, *rest = item.split(":")
            runs.append((name, int(rest[0]) if rest else 8, int(rest[1]) if len(rest) > 1 else 2048))

    import jax

    print(f"jax {jax.__version__}, {jax.device_count()} {jax.devices()[0].platform} devices, mesh fsdp=8")
    for preset, batch, seq in runs:
        compiled, n_params, seconds = compile_step(preset, batch, seq, remat=not args.no_remat)
        mem = compiled.memory_analysis()
        args_b, out_b = mem.argument_size_in_bytes, mem.output_size_in_bytes
        temp_b, alias_b = mem.temp_size_in_bytes, mem.alias_size_in_bytes
        peak = args_b + out_b - alias_b + temp_b
        envelope = 16 * n_params / 8
        print(
            f"{preset}: {n_params / 1e9:.2f}B params, batch {batch} x seq {seq}, bf16 compute, "
            f"remat={not args.no_remat}, compile {seconds:.0f} s\n"
            f"  per device: arguments {args_b / GiB:.2f} GiB, outputs {out_b / GiB:.2f} GiB "
            f"(aliased {alias_b / GiB:.2f}), temporaries {temp_b / GiB:.2f} GiB "
            f"-> peak ~{peak / GiB:.2f} GiB\n"
            f"  peer estimate (16 B/param / 8 devices, no activations): {envelope / GiB:.2f} GiB; "
            f"ratio peak/estimate {peak / envelope:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
