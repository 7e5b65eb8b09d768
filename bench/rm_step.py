"""One reward-model train step (forward, backward, clip, AdamW) on CPU: acecoder_jax vs transformers + torch.

Same model (a small Qwen2: Qwen2ForCausalLM backbone + Linear(hidden, 1) head at the last real token), same
batch (8 pairs of 256 tokens, chosen and rejected in one forward), same Bradley-Terry loss, same AdamW
settings,
float32 on both sides. One run: each side is warmed up (jit compile / first-call allocation), then the median
of a few timed steps is printed with the ratio.

    .venv/bin/python bench/rm_step.py

On a GPU host (bench/gpu_suite.sh, JAX_PLATFORMS=cuda) `--preset qwen2.5-coder-1.5b --dtype bfloat16 --pairs 8
--seq 1024` also prints the MFU (fp32 master weights, bf16 compute on both sides: torch under autocast on
CUDA when torch sees it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import numpy as np
import torch

from acecoder_jax.models import ModelConfig, flops_per_token, init_model
from acecoder_jax.rm.step import bradley_terry_loss_sums
from acecoder_jax.sharding import MeshConfig, make_mesh
from acecoder_jax.train.batch import batch_sharding, put_batch
from acecoder_jax.train.optimizer import adamw, warmup_cosine
from acecoder_jax.train.state import init_train_state, shardings_of, split_model
from acecoder_jax.train.step import make_train_step

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root, for bench.model_step
from bench.model_step import PEAK_BF16

PAIRS, SEQ, TIMED = 8, 256, 5
CONFIG = ModelConfig(
    vocab_size=151936,
    hidden_size=512,
    intermediate_size=1376,
    num_layers=4,
    num_heads=8,
    num_kv_heads=2,
    head_dim=64,
    tie_word_embeddings=True,
    max_position_embeddings=4096,
)
LR, CLIP = 1e-5, 1.0


def make_batch(
    seed: int = 0, pairs: int = PAIRS, seq: int = SEQ, vocab: int = 151643
) -> dict[str, np.ndarray]:
    """Random token pairs with right padding of varied lengths."""
    rng = np.random.default_rng(seed)
    batch = {}
    for side in ("chosen", "rejected"):
        ids = rng.integers(0, min(vocab, 151643), size=(pairs, seq), dtype=np.int32)
        lengths = rng.integers(seq // 2, seq + 1, size=pairs)
        mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int32)
        batch[f"{side}_ids"], batch[f"{side}_mask"] = ids * mask, mask
    batch["weight"] = np.ones(pairs, np.float32)
    return batch


def jax_step_seconds(
    batch: dict[str, np.ndarray], config: ModelConfig = CONFIG, timed: int = TIMED
) -> tuple[float, float]:
    """(median seconds per step, first loss) for acecoder_jax's jitted train step on one device."""
    mesh = make_mesh(MeshConfig(data=1, fsdp=1, tensor=1), devices=jax.devices()[:1])
    with jax.set_mesh(mesh):
        model = init_model(config, kind="reward", seed=0, mesh=mesh)
    graphdef, params, rest = split_model(model)
    schedule = warmup_cosine(LR, 1000, 0.0)
    tx = adamw(schedule, grad_clip=CLIP)
    state = init_train_state(params, tx, 0)
    step = make_train_step(
        graphdef,
        tx,
        schedule,
        bradley_terry_loss_sums(),
        mesh=mesh,
        state_shardings=shardings_of(state),
        rest_shardings=shardings_of(rest),
        batch_shardings=batch_sharding(mesh),
        micro_batches=1,
    )
    times, first = [], None
    with jax.set_mesh(mesh):
        for i in range(timed + 1):
            device_batch = put_batch(mesh, batch)
            start = time.perf_counter()
            state, metrics = step(state, rest, device_batch)
            loss = float(metrics["loss"])  # waits for the step
            if i:
                times.append(time.perf_counter() - start)
            first = loss if first is None else first
    return statistics.median(times), first


def torch_step_seconds(
    batch: dict[str, np.ndarray], config: ModelConfig = CONFIG, timed: int = TIMED
) -> tuple[float, float]:
    """(median seconds per step, first loss) for transformers Qwen2 + Linear head + torch AdamW.

    On CUDA (when torch sees it) the model is built there; a bf16 `config.dtype` runs under autocast."""
    from transformers import Qwen2Config, Qwen2Model

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    hf = Qwen2Config(**config.to_hf_config(torch_dtype="float32"))
    with device:
        backbone = Qwen2Model(hf).float().train()
        head = torch.nn.Linear(config.hidden_size, 1)
    params = list(backbone.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    ids = torch.from_numpy(np.concatenate([batch["chosen_ids"], batch["rejected_ids"]])).long().to(device)
    mask = torch.from_numpy(np.concatenate([batch["chosen_mask"], batch["rejected_mask"]])).long().to(device)
    last = mask.sum(1) - 1
    pairs = len(ids) // 2
    autocast = torch.autocast(device.type, torch.bfloat16, enabled=config.dtype == "bfloat16")
    times, first = [], None
    for i in range(timed + 1):
        start = time.perf_counter()
        with autocast:
            hidden = backbone(input_ids=ids, attention_mask=mask).last_hidden_state
            rewards = head(hidden[torch.arange(len(ids), device=device), last]).squeeze(-1).float()
        loss = -torch.nn.functional.logsigmoid(rewards[:pairs] - rewards[pairs:]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, CLIP)
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - start)
        first = float(loss.detach()) if first is None else first
    return statistics.median(times), first


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--preset", help="a ModelConfig preset (e.g. qwen2.5-coder-1.5b) instead of the small one"
    )
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"), help="compute dtype")
    parser.add_argument("--remat", action="store_true", help="rematerialise each layer (jax side)")
    parser.add_argument("--pairs", type=int, default=PAIRS)
    parser.add_argument("--seq", type=int, default=SEQ)
    parser.add_argument("--steps", type=int, default=TIMED, help="timed steps after one warm-up step")
    parser.add_argument("--skip-torch", action="store_true", help="time acecoder_jax alone")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    return parser.parse_args()


def main() -> None:
    """Run both sides once and print the numbers and the ratio (and the MFU off CPU)."""
    args = parse_args()
    base = ModelConfig.preset(args.preset) if args.preset else CONFIG
    config = base.replace(dtype=args.dtype, param_dtype="float32", remat=args.remat)
    batch = make_batch(pairs=args.pairs, seq=args.seq, vocab=config.vocab_size)
    tokens = 2 * args.pairs * args.seq
    numerics = "fp32" if args.dtype == "float32" else f"fp32 weights, {args.dtype} compute"
    print(
        f"config: {args.preset + ' ' if args.preset else ''}Qwen2 hidden {config.hidden_size}, "
        f"{config.num_layers} layers, vocab {config.vocab_size}; "
        f"{args.pairs} pairs x {args.seq} tokens (chosen+rejected in one forward), {numerics}, "
        f"AdamW, clip {CLIP}"
    )
    device = jax.devices()[0]
    torch_on = "cuda" if torch.cuda.is_available() else f"cpu, {torch.get_num_threads()} threads"
    print(f"torch on {torch_on}; jax devices {jax.devices()[:1]} ({device.device_kind})")
    jax_s, jax_loss = jax_step_seconds(batch, config, args.steps)
    sides = [("acecoder_jax", jax_s, jax_loss)]
    if not args.skip_torch:
        torch_s, torch_loss = torch_step_seconds(batch, config, args.steps)
        sides.append(("transformers + torch", torch_s, torch_loss))
    # model FLOPs: the backbone (6N + attention per token) and the hidden x 1 reward head, i.e. a "vocab" of 1
    flops = flops_per_token(config.replace(vocab_size=1), args.seq) * tokens
    peak = next((v for k, v in PEAK_BF16.items() if k in device.device_kind), None)
    numbers = {"tokens_per_step": tokens, "model_tflop_per_step": flops / 1e12}
    for name, seconds, loss in sides:
        line = (
            f"{name:<21}: {seconds * 1000:8.1f} ms/step {tokens / seconds:10,.0f} tokens/s "
            f"(first loss {loss:.4f})"
        )
        key = "jax" if name == "acecoder_jax" else "torch"
        numbers[f"{key}_ms"], numbers[f"{key}_tokens_per_s"] = seconds * 1000, tokens / seconds
        if device.platform != "cpu" and peak:
            numbers[f"{key}_mfu"] = flops / seconds / peak
            line += f"  MFU {flops / seconds / peak:.1%} (of {peak / 1e12:.0f} TFLOP/s bf16 peak)"
        print(line)
    if not args.skip_torch:
        print(f"ratio (torch time / jax time): {torch_s / jax_s:.2f}x  (>1 means acecoder_jax is faster)")
        numbers["ratio"] = torch_s / jax_s
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=1))


if __name__ == "__main__":
    main()
