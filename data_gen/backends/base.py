"""The one interface every generation backend implements, its settings, and the factory that picks one.

`generate(chats, n=, temperature=, top_p=, max_tokens=, stop=, prefill=) -> list[list[str]]`: for each chat,
`n` replies (text only). A `prefill` is the start of the assistant turn that the reply continues (the sampling
prompt's "Below is a Python script ..." + an open ```python fence); replies never include it. A backend
implements `_generate(chats, sampling, prefill)`, with the settings gathered in one `Sampling`.
Backend libraries (openai, vllm, torch/transformers) are imported only when that backend is chosen.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

Chat = list[dict[str, str]]


class GenerationError(RuntimeError):
    """A backend could not produce replies (unreachable endpoint, bad key, missing model...)."""


@dataclasses.dataclass
class GenerationConfig:
    """Which backend and model, how to reach it, and the sampling settings of one generation stage."""

    backend: str = "openai"  # openai | vllm | transformers | replay
    model: str = ""
    # openai: OpenAI-compatible endpoint; None = the SDK default (api.openai.com) or $OPENAI_BASE_URL.
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"  # the key is read from this environment variable, never from a file
    concurrency: int = 16  # openai: requests in flight
    max_retries: int = 6  # openai: retries on 429 / 5xx / timeouts / connection errors
    retry_base_s: float = 1.0  # openai: first backoff; doubles per retry (with jitter)
    request_timeout_s: float = 600.0
    json_mode: bool = False  # openai: response_format json_object (the release asked for JSON replies)
    price_in_per_mtok: float | None = None  # USD per million prompt tokens; None = built-in table
    price_out_per_mtok: float | None = None
    device: str = "auto"  # transformers: cpu | cuda | auto
    dtype: str = "auto"  # transformers/vllm: auto | float32 | bfloat16 | float16
    seed: int = 0
    tensor_parallel: int = 1  # vllm
    gpu_memory_utilization: float = 0.9  # vllm
    replay_file: str | None = None  # replay: JSONL of recorded replies
    # Sampling settings.
    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 1024
    stop: list[str] = dataclasses.field(default_factory=list)
    batch_size: int = 16  # chats handed to the backend per call (the unit of progress and resume)
    # Where the backend runs (synth-tests, sample): None = in this process; a Ray cluster address (auto,
    # HOST:PORT) = on replicas spread over that cluster (data_gen/ray_generation.py, docs/data_gen.md).
    ray: str | None = None
    replicas: int = 0  # with ray: how many replicas; 0 = one per GPU group (vllm), else one per node


@dataclasses.dataclass(frozen=True)
class Sampling:
    """The sampling settings of one generate() call."""

    n: int
    temperature: float
    top_p: float
    max_tokens: int
    stop: tuple[str, ...] = ()  # empty: no stop strings


class Backend(abc.ABC):
    """A text generator behind the common interface."""

    name: str = "backend"

    def __init__(self, config: GenerationConfig) -> None:
        self.config = config

    def generate(
        self,
        chats: Sequence[Chat],
        *,
        n: int,
        temperature: float,
        top_p: float,
        max_tokens: int,
        stop: Sequence[str] | None = None,
        prefill: str | None = None,
    ) -> list[list[str]]:
        """For each chat, `n` replies (continuations of `prefill` when given)."""
        return self._generate(chats, Sampling(n, temperature, top_p, max_tokens, tuple(stop or ())), prefill)

    @abc.abstractmethod
    def _generate(self, chats: Sequence[Chat], sampling: Sampling, prefill: str | None) -> list[list[str]]:
        """generate(), as this backend does it."""

    def generate_with_config(self, chats: Sequence[Chat], *, prefill: str | None = None) -> list[list[str]]:
        """generate() with the sampling settings of this backend's config."""
        c = self.config
        return self.generate(
            chats,
            n=c.n,
            temperature=c.temperature,
            top_p=c.top_p,
            max_tokens=c.max_tokens,
            stop=c.stop or None,
            prefill=prefill,
        )

    def usage_summary(self) -> str:
        """A one-line account of what the backend did (tokens, cost, retries); empty when nothing to say."""
        return ""

    def close(self) -> None:  # noqa: B027 -- optional hook; most backends hold nothing to release
        """Release resources (threads, GPU memory)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cut_at_stop(text: str, stop: Sequence[str] | None) -> str:
    """Truncate `text` before the earliest stop string (OpenAI/vLLM semantics: the stop string is dropped)."""
    if not stop:
        return text
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return text[: min(cuts)] if cuts else text


def prompt_seed(base_seed: int, prompt: str) -> int:
    """A per-prompt seed: the same prompt and base seed always sample the same replies, whichever process,
    replica or batch generates them (the transformers and vllm backends seed each prompt with it)."""
    digest = hashlib.sha256(f"{base_seed}\0{prompt}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def with_prefill(chat: Chat, prefill: str | None) -> Chat:
    """The chat, ending with an assistant message holding `prefill` when one is given."""
    if prefill is None:
        return list(chat)
    return [*chat, {"role": "assistant", "content": prefill}]


def chat_template_prompt(tokenizer: Any, chat: Chat, prefill: str | None) -> str:
    """The chat rendered with a Hugging Face tokenizer's chat template, ending where the reply begins."""
    if prefill is None:
        return tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    return tokenizer.apply_chat_template(
        with_prefill(chat, prefill), tokenize=False, continue_final_message=True
    )


def make_backend(config: GenerationConfig) -> Backend:
    """Instantiate the backend named by `config.backend` (importing its library only now)."""
    if not config.model and config.backend != "replay":
        raise GenerationError(f"backend {config.backend!r}: no model given (--model)")
    if config.backend == "openai":
        from data_gen.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(config)
    if config.backend == "transformers":
        from data_gen.backends.transformers_backend import TransformersBackend

        return TransformersBackend(config)
    if config.backend == "vllm":
        from data_gen.backends.vllm_backend import VLLMBackend

        return VLLMBackend(config)
    if config.backend == "replay":
        from data_gen.backends.replay_backend import ReplayBackend

        return ReplayBackend(config)
    raise GenerationError(f"unknown backend {config.backend!r}; choose openai, vllm, transformers or replay")
