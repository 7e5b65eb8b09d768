"""The demo's export check: the RL policy and the RM, as exported, loaded by plain transformers (PyTorch).

`python -m acecoder_jax.demo.hf_reload --policy DIR --rm DIR --heldout FILE --pairs FILE --out JSON`
- policy: `AutoModelForCausalLM` greedily answers every held-out world problem (the sampling prompt plus the
  released prefill); the executor judges the programs, so the number is comparable to train-rl's held-out
  greedy pass@1.
- RM: `Qwen2Model` (the backbone) + AceCodeRM's `v_head.summary` read at the last token scores the held-out
  pairs; the accuracy is comparable to train-rm's held-out accuracy.
This file is the demo's only torch code and runs in its own process (acecoder_jax itself never imports torch).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def policy_check(policy: Path, heldout: Path, max_new_tokens: int = 48) -> dict[str, Any]:
    """Greedy pass@1 of the transformers-loaded policy on the held-out rows, judged by the executor."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from acecoder_jax.common.code_extract import extract_code
    from acecoder_jax.common.prompts import SAMPLING_PREFILL, sampling_chat
    from executor.job import Job
    from executor.pool import Executor

    tokenizer = AutoTokenizer.from_pretrained(policy)
    model = AutoModelForCausalLM.from_pretrained(policy, dtype=torch.float32).eval()
    rows = [json.loads(line) for line in heldout.read_text(encoding="utf-8").splitlines() if line.strip()]
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    jobs = []
    for row in rows:
        chat = sampling_chat(row["question"], row["test_cases"])
        text = (
            tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) + SAMPLING_PREFILL
        )
        ids = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            out = model.generate(
                **ids,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=im_end,
                pad_token_id=im_end,
            )
        reply = tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
        jobs.append(Job(row["id"], extract_code(SAMPLING_PREFILL + reply), list(row["test_cases"])))
    with Executor(workers=2, timeout_s=5.0) as executor:
        results = executor.run(jobs)
    return {
        "class": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "problems": len(rows),
        "greedy_pass_at_1": sum(r.pass_rate == 1.0 for r in results) / max(1, len(results)),
    }


def rm_check(rm: Path, pairs: Path) -> dict[str, Any]:
    """Held-out pair accuracy of the transformers-loaded backbone + v_head (AceCodeRM layout)."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoTokenizer, Qwen2Model

    from acecoder_jax.data.pair_format import prompt_text, response_text

    tokenizer = AutoTokenizer.from_pretrained(rm)
    backbone = Qwen2Model.from_pretrained(rm, dtype=torch.float32).eval()
    weights = load_file(str(rm / "model.safetensors"))
    head_w, head_b = weights["v_head.summary.weight"][0], weights["v_head.summary.bias"][0]

    def score(prompt: str, response: str) -> float:
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        ids += tokenizer(response, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            hidden = backbone(input_ids=torch.tensor([ids])).last_hidden_state[0, -1]
        return float(hidden @ head_w + head_b)

    rows = [json.loads(line) for line in pairs.read_text(encoding="utf-8").splitlines() if line.strip()]
    right = 0
    for row in rows:
        prompt = prompt_text(row["instruction"], row.get("input"))
        right += score(prompt, response_text(row["chosen"])) > score(prompt, response_text(row["rejected"]))
    return {
        "class": f"{type(backbone).__name__} + v_head.summary",
        "heldout_pairs": len(rows),
        "heldout_accuracy": right / max(1, len(rows)),
    }


def main(argv: list[str] | None = None) -> int:
    """Load both exports with transformers, check them, write the numbers as JSON."""
    parser = argparse.ArgumentParser(prog="python -m acecoder_jax.demo.hf_reload", description=__doc__)
    parser.add_argument("--policy", type=Path, required=True)
    parser.add_argument("--rm", type=Path, required=True)
    parser.add_argument("--heldout", type=Path, required=True, help="AceCode-87K rows the policy answers")
    parser.add_argument("--pairs", type=Path, required=True, help="held-out AceCodePair rows the RM ranks")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    result = {"policy": policy_check(args.policy, args.heldout), "rm": rm_check(args.rm, args.pairs)}
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
