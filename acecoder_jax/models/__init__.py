"""Flax NNX decoders (Qwen2 / Qwen2.5(-Coder), Llama 3.x), the AceCodeRM reward model and HF checkpoint IO.

Public interface (other packages import only these names):
    ModelConfig, CausalLM, RewardModel, init_model, from_pretrained, save_pretrained,
    Cache, init_cache, count_params, flops_per_token, param_logical_axes, param_shardings.
"""

from acecoder_jax.models.config import (
    PRESETS,
    ModelConfig,
    UnsupportedArchitectureError,
    load_model_config,
    training_model_config,
)
from acecoder_jax.models.hf_checkpoint import checkpoint_kind, detect_layout, from_pretrained, save_pretrained
from acecoder_jax.models.init import abstract_model, init_model
from acecoder_jax.models.kv_cache import Cache, init_cache
from acecoder_jax.models.params import (
    count_params,
    flat_params,
    flops_per_token,
    param_logical_axes,
    param_partition_spec,
    param_shardings,
)
from acecoder_jax.models.reward import RewardModel, last_token_index
from acecoder_jax.models.safetensors_io import CheckpointError
from acecoder_jax.models.transformer import CausalLM, default_positions

__all__ = [
    "PRESETS",
    "Cache",
    "CausalLM",
    "CheckpointError",
    "ModelConfig",
    "RewardModel",
    "UnsupportedArchitectureError",
    "abstract_model",
    "checkpoint_kind",
    "count_params",
    "default_positions",
    "detect_layout",
    "flat_params",
    "flops_per_token",
    "from_pretrained",
    "init_cache",
    "init_model",
    "last_token_index",
    "load_model_config",
    "param_logical_axes",
    "param_partition_spec",
    "param_shardings",
    "save_pretrained",
    "training_model_config",
]
