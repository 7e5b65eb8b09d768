"""Hugging Face checkpoints in and out: `from_pretrained` and `save_pretrained`.

Loading streams each tensor from the memory-mapped safetensors straight into its target sharding
(`jax.make_array_from_callback` asks for exactly the slice each local device holds), so a model is never whole
on one device nor twice in host memory. Saving gathers one parameter at a time to the host and writes it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding, SingleDeviceSharding
from tqdm import tqdm

from acecoder_jax.models.config import ModelConfig, UnsupportedArchitectureError
from acecoder_jax.models.init import Kind, abstract_model
from acecoder_jax.models.params import IGNORED_HF, Layout, Mapping, flat_params, hf_mapping
from acecoder_jax.models.params import param_partition_spec as _spec
from acecoder_jax.models.reward import RewardModel
from acecoder_jax.models.safetensors_io import CheckpointError, SafetensorsDir, write_safetensors
from acecoder_jax.models.transformer import CausalLM

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
    "added_tokens.json",
    "chat_template.jinja",
    "generation_config.json",
)
DEFAULT_MAX_SHARD_BYTES = 5 * 1024**3  # transformers' default max_shard_size ("5GB")


def detect_layout(names: list[str]) -> tuple[Kind, Layout]:
    """(kind, head layout) from tensor names: v_head.summary.* -> AceCodeRM, score.* -> OpenRLHF, else LM."""
    if any(n.startswith("v_head.summary.") for n in names):
        return "reward", "acecoderm"
    if any(n.startswith("score.") for n in names):
        return "reward", "openrlhf"
    return "causal_lm", "acecoderm"


def read_hf_config(path: Path) -> dict[str, Any]:
    """config.json as a dict; errors name the file."""
    file = path / "config.json"
    if not file.is_file():
        raise CheckpointError(f"{path}: no config.json")
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{file}: invalid JSON: {err}") from err


def from_pretrained(
    path: str | Path,
    *,
    dtype: Any = jnp.float32,
    param_dtype: Any = jnp.float32,
    mesh: Mesh | None = None,
    kind: Kind | None = None,
    seed: int = 0,
    remat: bool = False,
    scan_unroll: int = 1,
) -> CausalLM | RewardModel:
    """Load a HF checkpoint dir as a CausalLM or RewardModel (kind detected from tensor names unless given).

    `dtype` is the compute dtype, `param_dtype` the dtype the weights are stored in on device (fp32 masters by
    default). `kind="reward"` on a causal-LM checkpoint starts a reward model: the backbone is loaded and the
    head is freshly initialised from `seed`. `remat=True` rematerialises each layer in the backward pass;
    `scan_unroll` layers run per iteration of the layer scan.
    """
    path = Path(path)
    hf = read_hf_config(path)
    config = ModelConfig.from_hf_config(
        hf,
        dtype=jnp.dtype(dtype).name,
        param_dtype=jnp.dtype(param_dtype).name,
        remat=remat,
        scan_unroll=scan_unroll,
    )
    reader = SafetensorsDir(path)
    try:
        names = reader.names()
        found_kind, layout = detect_layout(names)
        kind = kind or found_kind
        graphdef, abstract_state = nnx.split(abstract_model(config, kind))
        params = flat_params(abstract_state)
        plan = _load_plan(
            params, reader, kind, found_kind, layout, config.num_layers, config.tie_word_embeddings
        )
        loaded = {}
        for p, var in tqdm(
            params.items(), desc=f"loading {path.name}", disable=len(params) < 64, leave=False
        ):
            sharding = _target_sharding(var, mesh, p)
            mapping = plan.get(p)
            target_dtype = var.dtype
            if mapping is None:  # a fresh head for a reward model started from a causal LM
                value = _fresh_head_value(p, var.shape, config, seed)
                loaded[p] = jax.device_put(value.astype(target_dtype), sharding)
                continue
            layer_shape = mapping.layer_shape(var.shape)
            views = [
                mapping.to_target(reader.view(n), layer_shape) for n in mapping.hf_names(config.num_layers)
            ]
            loaded[p] = jax.make_array_from_callback(
                var.shape, sharding, _shard_reader(views, mapping.stacked, np.dtype(target_dtype))
            )
    finally:
        reader.close()
    flat_state = [(tuple(_key(k) for k in p.split(".")), params[p].replace(loaded[p])) for p in params]
    return nnx.merge(graphdef, nnx.from_flat_state(flat_state))


def _shard_reader(views: list[np.ndarray], stacked: bool, dtype: np.dtype):
    """The callback that reads exactly one device's slice from the memory-mapped tensor(s)."""

    def read(index: tuple[slice, ...]) -> np.ndarray:
        if not stacked:
            return np.asarray(views[0][index]).astype(dtype)
        layers = range(len(views))[index[0]]
        return np.stack([np.asarray(views[i][index[1:]]).astype(dtype) for i in layers])

    return read


def _key(part: str) -> str | int:
    return int(part) if part.isdigit() else part


def _target_sharding(var: nnx.Variable, mesh: Mesh | None, name: str):
    if mesh is None:
        return SingleDeviceSharding(jax.local_devices()[0])
    return NamedSharding(mesh, _spec(var, mesh, f"parameter {name}"))


def _fresh_head_value(p: str, shape: tuple[int, ...], config: ModelConfig, seed: int) -> np.ndarray:
    if p.endswith("bias"):
        return np.zeros(shape, np.float32)
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) / (config.hidden_size + 1)).astype(np.float32)


def _load_plan(
    params: dict[str, nnx.Variable],
    reader: SafetensorsDir,
    kind: Kind,
    found_kind: Kind,
    layout: Layout,
    num_layers: int,
    tied: bool,
) -> dict[str, Mapping]:
    """Map every parameter to its tensor(s); one error lists missing, unexpected and mis-shaped tensors."""
    header_shapes = {n: info.shape for n, info in reader.tensors.items()}
    available = set(header_shapes)
    plan: dict[str, Mapping] = {}
    missing, misshaped = [], []
    used: set[str] = set()
    for p, var in params.items():
        mapping = hf_mapping(p, layout=layout)
        if mapping is None:
            continue  # OpenRLHF head bias: no tensor, stays zero
        if p.startswith("v_head.") and found_kind == "causal_lm":
            continue  # starting a reward model from a causal LM: fresh head
        want = mapping.hf_shape(mapping.layer_shape(var.shape))
        complete = True
        for name in mapping.hf_names(num_layers):
            used.add(name)
            if name not in available:
                missing.append(f"{name} (expected shape {want})")
                complete = False
            elif tuple(header_shapes[name]) != tuple(want):
                misshaped.append(f"{name}: shape {tuple(header_shapes[name])}, expected {want}")
        if complete:
            plan[p] = mapping
    allowed_extra = set()
    if kind == "reward" or tied:
        # AceCodeRM keeps the LM head (a reward model does not use it); some tied checkpoints store a copy.
        allowed_extra.add("lm_head.weight")
    if kind == "causal_lm" and found_kind == "reward":
        allowed_extra |= {n for n in available if n.startswith(("v_head.", "score."))}
    unexpected = sorted(n for n in available - used - allowed_extra if not IGNORED_HF.fullmatch(n))
    if missing or unexpected or misshaped:
        parts = [f"{reader.path}: checkpoint does not fit the {kind} model"]
        if missing:
            parts.append("missing tensors: " + "; ".join(missing))
        if unexpected:
            shapes = {n: header_shapes[n] for n in unexpected}
            parts.append(
                "unexpected tensors: " + "; ".join(f"{n} shape {tuple(s)}" for n, s in shapes.items())
            )
        if misshaped:
            parts.append("mis-shaped tensors: " + "; ".join(misshaped))
        raise CheckpointError("\n  ".join(parts))
    return plan


# ---------------------------------------------------------------------------------------------- save
def save_pretrained(
    model: CausalLM | RewardModel,
    out_dir: str | Path,
    *,
    layout: Layout = "acecoderm",
    tokenizer_dir: str | Path | None = None,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    dtype: Any = None,
    drop_head_bias: bool = False,
) -> Path:
    """Write a HF checkpoint dir that transformers loads (config.json, safetensors (+index), tokenizer files).

    Causal LMs load as Qwen2ForCausalLM / LlamaForCausalLM. Reward models: "acecoderm" writes the backbone as
    a causal LM (tied config: the LM head is not part of a reward model) plus `v_head.summary.{weight,bias}`;
    "openrlhf" writes `model.*` + `score.weight`, which transformers loads as *ForSequenceClassification
    (num_labels=1) and OpenRLHF as its reward model. `dtype` (default: the parameters' dtype) is the saved
    dtype.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config: ModelConfig = model.config
    is_reward = isinstance(model, RewardModel)
    params = flat_params(model)
    save_dtype = np.dtype(jnp.dtype(dtype)) if dtype is not None else None

    entries, fetchers = [], {}
    for p, var in params.items():
        mapping = hf_mapping(p, layout=layout)
        if mapping is None:
            bias = np.asarray(jax.device_get(var[...]), np.float32)
            if np.any(bias != 0) and not drop_head_bias:
                raise CheckpointError(
                    f"layout {layout!r} has no tensor for {p} but its value is {bias.tolist()}; OpenRLHF's "
                    "score head has no bias (drop_head_bias=True drops it: scores shift by that constant)"
                )
            continue
        d = save_dtype or np.dtype(var.dtype)
        hf_shape = mapping.hf_shape(mapping.layer_shape(var.shape))
        for i, name in enumerate(mapping.hf_names(config.num_layers)):
            entries.append((name, d, hf_shape))
            fetchers[name] = (mapping, var, d, i if mapping.stacked else None)
    entries.sort(key=lambda e: _natural_key(e[0]))  # layer by layer, as transformers writes them

    def fetch(name: str) -> np.ndarray:
        mapping, var, d, layer = fetchers[name]
        value = var[...] if layer is None else _take_layer(var[...], layer)  # one layer on the host at a time
        return mapping.to_hf(_to_host(value)).astype(d)

    if jax.process_index() == 0:
        _clear_old_weights(out)
        write_safetensors(
            out,
            entries,
            fetch,
            max_shard_bytes=max_shard_bytes,
            progress=lambda xs: tqdm(xs, desc=f"saving {out.name}", disable=len(entries) < 64, leave=False),
        )
        torch_dtype = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}[
            (save_dtype or np.dtype(next(iter(params.values())).dtype)).name
        ]
        hf = _export_config(config, is_reward, layout, torch_dtype)
        (out / "config.json").write_text(json.dumps(hf, indent=2) + "\n")
        if tokenizer_dir is not None:
            copy_tokenizer(tokenizer_dir, out)
    else:
        for name, _, _ in entries:  # every process takes part in the gathers, in the same order
            fetch(name)
    return out


def _export_config(config: ModelConfig, is_reward: bool, layout: Layout, torch_dtype: str) -> dict[str, Any]:
    if not is_reward:
        return config.to_hf_config(torch_dtype=torch_dtype)
    if layout == "acecoderm":
        # A reward model has no trained LM head; marking embeddings tied makes transformers load the backbone
        # as a complete Qwen2ForCausalLM instead of initialising a random lm_head.
        hf = config.replace(tie_word_embeddings=True).to_hf_config(torch_dtype=torch_dtype)
        hf["acecoder_reward_head"] = "v_head.summary"
        return hf
    arch = {"qwen2": "Qwen2ForSequenceClassification", "llama": "LlamaForSequenceClassification"}[
        config.architecture
    ]
    hf = config.to_hf_config(architectures=[arch], torch_dtype=torch_dtype)
    hf.update(num_labels=1, id2label={"0": "LABEL_0"}, label2id={"LABEL_0": 0})
    hf.update(value_head_prefix="score", normalize_reward=False)  # what OpenRLHF reads
    return hf


@jax.jit
def _take_layer(stacked: jax.Array, layer: jax.Array) -> jax.Array:
    return jax.lax.dynamic_index_in_dim(stacked, layer, keepdims=False)


def _natural_key(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _to_host(x: jax.Array) -> np.ndarray:
    if x.is_fully_addressable:
        return np.asarray(jax.device_get(x))
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def _clear_old_weights(out: Path) -> None:
    """Remove safetensors from an earlier save so a smaller re-save does not leave stale shards behind."""
    for f in [*out.glob("model*.safetensors"), out / "model.safetensors.index.json"]:
        if f.exists():
            f.unlink()


def copy_tokenizer(src: str | Path, dst: Path) -> list[Path]:
    """Copy the tokenizer files that exist in `src` to `dst`."""
    src = Path(src)
    if not src.is_dir():
        raise CheckpointError(f"tokenizer_dir {src}: not a directory")
    copied = []
    for name in TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
            copied.append(dst / name)
    if not copied:
        raise CheckpointError(f"tokenizer_dir {src}: none of {', '.join(TOKENIZER_FILES)} found")
    return copied


def checkpoint_kind(path: str | Path) -> Literal["causal_lm", "reward"]:
    """Whether a HF checkpoint dir holds a causal LM or a reward model (from its tensor names)."""
    return detect_layout(SafetensorsDir(path).names())[0]


__all__ = [
    "CheckpointError",
    "UnsupportedArchitectureError",
    "checkpoint_kind",
    "detect_layout",
    "from_pretrained",
    "save_pretrained",
]
