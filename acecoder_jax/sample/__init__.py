"""The JAX sampler: `generate(model, prompts, ...)`, a fixed-size KV cache and a jitted while-loop decode."""

from .generate import Generation, generate

__all__ = ["Generation", "generate"]
