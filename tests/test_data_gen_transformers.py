"""The transformers backend with a tiny random Qwen2 and the real Qwen2.5 tokenizer (CPU, no downloads)."""

import json

import pytest
import torch
from fixtures.data_gen.support import read_rows
from transformers import AutoModelForCausalLM, AutoTokenizer

from acecoder_jax.common.prompts import SAMPLING_PREFILL, sampling_chat
from data_gen.backends.base import GenerationConfig, make_backend
from data_gen.backends.tiny_model import build_tiny_qwen2
from data_gen.stages.sample import SampleOptions, program_from_reply, run_sample

CHAT = sampling_chat("Return the sum of a and b.", ["assert add(1, 2) == 3", "assert add(0, 0) == 0"])
OTHER = sampling_chat("Reverse a string.", ["assert rev('ab') == 'ba'"])


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_qwen2(tmp_path_factory.mktemp("tiny_qwen2"), seed=0)


@pytest.fixture(scope="module")
def backend(tiny_dir):
    with make_backend(
        GenerationConfig(backend="transformers", model=str(tiny_dir), device="cpu", seed=3)
    ) as b:
        yield b


def test_prompt_continues_the_prefill_in_the_chat_template(backend):
    with_prefill = backend.prompt_text(CHAT, SAMPLING_PREFILL)
    assert with_prefill.endswith("<|im_start|>assistant\n" + SAMPLING_PREFILL)
    assert "<|im_start|>user\nPlease provide a self-contained Python script" in with_prefill
    assert backend.prompt_text(CHAT, None).endswith("<|im_end|>\n<|im_start|>assistant\n")


def test_greedy_matches_a_manual_argmax_loop_over_the_same_model(backend, tiny_dir):
    (replies,) = backend.generate(
        [CHAT], n=2, temperature=0.0, top_p=1.0, max_tokens=6, prefill=SAMPLING_PREFILL
    )
    assert len(replies) == 2 and replies[0] == replies[1]
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32).eval()
    ids = tokenizer(
        backend.prompt_text(CHAT, SAMPLING_PREFILL), return_tensors="pt", add_special_tokens=False
    )["input_ids"]
    new = []
    with torch.inference_mode():
        for _ in range(6):
            token = int(model(input_ids=ids).logits[0, -1].argmax())
            if token in (151643, 151645):
                break
            new.append(token)
            ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    assert replies[0] == tokenizer.decode(new, skip_special_tokens=True)


def test_samples_are_seeded_per_prompt_not_per_batch(backend):
    kwargs = {"n": 3, "temperature": 0.7, "top_p": 1.0, "max_tokens": 4, "prefill": SAMPLING_PREFILL}
    alone = backend.generate([CHAT], **kwargs)
    together = backend.generate([OTHER, CHAT], **kwargs)
    assert together[1] == alone[0]
    assert len(alone[0]) == 3 and len(set(alone[0])) > 1  # n distinct samples
    (cut,) = backend.generate([CHAT], **{**kwargs, "stop": [alone[0][0][2:4]]})
    assert cut[0] == alone[0][0][: alone[0][0].find(alone[0][0][2:4])]


def test_sample_stage_writes_n_programs_per_question(tmp_path, tiny_dir):
    rows = [
        {
            "id": "q1",
            "question": "Add.",
            "tests": ["assert add(1, 1) == 2"],
            "original_tests": ["assert add(0, 1) == 1"],
        },
        {"id": "q2", "question": "Sub.", "tests": ["assert sub(1, 1) == 0"]},
    ]
    source = tmp_path / "filtered.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    generation = GenerationConfig(
        backend="transformers",
        model=str(tiny_dir),
        device="cpu",
        n=2,
        temperature=0.7,
        max_tokens=6,
        batch_size=1,
    )
    stats = run_sample(
        source, tmp_path / "samples.jsonl", generation, SampleOptions(keep_raw=True), progress=False
    )
    assert stats.written == 2
    out = read_rows(tmp_path / "samples.jsonl")
    assert [r["id"] for r in out] == ["q1", "q2"]
    assert out[0]["model_name"] == str(tiny_dir)
    assert [s["completion_id"] for s in out[0]["samples"]] == [0, 1]
    assert all(s["completion"] == program_from_reply(s["raw"], "fence") for s in out[0]["samples"])
