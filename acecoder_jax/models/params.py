"""The ONE Hugging Face <-> NNX parameter-name table, plus parameter shardings, counts and FLOPs.

HF linear weights are [out, in]; our kernels are [in..., out...] with the head axes split out, so each
kernel conversion is "transpose, then reshape": HF `q_proj.weight` [N*H, D] -> kernel [D, N, H], HF
`o_proj.weight` [D, N*H] -> kernel [N, H, D]. `n_in` says how many leading kernel axes are input axes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

import jax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from acecoder_jax.models.config import ModelConfig
from acecoder_jax.sharding import fit_spec

Layout = Literal["acecoderm", "openrlhf"]


@dataclass(frozen=True)
class Mapping:
    """How one NNX parameter maps to one HF tensor."""

    nnx_path: str
    hf_name: str  # for stacked layer parameters a template with "{i}" for the layer index
    kind: Literal["kernel", "flat", "plain"]  # plain: same shape; flat: HF keeps it 1-D (split head biases)
    n_in: int = 1
    stacked: bool = False  # our parameter has a leading [num_layers] axis; HF has one tensor per layer

    def hf_names(self, num_layers: int) -> list[str]:
        """The HF tensor name(s) this parameter covers (one per layer when stacked)."""
        if not self.stacked:
            return [self.hf_name]
        return [self.hf_name.format(i=i) for i in range(num_layers)]

    def layer_shape(self, target_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Our per-layer (or whole) parameter shape."""
        return tuple(target_shape[1:]) if self.stacked else tuple(target_shape)

    def hf_shape(self, target_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The HF tensor's shape for a parameter of `target_shape`."""
        if self.kind == "plain":
            return tuple(target_shape)
        if self.kind == "flat":
            return (math.prod(target_shape),)
        n_in = math.prod(target_shape[: self.n_in])
        n_out = math.prod(target_shape[self.n_in :])
        return (n_out, n_in)

    def to_target(self, hf_array: Any, target_shape: tuple[int, ...]) -> Any:
        """HF tensor -> our layout (numpy views where possible: memmaps stay lazy)."""
        if self.kind == "kernel":
            return hf_array.T.reshape(target_shape)
        return hf_array.reshape(target_shape)

    def to_hf(self, array: Any) -> Any:
        """Our layout -> the HF tensor."""
        shape = tuple(array.shape)
        if self.kind == "kernel":
            n_in = math.prod(shape[: self.n_in])
            return array.reshape(n_in, -1).T
        return array.reshape(self.hf_shape(shape))


# (regex over our dotted path, HF name template, kind, n_in). Paths are relative to the decoder owner
# (CausalLM, or RewardModel.backbone); head rules are matched on the RewardModel's own paths.
# Stacked layer parameters (paths under `model.layers.`) map to one HF tensor per layer ("{i}" below).
_L = r"model\.layers\."
TABLE: list[tuple[str, str, str, int]] = [
    (r"model\.embed_tokens\.embedding", "model.embed_tokens.weight", "plain", 0),
    (_L + r"self_attn\.(q|k|v)_proj\.kernel", r"model.layers.{i}.self_attn.\1_proj.weight", "kernel", 1),
    (_L + r"self_attn\.(q|k|v)_proj\.bias", r"model.layers.{i}.self_attn.\1_proj.bias", "flat", 0),
    (_L + r"self_attn\.o_proj\.kernel", r"model.layers.{i}.self_attn.o_proj.weight", "kernel", 2),
    (_L + r"self_attn\.o_proj\.bias", r"model.layers.{i}.self_attn.o_proj.bias", "plain", 0),
    (_L + r"mlp\.(gate|up|down)_proj\.kernel", r"model.layers.{i}.mlp.\1_proj.weight", "kernel", 1),
    (_L + r"(input_layernorm|post_attention_layernorm)\.scale", r"model.layers.{i}.\1.weight", "plain", 0),
    (r"model\.norm\.scale", "model.norm.weight", "plain", 0),
    (r"lm_head\.kernel", "lm_head.weight", "kernel", 1),
]
HEAD_TABLE: dict[Layout, list[tuple[str, str, str, int]]] = {
    # AceCodeRM (trl AutoModelForCausalLMWithValueHead / LLaMA-Factory): Linear(hidden, 1) with bias.
    "acecoderm": [
        (r"v_head\.summary\.kernel", "v_head.summary.weight", "kernel", 1),
        (r"v_head\.summary\.bias", "v_head.summary.bias", "plain", 0),
    ],
    # OpenRLHF get_llm_for_sequence_regression: `score` = Linear(hidden, 1, bias=False): no bias tensor.
    "openrlhf": [(r"v_head\.summary\.kernel", "score.weight", "kernel", 1)],
}
# HF tensors that carry no parameter (old checkpoints saved RoPE buffers).
IGNORED_HF = re.compile(r"model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq|model\.rotary_emb\.inv_freq")


def path_str(path: tuple[Any, ...]) -> str:
    """('model', 'layers', 0, 'mlp') -> 'model.layers.0.mlp'."""
    return ".".join(str(p) for p in path)


def hf_mapping(nnx_path: str, *, layout: Layout = "acecoderm") -> Mapping | None:
    """The HF tensor for one of our parameter paths, or None when it has none (OpenRLHF's head bias)."""
    rel = nnx_path.removeprefix("backbone.")
    for pattern, template, kind, n_in in TABLE:
        if re.fullmatch(pattern, rel):
            stacked = rel.startswith("model.layers.")
            return Mapping(nnx_path, re.sub(pattern, template, rel), kind, n_in, stacked)  # type: ignore[arg-type]
    if nnx_path.startswith("v_head."):
        for pattern, template, kind, n_in in HEAD_TABLE[layout]:
            if re.fullmatch(pattern, nnx_path):
                return Mapping(nnx_path, template, kind, n_in)  # type: ignore[arg-type]
        return None
    raise KeyError(f"parameter {nnx_path!r} has no Hugging Face name in params.TABLE")


def flat_params(model_or_state: Any) -> dict[str, nnx.Variable]:
    """Dotted path -> Param for a module or an nnx.State."""
    state = model_or_state if isinstance(model_or_state, nnx.State) else nnx.state(model_or_state, nnx.Param)
    return {path_str(p): v for p, v in nnx.to_flat_state(state) if isinstance(v, nnx.Param)}


def logical_axes_of(var: nnx.Variable) -> tuple[str | None, ...]:
    """The logical axis names stored on a parameter."""
    axes = var.get_metadata().get("logical_axes")
    if axes is None:
        raise ValueError(f"parameter of shape {var.shape} has no logical_axes metadata")
    return tuple(axes)


def param_logical_axes(model_or_state: Any) -> nnx.State:
    """An nnx.State shaped like the params whose values are PartitionSpecs of LOGICAL names (a jax leaf)."""
    state = model_or_state if isinstance(model_or_state, nnx.State) else nnx.state(model_or_state, nnx.Param)
    return jax.tree.map(lambda v: v.replace(PartitionSpec(*logical_axes_of(v))), state, is_leaf=_is_var)


def _is_var(x: Any) -> bool:
    return isinstance(x, nnx.Variable)


def param_shardings(model_or_state: Any, mesh: Mesh) -> nnx.State:
    """An nnx.State of NamedShardings for the params (use as jit in/out_shardings; errors name the tensor)."""
    state = model_or_state if isinstance(model_or_state, nnx.State) else nnx.state(model_or_state, nnx.Param)
    mesh_shape = dict(mesh.shape)
    flat = {}
    for path, var in nnx.to_flat_state(state):
        spec = fit_spec(logical_axes_of(var), var.shape, mesh_shape, what=f"parameter {path_str(path)}")
        flat[path] = var.replace(NamedSharding(mesh, spec))
    return nnx.from_flat_state(flat)


def param_partition_spec(var: nnx.Variable, mesh: Mesh, name: str = "parameter") -> PartitionSpec:
    """The PartitionSpec the rules give one parameter on `mesh`."""
    return fit_spec(logical_axes_of(var), var.shape, dict(mesh.shape), what=name)


def count_params(model: Any) -> int:
    """Number of parameters (elements) in the model."""
    return sum(math.prod(v.shape) for v in flat_params(model).values())


def flops_per_token(config: ModelConfig, seq_len: int, *, training: bool = True) -> float:
    """Model FLOPs per token (6N + attention for training, 2N + attention forward-only), for MFU."""
    d, f, layers = config.hidden_size, config.intermediate_size, config.num_layers
    n, k, h = config.num_heads, config.num_kv_heads, config.head_dim
    per_layer = d * n * h + 2 * d * k * h + n * h * d + 3 * d * f
    matmul_params = (
        layers * per_layer + d * config.vocab_size
    )  # the lm_head matmul counts; the lookup does not
    attn = 2 * 2 * layers * n * h * seq_len  # QK^T and PV per token, causal mask not discounted
    forward = 2 * matmul_params + attn
    return 3 * forward if training else forward
