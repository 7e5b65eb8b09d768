"""PyTorch generation with Hugging Face transformers, on CPU or one GPU.

Each chat is generated on its own (its `n` samples in one batch) with a seed derived from the backend seed and
the prompt text, so a chat's replies do not depend on which other chats share a call: a resumed stage writes
exactly what an uninterrupted one would. For throughput at scale use the vllm backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from data_gen.backends.base import (
    Backend,
    Chat,
    GenerationConfig,
    GenerationError,
    Sampling,
    chat_template_prompt,
    cut_at_stop,
    prompt_seed,
)


class TransformersBackend(Backend):
    """AutoModelForCausalLM.generate with the model's chat template."""

    name = "transformers"

    def __init__(self, config: GenerationConfig) -> None:
        super().__init__(config)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from data_gen.backends.tiny_model import TINY_MODEL_NAME, tiny_model_dir

        model_path = str(tiny_model_dir()) if config.model == TINY_MODEL_NAME else config.model
        if not Path(model_path).exists() and "/" not in model_path:
            raise GenerationError(f"transformers backend: model {config.model!r} is not a directory")
        self.torch = torch
        device = config.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        dtype = {"auto": torch.bfloat16 if device == "cuda" else torch.float32}.get(config.dtype)
        if dtype is None:
            dtype = getattr(torch, config.dtype)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model_path)
            self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).to(self.device).eval()
        except OSError as err:
            raise GenerationError(f"transformers backend: cannot load {model_path}: {err}") from err
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in self.eos_ids:
            self.eos_ids.append(self.tokenizer.eos_token_id)
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else self.eos_ids[0]
        self.generated_tokens = 0

    def prompt_text(self, chat: Chat, prefill: str | None) -> str:
        """The chat rendered with the model's template, ending where the reply begins."""
        return chat_template_prompt(self.tokenizer, chat, prefill)

    def _generate(self, chats: Sequence[Chat], sampling: Sampling, prefill: str | None) -> list[list[str]]:
        """`n` replies per chat; greedy (temperature 0) generates once and repeats it `n` times."""
        return [self._generate_one(self.prompt_text(chat, prefill), sampling) for chat in chats]

    def _generate_one(self, prompt: str, sampling: Sampling) -> list[str]:
        torch = self.torch
        encoded = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(self.device)
        n = sampling.n
        greedy = sampling.temperature <= 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": sampling.max_tokens,
            "eos_token_id": self.eos_ids,
            "pad_token_id": self.pad_id,
            "do_sample": not greedy,
            "num_return_sequences": 1 if greedy else n,
        }
        if not greedy:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
        torch.manual_seed(prompt_seed(self.config.seed, prompt))
        with torch.inference_mode():
            output = self.model.generate(**encoded, **kwargs)
        new_tokens = output[:, encoded["input_ids"].shape[1] :]
        self.generated_tokens += int((new_tokens != self.pad_id).sum())
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        texts = [cut_at_stop(t, sampling.stop) for t in texts]
        return texts * n if greedy else texts

    def usage_summary(self) -> str:
        """Tokens generated."""
        return f"transformers {self.config.model} on {self.device}: {self.generated_tokens} tokens generated"
