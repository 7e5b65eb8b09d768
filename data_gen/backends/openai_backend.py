"""Any OpenAI-compatible chat endpoint (api.openai.com, a vLLM/SGLang server...) through the official SDK.

Requests run in a bounded thread pool; 429, 5xx, timeouts and connection errors are retried with exponential
backoff and jitter; a bad key or unknown model fails at once with the endpoint named. Token counts and an
estimated cost are kept and printed at the end of a stage.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai

from data_gen.backends.base import Backend, Chat, GenerationConfig, GenerationError, Sampling, with_prefill

# USD per million (prompt, completion) tokens, list prices when this was written; override with flags.
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
}
_RETRYABLE = (
    openai.RateLimitError,
    openai.InternalServerError,
    openai.APITimeoutError,
    openai.APIConnectionError,
)


class OpenAIBackend(Backend):
    """Chat completions over HTTP with bounded concurrency, retries and usage accounting."""

    name = "openai"

    def __init__(self, config: GenerationConfig) -> None:
        super().__init__(config)
        api_key = os.environ.get(config.api_key_env)
        base_url = config.base_url or os.environ.get("OPENAI_BASE_URL")
        self.endpoint = base_url or "https://api.openai.com/v1"
        if not api_key:
            if base_url is None:
                raise GenerationError(
                    f"openai backend: no API key; set ${config.api_key_env} (or --api-key-env NAME)"
                )
            api_key = "EMPTY"  # self-hosted OpenAI-compatible servers usually need no key
        # The SDK's own retries are off: ours are counted, jittered, and name the endpoint when they give up.
        self.client = openai.OpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=config.request_timeout_s
        )
        self._pool = ThreadPoolExecutor(max_workers=max(1, config.concurrency), thread_name_prefix="openai")
        self._lock = threading.Lock()
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.requests = 0
        self.retries = 0

    def _generate(self, chats: Sequence[Chat], sampling: Sampling, prefill: str | None) -> list[list[str]]:
        """One request per chat (asking for `n` choices), `concurrency` at a time, results in input order."""
        kwargs: dict[str, Any] = {
            "model": self.config.model,
            "n": sampling.n,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
        }
        if sampling.stop:
            kwargs["stop"] = list(sampling.stop)
        if self.config.json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        if self.config.seed:
            kwargs["seed"] = self.config.seed
        if prefill is not None:
            # vLLM's OpenAI server continues a final assistant message with these flags; api.openai.com has no
            # prefills (use the vllm or transformers backend for the sampling prompt there).
            kwargs["extra_body"] = {"continue_final_message": True, "add_generation_prompt": False}
        messages = [with_prefill(chat, prefill) for chat in chats]
        futures = [self._pool.submit(self._request, m, kwargs) for m in messages]
        return [f.result() for f in futures]

    def _request(self, messages: list[dict[str, str]], kwargs: dict[str, Any]) -> list[str]:
        attempt = 0
        while True:
            try:
                response = self.client.chat.completions.create(messages=messages, **kwargs)
                break
            except openai.AuthenticationError as err:
                raise GenerationError(
                    f"{self.endpoint}: the API key was rejected (HTTP 401); check ${self.config.api_key_env}"
                ) from err
            except openai.PermissionDeniedError as err:
                raise GenerationError(
                    f"{self.endpoint}: permission denied (HTTP 403): {err.message}"
                ) from err
            except openai.NotFoundError as err:
                raise GenerationError(
                    f"{self.endpoint}: not found (HTTP 404) -- is model {self.config.model!r} served there?"
                ) from err
            except _RETRYABLE as err:
                if attempt >= self.config.max_retries:
                    raise GenerationError(
                        f"{self.endpoint}: giving up after {attempt + 1} attempts: {_describe(err)}"
                    ) from err
                delay = self.config.retry_base_s * (2**attempt) * (0.5 + random.random())
                attempt += 1
                with self._lock:
                    self.retries += 1
                time.sleep(delay)
            except openai.APIStatusError as err:
                raise GenerationError(f"{self.endpoint}: HTTP {err.status_code}: {err.message}") from err
        choices = sorted(response.choices, key=lambda c: c.index)
        with self._lock:
            self.requests += 1
            if response.usage is not None:
                self.prompt_tokens += response.usage.prompt_tokens or 0
                self.completion_tokens += response.usage.completion_tokens or 0
        return [c.message.content or "" for c in choices]

    def cost_usd(self) -> float | None:
        """Estimated cost of the requests so far, or None for a model without a known price."""
        table = PRICES_PER_MTOK.get(self.config.model)
        price_in = self.config.price_in_per_mtok if self.config.price_in_per_mtok is not None else None
        price_out = self.config.price_out_per_mtok if self.config.price_out_per_mtok is not None else None
        if table is not None:
            price_in = table[0] if price_in is None else price_in
            price_out = table[1] if price_out is None else price_out
        if price_in is None or price_out is None:
            return None
        return (self.prompt_tokens * price_in + self.completion_tokens * price_out) / 1e6

    def usage_summary(self) -> str:
        """Requests, retries, prompt/completion tokens and cost."""
        cost = self.cost_usd()
        cost_text = (
            f"${cost:.4f}"
            if cost is not None
            else "unknown (no price for this model; --price-in/--price-out)"
        )
        return (
            f"openai {self.config.model} @ {self.endpoint}: {self.requests} requests, "
            f"{self.retries} retries, {self.prompt_tokens} prompt + "
            f"{self.completion_tokens} completion tokens, "
            f"cost {cost_text}"
        )

    def close(self) -> None:
        """Stop the request threads and the HTTP client."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.client.close()


def _describe(err: Exception) -> str:
    if isinstance(err, openai.APIStatusError):
        return f"HTTP {err.status_code}: {err.message}"
    if isinstance(err, openai.APITimeoutError):
        return "request timed out"
    if isinstance(err, openai.APIConnectionError):
        cause = err.__cause__ or err
        return f"cannot connect ({type(cause).__name__}: {cause})"
    return str(err)
