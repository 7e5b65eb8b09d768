"""One SFT train step (forward, backward, clip, AdamW) on CPU: acecoder_jax vs transformers + torch.

Same model (a small Qwen2: 4 layers, hidden 512, the real 151,936-id vocabulary, tied embeddings), same batch
(8 sequences of 512 tokens, right-padded to varied lengths, the loss on the second half of each row's real
tokens as on an assistant answer), same masked token-mean cross-entropy, same AdamW settings, float32 on
both sides. acecoder_jax computes the logits `--chunk` positions at a time (train.logprob_chunk); transformers
computes them whole (Qwen2ForCausalLM with labels = -100 off the mask). One run: each side is warmed up (jit
compile / first-call allocation), then the median of a few timed steps is printed with the ratio.

    .venv/bin/python bench/sft_step.py [--chunk 128]
    # the policy world's step (configs/sft/world_cpu.yaml: 32 rows, chats padded to 224, logits whole):
    .venv/bin/python bench/sft_step.py --model configs/model/world-tiny.yaml --rows 32 --seq 224 --chunk 256
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import numpy as np
import torch

from acecoder_jax.models import ModelConfig, init_model
from acecoder_jax.models.config import load_model_config
from acecoder_jax.sft.loss import BATCH_KEYS, row_weights, sft_loss_sums
from acecoder_jax.sharding import MeshConfig, make_mesh
from acecoder_jax.train.batch import batch_sharding, put_batch
from acecoder_jax.train.optimizer import adamw, warmup_cosine
from acecoder_jax.train.state import init_train_state, shardings_of, split_model
from acecoder_jax.train.step import make_train_step

TIMED = 3
DEFAULT_CONFIG = ModelConfig(
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


def make_batch(config: ModelConfig, rows: int, seq: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random right-padded rows; the loss mask covers the second half of each row's real tokens."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, min(config.vocab_size, 151643), size=(rows, seq), dtype=np.int32)
    lengths = rng.integers(seq // 2, seq + 1, size=rows)
    positions = np.arange(seq)[None, :]
    attention = (positions < lengths[:, None]).astype(np.int32)
    loss_mask = (attention * (positions >= lengths[:, None] // 2)).astype(np.int32)
    batch = {"input_ids": ids * attention, "attention_mask": attention, "loss_mask": loss_mask}
    return batch | {"weight": row_weights(loss_mask)}


def jax_step_seconds(config: ModelConfig, batch: dict[str, np.ndarray], chunk: int) -> tuple[float, float]:
    """(median seconds per step, first loss) for acecoder_jax's shared train step with the SFT loss."""
    mesh = make_mesh(MeshConfig(data=1, fsdp=1, tensor=1), devices=jax.devices()[:1])
    with jax.set_mesh(mesh):
        model = init_model(config, kind="causal_lm", seed=0, mesh=mesh)
    graphdef, params, rest = split_model(model)
    schedule = warmup_cosine(LR, 1000, 0.0)
    tx = adamw(schedule, grad_clip=CLIP)
    state = init_train_state(params, tx, 0)
    sharding = batch_sharding(mesh)
    step = make_train_step(
        graphdef,
        tx,
        schedule,
        sft_loss_sums(chunk),
        mesh=mesh,
        state_shardings=shardings_of(state),
        rest_shardings=shardings_of(rest),
        batch_shardings=sharding,
        micro_batches=1,
    )
    times, first = [], None
    with jax.set_mesh(mesh):
        for i in range(TIMED + 1):
            device_batch = put_batch(mesh, {k: batch[k] for k in BATCH_KEYS}, sharding)
            start = time.perf_counter()
            state, metrics = step(state, rest, device_batch)
            loss = float(metrics["loss"])  # waits for the step
            if i:
                times.append(time.perf_counter() - start)
            first = loss if first is None else first
    return statistics.median(times), first


def torch_step_seconds(config: ModelConfig, batch: dict[str, np.ndarray]) -> tuple[float, float]:
    """(median seconds per step, first loss) for transformers Qwen2ForCausalLM + torch AdamW."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    hf = Qwen2Config(**config.to_hf_config(torch_dtype="float32"))
    model = Qwen2ForCausalLM(hf).float().train()
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    ids = torch.from_numpy(batch["input_ids"]).long()
    mask = torch.from_numpy(batch["attention_mask"]).long()
    labels = torch.where(torch.from_numpy(batch["loss_mask"]).bool(), ids, torch.full_like(ids, -100))
    times, first = [], None
    for i in range(TIMED + 1):
        start = time.perf_counter()
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss  # token mean over the mask
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, CLIP)
        opt.step()
        if i:
            times.append(time.perf_counter() - start)
        first = float(loss.detach()) if first is None else first
    return statistics.median(times), first


def main() -> None:
    """Run both sides once and print the numbers and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk", type=int, default=128, help="acecoder_jax positions per logits chunk")
    parser.add_argument("--model", help="a model preset/YAML (default: 4 layers, hidden 512, Qwen2.5 vocab)")
    parser.add_argument("--scan-unroll", type=int, default=None, help="layers per layer-scan iteration (jax)")
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--seq", type=int, default=512)
    args = parser.parse_args()
    config = load_model_config(args.model) if args.model else DEFAULT_CONFIG
    config = config.replace(dtype="float32", param_dtype="float32")
    if args.scan_unroll:
        config = config.replace(scan_unroll=args.scan_unroll)
    batch = make_batch(config, args.rows, args.seq)
    tokens = int(batch["attention_mask"].sum())
    print(
        f"config: Qwen2 hidden {config.hidden_size}, {config.num_layers} layers, vocab {config.vocab_size}, "
        f"scan_unroll {config.scan_unroll}; {args.rows} rows x {args.seq} tokens ({tokens} real, "
        f"{int(batch['loss_mask'].sum())} trained), fp32, AdamW, "
        f"clip {CLIP}; logits chunk {args.chunk}"
    )
    print(f"cpu threads: torch {torch.get_num_threads()}, jax devices {jax.devices()[:1]}")
    jax_s, jax_loss = jax_step_seconds(config, batch, args.chunk)
    torch_s, torch_loss = torch_step_seconds(config, batch)
    for name, seconds, loss in (
        ("acecoder_jax", jax_s, jax_loss),
        ("transformers + torch", torch_s, torch_loss),
    ):
        print(
            f"{name:<21}: {seconds * 1000:8.1f} ms/step {tokens / seconds:10,.0f} tokens/s "
            f"(first loss {loss:.4f})"
        )
    print(f"ratio (torch time / jax time): {torch_s / jax_s:.2f}x  (>1 means acecoder_jax is faster)")


if __name__ == "__main__":
    main()
