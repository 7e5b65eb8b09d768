"""Forward+backward step: acecoder-jax (Flax NNX, jit) vs transformers/PyTorch on the same config and weights.

Default work (CPU): Qwen2 decoder, 4 layers, hidden 256, 4 heads / 2 KV heads, MLP 1024, vocab 32768,
batch 4 x seq 512, fp32, next-token cross-entropy. Both sides run the same weights (the PyTorch model is saved
and loaded by `from_pretrained`) and their losses are printed so a reader sees they computed the same thing.

    XLA_FLAGS=--xla_force_host_platform_device_count=1 .venv/bin/python bench/model_step.py

On a GPU host (jax with CUDA) add `--preset qwen2.5-coder-0.5b --dtype bfloat16` to report the card, tokens/s
and MFU for this project alone (the PyTorch side is skipped unless torch sees a CUDA device).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# bf16 dense peak FLOP/s per card (vendor datasheets), for MFU.
PEAK_BF16 = {
    "H100": 989e12,
    "H200": 989e12,
    "A100": 312e12,
    "L4": 121e12,
    "TPU v5 lite": 197e12,
    "TPU v4": 275e12,
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--mlp", type=int, default=1024)
    parser.add_argument("--vocab", type=int, default=32768)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--preset", default=None, help="use a ModelConfig preset instead of the small config")
    parser.add_argument("--remat", action="store_true")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--skip-torch", action="store_true")
    return parser.parse_args(argv)


def hf_config(args: argparse.Namespace):
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        intermediate_size=args.mlp,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        tie_word_embeddings=False,
        rope_theta=1_000_000.0,
        max_position_embeddings=max(4096, args.seq),
    )


def time_interleaved(fns: dict[str, object], steps: int, warmup: int) -> dict[str, tuple[float, float]]:
    """Median seconds and last loss per step function, alternating them so load changes hit both alike."""
    losses = {name: 0.0 for name in fns}
    for _ in range(warmup):
        for name, fn in fns.items():
            losses[name] = fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(steps):
        for name, fn in fns.items():
            start = time.perf_counter()
            losses[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(times[name]), losses[name]) for name in fns}


def torch_step_fn(path: Path, ids):
    """A closure running one PyTorch forward+backward; returns the loss."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(os.cpu_count() or 1)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa")
    model.train()
    ids_t = torch.as_tensor(ids, dtype=torch.long)
    mask_t = torch.ones_like(ids_t)

    def step() -> float:
        model.zero_grad(set_to_none=True)
        logits = model(input_ids=ids_t, attention_mask=mask_t).logits.float()
        loss = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]), ids_t[:, 1:].reshape(-1)
        )
        loss.backward()
        return float(loss.item())

    return step


def jax_step_fn(model, ids):
    """A closure running one jitted forward+backward (compiled on first call); returns the loss."""
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    graphdef, params = nnx.split(model)
    ids_j = jnp.asarray(ids)
    mask_j = jnp.ones_like(ids_j)

    @jax.jit
    def step(params, ids, mask):
        def loss_fn(params):
            logits = nnx.merge(graphdef, params)(ids, mask)
            return optax.softmax_cross_entropy_with_integer_labels(logits[:, :-1], ids[:, 1:]).mean()

        return jax.value_and_grad(loss_fn)(params)

    def run() -> float:
        loss, grads = step(params, ids_j, mask_j)
        jax.block_until_ready(grads)
        return float(loss)

    start = time.perf_counter()
    run()
    print(f"jax compile + first step: {time.perf_counter() - start:.2f} s")
    return run


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    import jax
    import numpy as np

    from acecoder_jax.models import ModelConfig, flops_per_token, from_pretrained, init_model

    device = jax.devices()[0]
    print(f"jax {jax.__version__} on {device.platform}: {device.device_kind} x{jax.device_count()}")
    rng = np.random.default_rng(0)

    if args.preset:
        config = ModelConfig.preset(args.preset, dtype=args.dtype, remat=args.remat)
        model = init_model(config)
        path = None
    else:
        hf = hf_config(args)
        import torch
        from transformers import Qwen2ForCausalLM

        torch.manual_seed(0)
        tmp = tempfile.TemporaryDirectory()
        path = Path(tmp.name)
        Qwen2ForCausalLM(hf).save_pretrained(path)
        model = from_pretrained(path, dtype=args.dtype, remat=args.remat)
        config = model.config
    ids = rng.integers(0, config.vocab_size, (args.batch, args.seq)).astype(np.int32)
    tokens = args.batch * args.seq
    print(
        f"work: {config.num_layers} layers, hidden {config.hidden_size}, vocab {config.vocab_size}, "
        f"batch {args.batch} x seq {args.seq}, compute {config.dtype}, forward+backward"
    )

    fns = {"jax": jax_step_fn(model, ids)}
    run_torch = not args.skip_torch and path is not None and device.platform == "cpu"
    if run_torch:
        fns["torch"] = torch_step_fn(path, ids)
    results = time_interleaved(fns, args.steps, args.warmup)
    jax_s, jax_loss = results["jax"]
    flops = flops_per_token(config, args.seq) * tokens
    line = f"acecoder-jax: {jax_s * 1e3:.1f} ms/step  {tokens / jax_s:,.0f} tokens/s  loss {jax_loss:.5f}"
    peak = next((v for k, v in PEAK_BF16.items() if k in device.device_kind), None)
    if device.platform != "cpu" and peak:
        line += f"  MFU {flops / jax_s / peak:.1%} (of {peak / 1e12:.0f} TFLOP/s bf16 peak)"
    print(line)
    if run_torch:
        torch_s, torch_loss = results["torch"]
        print(
            f"transformers/PyTorch: {torch_s * 1e3:.1f} ms/step  {tokens / torch_s:,.0f} tokens/s  "
            f"loss {torch_loss:.5f}"
        )
        print(
            f"ratio (PyTorch time / acecoder-jax time): {torch_s / jax_s:.2f}x (medians of interleaved steps)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
