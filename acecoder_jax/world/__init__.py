"""The policy world: small Python function-writing tasks with reference solutions, split into train and
held-out problems that share no (family, params), plus a small tokenizer with Qwen2.5's chat format.

Importable without jax or torch (like acecoder_jax.common). `acecoder world --out DIR` writes it;
`ensure_world(DIR, seed)` builds it when missing and reuses it when present.
"""

from acecoder_jax.world.build import World, build_world
from acecoder_jax.world.catalog import FAMILIES
from acecoder_jax.world.files import ensure_world, write_world
from acecoder_jax.world.problem import Problem, WorldError

__all__ = ["FAMILIES", "Problem", "World", "WorldError", "build_world", "ensure_world", "write_world"]
