"""Build the reward model a run trains: a preset (random init) or a Hugging Face checkpoint, on the mesh.

Master weights are float32 whatever the checkpoint stores; `dtype` is the compute dtype the model casts to.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from jax.sharding import Mesh


def model_config_for(model: str, *, dtype: str, remat: bool, scan_unroll: int | None = None) -> Any:
    """The ModelConfig of a preset, a model YAML or a checkpoint dir's config.json, with our numerics."""
    from acecoder_jax.models import training_model_config

    return training_model_config(model, dtype=dtype, remat=remat, scan_unroll=scan_unroll)


def build_reward_model(
    model: str, *, dtype: str, remat: bool, seed: int, mesh: Mesh, scan_unroll: int | None = None
) -> Any:
    """A RewardModel on `mesh`: loaded from a checkpoint dir (a causal LM gets a fresh v_head), else a preset.

    Presets are randomly initialised from `seed`.
    """
    from acecoder_jax.models import from_pretrained, init_model

    config = model_config_for(model, dtype=dtype, remat=remat, scan_unroll=scan_unroll)
    if Path(model).is_dir():
        loaded = from_pretrained(
            model, dtype=dtype, param_dtype="float32", mesh=mesh, kind="reward", seed=seed
        )
        return _with_config(loaded, config)  # remat/scan_unroll: static module config
    return init_model(config, kind="reward", seed=seed, mesh=mesh)


def _with_config(model: Any, config: Any) -> Any:
    """Rebuild `model` with `config` (same parameters): the config is static module state in NNX."""
    from flax import nnx

    from acecoder_jax.models.init import abstract_model

    if dataclasses.asdict(model.config) == dataclasses.asdict(config):
        return model
    graphdef, _ = nnx.split(abstract_model(config, "reward"))
    return nnx.merge(graphdef, nnx.state(model))


def tokenizer_dir_for(model: str, tokenizer: str | None) -> Path:
    """The tokenizer to use: the configured dir, the model dir's own tokenizer, else the offline Qwen2.5
    one."""
    if tokenizer:
        return Path(tokenizer)
    if (Path(model) / "tokenizer.json").is_file() or (Path(model) / "tokenizer_config.json").is_file():
        return Path(model)
    from acecoder_jax.common.tokenizer import qwen25_tokenizer_dir

    return qwen25_tokenizer_dir()


def model_identity(config: Any) -> dict[str, Any]:
    """The parts of a ModelConfig that make a checkpoint loadable (shapes/architecture; not numerics, and not
    embedding tying, which a reward model without an lm_head does not depend on)."""
    keep = (
        "vocab_size", "hidden_size", "intermediate_size", "num_layers", "num_heads", "num_kv_heads",
        "head_dim", "architecture", "attention_bias",
    )  # fmt: skip
    return {k: getattr(config, k) for k in keep}
