"""Overhead of `acecoder sample` over raw transformers `generate` on the same prompts (peer: transformers).

Both sides load the same model, render the same sampling prompts (question + first two tests, assistant
prefill continued), seed each prompt the same way and sample n completions per question with the same
settings; the stage additionally reads/writes JSONL, extracts programs and keeps resume state. Each side runs
`--repeats` times (alternating) and the best wall time counts.

    .venv/bin/python bench/sample.py [--model DIR] [--questions 8] [--n 4] [--max-tokens 32] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acecoder_jax.common.prompts import SAMPLING_PREFILL, sampling_chat
from data_gen.backends.base import GenerationConfig
from data_gen.backends.tiny_model import TINY_MODEL_NAME, tiny_model_dir
from data_gen.backends.transformers_backend import prompt_seed
from data_gen.stages.sample import SampleOptions, run_sample


def make_rows(count: int) -> list[dict]:
    """Questions shaped like filter-tests output."""
    return [
        {
            "id": f"q{i}",
            "question": f"Write a function f{i}(x) returning x times {i} plus the length of str(x).",
            "tests": [f"assert f{i}({j}) == {j * i + len(str(j))}" for j in range(6)],
        }
        for i in range(count)
    ]


def raw_generate(
    model_dir: str, rows: list[dict], n: int, max_tokens: int, device: str
) -> tuple[float, float]:
    """(wall, CPU) seconds of the peer: plain transformers load + generate over the same prompts."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start, cpu = time.perf_counter(), time.process_time()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to(device).eval()
    eos = [tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")]
    for row in rows:
        chat = [
            *sampling_chat(row["question"], row["tests"]),
            {"role": "assistant", "content": SAMPLING_PREFILL},
        ]
        prompt = tokenizer.apply_chat_template(chat, tokenize=False, continue_final_message=True)
        encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(device)
        torch.manual_seed(prompt_seed(0, prompt))
        with torch.inference_mode():
            out = model.generate(
                **encoded,
                max_new_tokens=max_tokens,
                do_sample=True,
                temperature=0.7,
                top_p=1.0,
                top_k=0,
                num_return_sequences=n,
                eos_token_id=eos,
                pad_token_id=eos[1],
            )
        tokenizer.batch_decode(out[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
    return time.perf_counter() - start, time.process_time() - cpu


def stage_generate(
    model: str, source: Path, work: Path, n: int, max_tokens: int, device: str, run: int
) -> tuple[float, float]:
    """(wall, CPU) seconds of `acecoder sample` (the stage function the CLI calls) on the same questions."""
    generation = GenerationConfig(
        backend="transformers",
        model=model,
        device=device,
        n=n,
        temperature=0.7,
        top_p=1.0,
        max_tokens=max_tokens,
    )
    start, cpu = time.perf_counter(), time.process_time()
    run_sample(source, work / f"samples_{run}.jsonl", generation, SampleOptions(), progress=False)
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    """Run both sides and print their times and the ratio."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=TINY_MODEL_NAME)
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model_dir = str(tiny_model_dir()) if args.model == TINY_MODEL_NAME else args.model
    rows = make_rows(args.questions)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "filtered.jsonl"
        source.write_text("".join(json.dumps(r) + "\n" for r in rows))
        raw_generate(model_dir, rows[:1], 1, 2, args.device)  # warm imports and file caches for both sides
        peer, ours = [], []
        for run in range(args.repeats):
            peer.append(raw_generate(model_dir, rows, args.n, args.max_tokens, args.device))
            ours.append(stage_generate(args.model, source, work, args.n, args.max_tokens, args.device, run))
    print(f"model={args.model} questions={args.questions} n={args.n} max_tokens={args.max_tokens}", end=" ")
    print(f"device={args.device} repeats={args.repeats} (best of each)")
    for index, label in ((0, "wall"), (1, "CPU")):
        best_peer, best_ours = min(t[index] for t in peer), min(t[index] for t in ours)
        print(f"{label:>4}: raw transformers generate (peer) {best_peer:.2f} s, ", end="")
        print(f"acecoder sample {best_ours:.2f} s, ", end="")
        print(f"ratio acecoder/raw {best_ours / best_peer:.3f}")


if __name__ == "__main__":
    main()
