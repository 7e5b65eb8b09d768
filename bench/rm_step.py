"""One reward-model train step (forward, backward, clip, AdamW) on CPU: acecoder_jax vs transformers + torch.

Same model (a small Qwen2: Qwen2ForCausalLM backbone + Linear(hidden, 1) head at the last real token), same
batch (8 pairs of 256 tokens, chosen and rejected in one forward), same Bradley-Terry loss, same AdamW
settings,
float32 on both sides. One run: each side is warmed up (jit compile / first-call allocation), then the median
of a few timed steps is printed with the ratio.

    .venv/bin/python bench/rm_step.py
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import numpy as np
import torch

from acecoder_jax.models import ModelConfig, init_model
from acecoder_jax.rm.step import bradley_terry_loss_sums
from acecoder_jax.sharding import MeshConfig, make_mesh
from acecoder_jax.train.batch import batch_sharding, put_batch
from acecoder_jax.train.optimizer import adamw, warmup_cosine
from acecoder_jax.train.state import init_train_state, shardings_of, split_model
from acecoder_jax.train.step import make_train_step

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


def make_batch(seed: int = 0) -> dict[str, np.ndarray]:
    """Random token pairs with right padding of varied lengths."""
    rng = np.random.default_rng(seed)
    batch = {}
    for side in ("chosen", "rejected"):
        ids = rng.integers(0, 151643, size=(PAIRS, SEQ), dtype=np.int32)
        lengths = rng.integers(SEQ // 2, SEQ + 1, size=PAIRS)
        mask = (np.arange(SEQ)[None, :] < lengths[:, None]).astype(np.int32)
        batch[f"{side}_ids"], batch[f"{side}_mask"] = ids * mask, mask
    batch["weight"] = np.ones(PAIRS, np.float32)
    return batch


def jax_step_seconds(batch: dict[str, np.ndarray]) -> tuple[float, float]:
    """(median seconds per step, first loss) for acecoder_jax's jitted train step on one CPU device."""
    mesh = make_mesh(MeshConfig(data=1, fsdp=1, tensor=1), devices=jax.devices()[:1])
    with jax.set_mesh(mesh):
        model = init_model(CONFIG, kind="reward", seed=0, mesh=mesh)
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
        for i in range(TIMED + 1):
            device_batch = put_batch(mesh, batch)
            start = time.perf_counter()
            state, metrics = step(state, rest, device_batch)
            loss = float(metrics["loss"])  # waits for the step
            if i:
                times.append(time.perf_counter() - start)
            first = loss if first is None else first
    return statistics.median(times), first


def torch_step_seconds(batch: dict[str, np.ndarray]) -> tuple[float, float]:
    """(median seconds per step, first loss) for transformers Qwen2 + Linear head + torch AdamW."""
    from transformers import Qwen2Config, Qwen2Model

    torch.manual_seed(0)
    hf = Qwen2Config(**CONFIG.to_hf_config(torch_dtype="float32"))
    backbone = Qwen2Model(hf).float().train()
    head = torch.nn.Linear(CONFIG.hidden_size, 1)
    params = list(backbone.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    ids = torch.from_numpy(np.concatenate([batch["chosen_ids"], batch["rejected_ids"]])).long()
    mask = torch.from_numpy(np.concatenate([batch["chosen_mask"], batch["rejected_mask"]])).long()
    last = mask.sum(1) - 1
    times, first = [], None
    for i in range(TIMED + 1):
        start = time.perf_counter()
        hidden = backbone(input_ids=ids, attention_mask=mask).last_hidden_state
        rewards = head(hidden[torch.arange(len(ids)), last]).squeeze(-1)
        loss = -torch.nn.functional.logsigmoid(rewards[:PAIRS] - rewards[PAIRS:]).mean()
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
    batch = make_batch()
    tokens = 2 * PAIRS * SEQ
    print(
        f"config: Qwen2 hidden {CONFIG.hidden_size}, {CONFIG.num_layers} layers, vocab {CONFIG.vocab_size}; "
        f"{PAIRS} pairs x {SEQ} tokens (chosen+rejected in one forward), fp32, AdamW, clip {CLIP}"
    )
    print(f"cpu threads: torch {torch.get_num_threads()}, jax devices {jax.devices()[:1]}")
    jax_s, jax_loss = jax_step_seconds(batch)
    torch_s, torch_loss = torch_step_seconds(batch)
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
