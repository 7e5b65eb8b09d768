"""vLLM's offline engine for GPU nodes (tensor parallel); `pip install vllm` there.

This module is imported only when `--backend vllm` is chosen. It is a thin adapter: prompts are rendered
with the model's chat template (continuing the prefill when one is given, as the release did) and handed to
`LLM.generate` with one `SamplingParams`. It cannot run on the CPU-only test machines, so no test exercises
it; the transformers backend shares its prompt rendering and is tested.
"""

from __future__ import annotations

from collections.abc import Sequence

from data_gen.backends.base import (
    Backend,
    Chat,
    GenerationConfig,
    GenerationError,
    Sampling,
    chat_template_prompt,
    prompt_seed,
)


class VLLMBackend(Backend):
    """vllm.LLM with tensor_parallel_size from the config."""

    name = "vllm"

    def __init__(self, config: GenerationConfig) -> None:
        super().__init__(config)
        try:
            import vllm
        except ImportError as err:
            raise GenerationError(
                "vllm backend: vllm is not installed (pip install vllm on a GPU node)"
            ) from err
        self.vllm = vllm
        self.llm = vllm.LLM(
            model=config.model,
            tensor_parallel_size=config.tensor_parallel,
            dtype=config.dtype,
            seed=config.seed,
            gpu_memory_utilization=config.gpu_memory_utilization,
        )
        self.tokenizer = self.llm.get_tokenizer()
        self.generated_tokens = 0

    def _generate(self, chats: Sequence[Chat], sampling: Sampling, prefill: str | None) -> list[list[str]]:
        """All chats in one engine call; vLLM schedules and batches them.

        Each prompt carries its own seed (`prompt_seed` of the config's seed and the prompt text, as the
        transformers backend seeds), so a prompt's samples do not depend on which other prompts share the
        call, on resuming, or on which Ray replica runs it (up to the numerics of batch composition on GPU).
        """
        prompts = [chat_template_prompt(self.tokenizer, chat, prefill) for chat in chats]
        params = [
            self.vllm.SamplingParams(
                n=sampling.n,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=sampling.max_tokens,
                stop=list(sampling.stop) or None,
                seed=prompt_seed(self.config.seed, prompt),
            )
            for prompt in prompts
        ]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        replies = []
        for output in outputs:
            replies.append([o.text for o in output.outputs])
            self.generated_tokens += sum(len(o.token_ids) for o in output.outputs)
        return replies

    def usage_summary(self) -> str:
        """Tokens generated."""
        return f"vllm {self.config.model} (tp={self.config.tensor_parallel}): {self.generated_tokens} tokens"
