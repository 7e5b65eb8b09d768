"""Tokens/s of acecoder_jax's `generate` against transformers' `generate` on the same tiny model and prompts.

Both sides decode the same batch of ragged prompts greedily for exactly --new-tokens tokens (no EOS), in fp32.
The JAX side is timed after one warm-up call (compilation is reported separately: RL reuses the compiled
functions every step); transformers runs one warm-up call too, and on CPU is timed with 1 thread and with
torch's default, the faster counting as its number. Prints both numbers and the ratio.

    XLA_FLAGS=--xla_force_host_platform_device_count=1 .venv/bin/python bench/sampler.py

On a GPU host (bench/gpu_suite.sh) `--preset qwen2.5-coder-1.5b --dtype bfloat16` samples a random model of
that preset's shape with bf16 weights on both sides (transformers on CUDA when torch sees it).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    """Build the model, time both samplers, print tokens/s and the ratio."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=151936)
    parser.add_argument(
        "--preset", help="a ModelConfig preset's shape (e.g. qwen2.5-coder-1.5b) instead of --hidden/--layers"
    )
    parser.add_argument(
        "--dtype", default="float32", choices=("float32", "bfloat16"), help="weights and compute, both sides"
    )
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args()

    import jax
    import numpy as np
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from acecoder_jax.models import ModelConfig, from_pretrained
    from acecoder_jax.sample import generate

    if args.preset:
        preset = ModelConfig.preset(args.preset)
        config = Qwen2Config(**preset.to_hf_config(torch_dtype=args.dtype))
        args.hidden, args.layers, args.vocab = preset.hidden_size, preset.num_layers, preset.vocab_size
    else:
        config = Qwen2Config(
            vocab_size=args.vocab,
            hidden_size=args.hidden,
            intermediate_size=args.hidden * 11 // 4,
            num_hidden_layers=args.layers,
            num_attention_heads=8,
            num_key_value_heads=2,
            tie_word_embeddings=True,
            max_position_embeddings=4096,
        )
    torch_device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    with torch.device(torch_device):  # built where it runs: a GPU-sized model skips a slow CPU init
        reference = Qwen2ForCausalLM(config).to(getattr(torch, args.dtype)).eval()
    rng = np.random.default_rng(0)
    prompts = [
        rng.integers(100, min(args.vocab, 150_000), size=int(n)).tolist()
        for n in rng.integers(16, 96, args.batch)
    ]
    total = args.batch * args.new_tokens
    device = jax.devices()[0]
    print(
        f"model: {args.preset + ' ' if args.preset else ''}Qwen2 hidden={args.hidden} layers={args.layers} "
        f"vocab={args.vocab}, {args.dtype}; batch={args.batch}, "
        f"prompt lengths {min(map(len, prompts))}-{max(map(len, prompts))}, {args.new_tokens} new tokens; "
        f"jax device: {device.platform} ({device.device_kind}), torch threads: {torch.get_num_threads()}"
    )

    checkpoint = tempfile.TemporaryDirectory()
    reference.save_pretrained(checkpoint.name)
    model = from_pretrained(checkpoint.name, dtype=args.dtype, param_dtype=args.dtype)

    # ---- acecoder_jax
    start = time.perf_counter()
    first = generate(model, prompts, max_new_tokens=args.new_tokens)
    compile_and_run = time.perf_counter() - start
    start = time.perf_counter()
    ours = generate(model, prompts, max_new_tokens=args.new_tokens)
    ours_s = time.perf_counter() - start
    assert ours.tokens == first.tokens and all(len(t) == args.new_tokens for t in ours.tokens)

    # ---- transformers (left padding, as its batched generate expects)
    width = max(map(len, prompts))
    ids = torch.zeros((args.batch, width), dtype=torch.long, device=torch_device)
    mask = torch.zeros_like(ids)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :] = torch.tensor(prompt, device=torch_device)
        mask[row, width - len(prompt) :] = 1
    kwargs = dict(
        attention_mask=mask,
        do_sample=False,
        max_new_tokens=args.new_tokens,
        min_new_tokens=args.new_tokens,
        eos_token_id=None,
        pad_token_id=0,
    )
    # On CPU, torch's default thread count can be far slower than one thread on a busy machine: time both and
    # compare against the faster, so the peer is measured at its best.
    thread_counts = (
        [torch.get_num_threads()] if torch_device == "cuda" else sorted({1, torch.get_num_threads()})
    )
    theirs_s, theirs_threads = float("inf"), 0
    for threads in thread_counts:
        torch.set_num_threads(threads)
        with torch.no_grad():
            reference.generate(ids, **{**kwargs, "max_new_tokens": 4, "min_new_tokens": 4})  # warm-up
            start = time.perf_counter()
            theirs = reference.generate(ids, **kwargs)
            if torch_device == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
        print(f"transformers, {threads} torch thread(s): {total / seconds:10.1f} tokens/s ({seconds:.2f} s)")
        if seconds < theirs_s:
            theirs_s, theirs_threads = seconds, threads
    theirs_tokens = theirs[:, width:].tolist()
    agree = sum(a == b for a, b in zip(ours.tokens, theirs_tokens))

    ours_tps, theirs_tps = total / ours_s, total / theirs_s
    print(
        f"acecoder_jax generate : {ours_tps:10.1f} tokens/s ({ours_s:.2f} s; "
        f"first call, with compilation: {compile_and_run:.2f} s)"
    )
    print(
        f"transformers generate : {theirs_tps:10.1f} tokens/s ({theirs_s:.2f} s, torch on {torch_device}, "
        f"{theirs_threads} thread(s))"
    )
    print(
        f"ratio (jax / transformers): {ours_tps / theirs_tps:.2f}x; "
        f"greedy rows identical: {agree}/{args.batch}"
    )
    vllm_tps = _vllm_tokens_per_second(checkpoint.name, prompts, args.new_tokens, args.dtype)
    if vllm_tps is not None:
        print(
            f"vLLM generate         : {vllm_tps:10.1f} tokens/s; "
            f"ratio (jax / vLLM): {ours_tps / vllm_tps:.2f}x"
        )
    checkpoint.cleanup()
    if args.json:
        numbers = {
            "jax_tokens_per_s": ours_tps,
            "jax_first_call_s": compile_and_run,
            "transformers_tokens_per_s": theirs_tps,
            "ratio": ours_tps / theirs_tps,
            "greedy_rows_identical": f"{agree}/{args.batch}",
            "vllm_tokens_per_s": vllm_tps,
            "jax_device": device.device_kind,
            "torch_device": torch_device,
        }
        args.json.write_text(json.dumps(numbers, indent=1))


def _vllm_tokens_per_second(
    path: str, prompts: list[list[int]], new_tokens: int, dtype: str = "float32"
) -> float | None:
    """vLLM's greedy tokens/s on the same checkpoint and prompts, where vLLM and a GPU are installed."""
    import importlib.util

    import torch

    if importlib.util.find_spec("vllm") is None or not torch.cuda.is_available():
        print("vLLM generate         : skipped (needs vllm and a GPU)")
        return None
    from vllm import LLM, SamplingParams

    llm = LLM(model=path, skip_tokenizer_init=True, dtype=dtype, enforce_eager=False)
    params = SamplingParams(
        temperature=0.0, max_tokens=new_tokens, min_tokens=new_tokens, ignore_eos=True, detokenize=False
    )
    requests = [{"prompt_token_ids": p} for p in prompts]
    llm.generate(requests[:1], params)  # warm-up
    start = time.perf_counter()
    outputs = llm.generate(requests, params)
    seconds = time.perf_counter() - start
    return sum(len(o.outputs[0].token_ids) for o in outputs) / seconds


if __name__ == "__main__":
    main()
