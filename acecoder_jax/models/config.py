"""`ModelConfig`: one frozen dataclass for Qwen2 (Qwen2.5 / Qwen2.5-Coder) and Llama 3.x decoders.

Presets are classmethods; their numbers are copied from the models' real Hugging Face `config.json` files (the
`-Instruct` repos that AceCoder uses; the base repos have the same shapes). `from_pretrained` never uses a
preset: it reads the checkpoint's own config.json through `from_hf_config`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jax.numpy as jnp

Architecture = Literal["qwen2", "llama"]

HF_ARCHITECTURES: dict[str, Architecture] = {
    "Qwen2ForCausalLM": "qwen2",
    "Qwen2ForSequenceClassification": "qwen2",
    "Qwen2Model": "qwen2",
    "LlamaForCausalLM": "llama",
    "LlamaForSequenceClassification": "llama",
    "LlamaModel": "llama",
}
MODEL_TYPES: dict[str, Architecture] = {"qwen2": "qwen2", "llama": "llama"}


class UnsupportedArchitectureError(ValueError):
    """A checkpoint whose architecture this project has no model code for."""


@dataclass(frozen=True)
class ModelConfig:
    """Decoder shape and numerics; `dtype` is the compute dtype, `param_dtype` the stored (master) one."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    architecture: Architecture = "qwen2"
    rope_theta: float = 1_000_000.0
    # HF `rope_scaling` dict (only rope_type "llama3" or none is supported).
    rope_scaling: dict[str, Any] | None = None
    rms_norm_eps: float = 1e-6
    tie_word_embeddings: bool = False
    attention_bias: bool = True  # Qwen2: q/k/v have bias, o_proj does not; Llama 3: no bias anywhere
    max_position_embeddings: int = 32768
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    pad_token_id: int | None = None
    dtype: str = "float32"
    param_dtype: str = "float32"
    remat: bool = False
    # nothing_saveable recomputes the whole block; dots_saveable keeps matmul outputs (more memory, faster).
    remat_policy: Literal["nothing_saveable", "dots_saveable", "dots_with_no_batch_dims_saveable"] = (
        "nothing_saveable"
    )
    # Layers per iteration of the layer `lax.scan` (1: one compiled layer body, the default for real models;
    # num_layers: the stack fully unrolled, which lets XLA:CPU fuse across layers: 1.2-1.4x on the world's
    # 4-layer model, docs/sft.md). A runtime setting like remat: checkpoints and HF exports do not record it.
    scan_unroll: int = 1
    extra_hf: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.scan_unroll < 1:
            raise ValueError(f"scan_unroll={self.scan_unroll}: expected >= 1 (layers per scan iteration)")
        if self.architecture not in ("qwen2", "llama"):
            raise UnsupportedArchitectureError(f"architecture {self.architecture!r}: expected qwen2 or llama")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"num_heads={self.num_heads} is not a multiple of num_kv_heads={self.num_kv_heads}"
            )
        jnp.dtype(self.dtype), jnp.dtype(self.param_dtype)  # fail early on a bad dtype name
        if self.rope_scaling is not None:
            rope_type = self.rope_scaling.get("rope_type", self.rope_scaling.get("type", "default"))
            if rope_type not in ("default", "llama3"):
                raise UnsupportedArchitectureError(
                    f"rope_scaling type {rope_type!r}: only llama3 is supported"
                )

    def __hash__(self) -> int:  # dict fields are unhashable; jit static args need a hash
        return hash(self.preset_key())

    def preset_key(self) -> tuple:
        """A hashable identity of every field (dicts frozen to sorted tuples)."""
        out = []
        for f in dataclasses.fields(self):
            if not f.compare:
                continue
            value = getattr(self, f.name)
            if isinstance(value, dict):
                value = tuple(sorted((k, str(v)) for k, v in value.items()))
            elif isinstance(value, list):
                value = tuple(value)
            out.append(value)
        return tuple(out)

    # -------------------------------------------------------------- derived
    @property
    def compute_dtype(self) -> jnp.dtype:
        """The dtype matmuls run in."""
        return jnp.dtype(self.dtype)

    @property
    def weight_dtype(self) -> jnp.dtype:
        """The dtype parameters are stored in."""
        return jnp.dtype(self.param_dtype)

    @property
    def hf_architecture(self) -> str:
        """The `architectures[0]` transformers expects for the causal LM."""
        return {"qwen2": "Qwen2ForCausalLM", "llama": "LlamaForCausalLM"}[self.architecture]

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    # -------------------------------------------------------------- presets
    @classmethod
    def preset(cls, name: str, **overrides: Any) -> ModelConfig:
        """A named preset ("tiny", "qwen2.5-coder-7b", "llama-3.1-8b", ...) with optional field overrides."""
        if name not in PRESETS:
            raise KeyError(f"unknown model preset {name!r}; known: {sorted(PRESETS)}")
        return PRESETS[name]().replace(**overrides)

    @classmethod
    def tiny(cls) -> ModelConfig:
        """CPU-test size with the real Qwen2.5 vocabulary (151936 rows: the tokenizer's ids all fit)."""
        return cls._qwen25(64, 128, 2, 4, 2, 151936, max_position_embeddings=4096, pad_token_id=151643)

    @classmethod
    def world_tiny(cls) -> ModelConfig:
        """The policy world's decoder (~0.92M parameters) over the world tokenizer's 1024 ids
        (acecoder_jax/world/tokenizer.py: pad/bos 1002, <|im_start|> 1003, <|im_end|> = eos 1004)."""
        return cls._qwen25(
            128,
            384,
            4,
            4,
            2,
            1024,
            max_position_embeddings=1024,
            bos_token_id=1002,
            eos_token_id=1004,
            pad_token_id=1002,
            tie_word_embeddings=True,
        )

    @classmethod
    def _qwen25(
        cls, hidden: int, inter: int, layers: int, heads: int, kv: int, vocab: int, **kw: Any
    ) -> ModelConfig:
        base: dict[str, Any] = dict(
            vocab_size=vocab,
            hidden_size=hidden,
            intermediate_size=inter,
            num_layers=layers,
            num_heads=heads,
            num_kv_heads=kv,
            head_dim=hidden // heads,
            architecture="qwen2",
            rope_theta=1_000_000.0,
            rms_norm_eps=1e-6,
            attention_bias=True,
            max_position_embeddings=32768,
            bos_token_id=151643,
            eos_token_id=151645,
            pad_token_id=None,
            tie_word_embeddings=vocab == 151936,  # 0.5B-3B tie (vocab 151936); 7B+ untied (vocab 152064)
        )
        base.update(kw)
        return cls(**base)

    # Values from Qwen/Qwen2.5-*-Instruct and Qwen/Qwen2.5-Coder-*-Instruct config.json on the HF hub.
    @classmethod
    def qwen25_0_5b(cls) -> ModelConfig:
        """Qwen2.5-0.5B(-Instruct)."""
        return cls._qwen25(896, 4864, 24, 14, 2, 151936)

    @classmethod
    def qwen25_1_5b(cls) -> ModelConfig:
        """Qwen2.5-1.5B(-Instruct)."""
        return cls._qwen25(1536, 8960, 28, 12, 2, 151936)

    @classmethod
    def qwen25_3b(cls) -> ModelConfig:
        """Qwen2.5-3B(-Instruct)."""
        return cls._qwen25(2048, 11008, 36, 16, 2, 151936)

    @classmethod
    def qwen25_7b(cls) -> ModelConfig:
        """Qwen2.5-7B(-Instruct): AceCoder's RL policy."""
        return cls._qwen25(3584, 18944, 28, 28, 4, 152064)

    @classmethod
    def qwen25_14b(cls) -> ModelConfig:
        """Qwen2.5-14B(-Instruct) (the base repo has rms_norm_eps 1e-5, max_position_embeddings 131072)."""
        return cls._qwen25(5120, 13824, 48, 40, 8, 152064)

    @classmethod
    def qwen25_32b(cls) -> ModelConfig:
        """Qwen2.5-32B(-Instruct) (the base repo has rms_norm_eps 1e-5, max_position_embeddings 131072)."""
        return cls._qwen25(5120, 27648, 64, 40, 8, 152064)

    @classmethod
    def llama31_8b(cls) -> ModelConfig:
        """Llama-3.1-8B(-Instruct), values from meta-llama/Llama-3.1-8B-Instruct config.json."""
        return cls(
            vocab_size=128256,
            hidden_size=4096,
            intermediate_size=14336,
            num_layers=32,
            num_heads=32,
            num_kv_heads=8,
            head_dim=128,
            architecture="llama",
            rope_theta=500_000.0,
            rope_scaling={
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192,
            },
            rms_norm_eps=1e-5,
            tie_word_embeddings=False,
            attention_bias=False,
            max_position_embeddings=131072,
            bos_token_id=128000,
            eos_token_id=[128001, 128008, 128009],
            pad_token_id=None,
        )

    # -------------------------------------------------------------- HF config.json
    @classmethod
    def from_hf_config(cls, hf: dict[str, Any], **overrides: Any) -> ModelConfig:
        """Build from a Hugging Face config.json dict (transformers 4 or 5 style rope fields)."""
        archs = hf.get("architectures") or []
        arch: Architecture | None = None
        for name in archs:
            if name in HF_ARCHITECTURES:
                arch = HF_ARCHITECTURES[name]
                break
        if arch is None:
            model_type = hf.get("model_type")
            if model_type in MODEL_TYPES and not archs:
                arch = MODEL_TYPES[model_type]
            elif model_type in MODEL_TYPES and all(a in ("RewardModel", "CriticModel") for a in archs):
                arch = MODEL_TYPES[model_type]  # OpenRLHF saves its wrapper class name
            else:
                raise UnsupportedArchitectureError(
                    f"unsupported architecture {archs or model_type!r} (model_type={model_type!r}); "
                    f"supported: {sorted(HF_ARCHITECTURES)}"
                )
        rope = hf.get("rope_parameters") or {}
        rope_theta = hf.get("rope_theta", rope.get("rope_theta", 10000.0))
        rope_scaling = hf.get("rope_scaling")
        if rope_scaling is None and rope.get("rope_type", "default") != "default":
            rope_scaling = {k: v for k, v in rope.items() if k != "rope_theta"}
        if rope_scaling is not None:
            rope_scaling = dict(rope_scaling)
            rope_scaling.setdefault(
                "rope_type", rope_scaling.pop("type", "default")
            )  # transformers-4 spelling
            rope_scaling.pop("type", None)
            if rope_scaling["rope_type"] == "default":
                rope_scaling = None
        if hf.get("use_sliding_window"):
            raise UnsupportedArchitectureError(
                "use_sliding_window=true: sliding-window attention is not supported"
            )
        heads = hf["num_attention_heads"]
        attention_bias = True if arch == "qwen2" else bool(hf.get("attention_bias", False))
        if arch == "llama" and hf.get("mlp_bias"):
            raise UnsupportedArchitectureError("llama with mlp_bias=true is not supported")
        if hf.get("hidden_act", "silu") != "silu":
            raise UnsupportedArchitectureError(f"hidden_act {hf.get('hidden_act')!r}: only silu is supported")
        known = {
            "architectures", "model_type", "vocab_size", "hidden_size", "intermediate_size",
            "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim", "rope_theta",
            "rope_scaling", "rope_parameters", "rms_norm_eps", "tie_word_embeddings", "attention_bias",
            "max_position_embeddings", "bos_token_id", "eos_token_id", "pad_token_id", "torch_dtype", "dtype",
            "hidden_act",
        }  # fmt: skip
        kwargs: dict[str, Any] = dict(
            vocab_size=hf["vocab_size"],
            hidden_size=hf["hidden_size"],
            intermediate_size=hf["intermediate_size"],
            num_layers=hf["num_hidden_layers"],
            num_heads=heads,
            num_kv_heads=hf.get("num_key_value_heads") or heads,
            head_dim=hf.get("head_dim") or hf["hidden_size"] // heads,
            architecture=arch,
            rope_theta=float(rope_theta),
            rope_scaling=dict(rope_scaling) if rope_scaling else None,
            rms_norm_eps=float(hf.get("rms_norm_eps", 1e-6)),
            tie_word_embeddings=bool(hf.get("tie_word_embeddings", False)),
            attention_bias=attention_bias,
            max_position_embeddings=int(hf.get("max_position_embeddings", 32768)),
            bos_token_id=hf.get("bos_token_id"),
            eos_token_id=hf.get("eos_token_id"),
            pad_token_id=hf.get("pad_token_id"),
            extra_hf={k: v for k, v in hf.items() if k not in known},
        )
        kwargs.update(overrides)
        return cls(**kwargs)

    def to_hf_config(self, *, architectures: list[str] | None = None, torch_dtype: str | None = None) -> dict:
        """The config.json dict transformers loads (RoPE fields spelled for transformers 4 and 5)."""
        hf: dict[str, Any] = dict(self.extra_hf)
        hf.update(
            architectures=architectures or [self.hf_architecture],
            model_type=self.architecture,
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            num_hidden_layers=self.num_layers,
            num_attention_heads=self.num_heads,
            num_key_value_heads=self.num_kv_heads,
            head_dim=self.head_dim,
            hidden_act="silu",
            rope_theta=self.rope_theta,
            rope_scaling=dict(self.rope_scaling) if self.rope_scaling else None,
            rms_norm_eps=self.rms_norm_eps,
            tie_word_embeddings=self.tie_word_embeddings,
            max_position_embeddings=self.max_position_embeddings,
            bos_token_id=self.bos_token_id,
            eos_token_id=self.eos_token_id,
            pad_token_id=self.pad_token_id,
            torch_dtype=torch_dtype or self.param_dtype,
        )
        # transformers 5 reads `rope_parameters`; transformers 4 (and vLLM/OpenRLHF pins) read the old keys.
        hf["rope_parameters"] = {
            "rope_type": "default",
            **(self.rope_scaling or {}),
            "rope_theta": self.rope_theta,
        }
        hf["dtype"] = hf["torch_dtype"]
        if self.architecture == "llama":
            hf.update(attention_bias=self.attention_bias, mlp_bias=False)
        else:
            hf.setdefault("use_sliding_window", False)
        return hf


def load_model_config(spec: str | Path, overrides: Sequence[str] = ()) -> ModelConfig:
    """A ModelConfig from a preset name, a YAML file (configs/model/*.yaml) or a HF checkpoint dir."""
    from acecoder_jax.common.config import ConfigError, load_config, parse_override

    path = Path(spec)
    if path.is_dir():
        file = path / "config.json"
        if not file.is_file():
            raise ConfigError(f"{path}: a model directory needs a config.json")
        config = ModelConfig.from_hf_config(json.loads(file.read_text()))
    elif path.suffix in (".yaml", ".yml"):
        return load_config(ModelConfig, path, overrides)
    elif str(spec) in PRESETS:
        config = ModelConfig.preset(str(spec))
    else:
        raise ConfigError(f"model {spec!r}: not a preset ({', '.join(sorted(PRESETS))}), YAML file or HF dir")
    for override in overrides:
        key, value = parse_override(override)
        if key not in {f.name for f in dataclasses.fields(ModelConfig)}:
            raise ConfigError(f"override {override!r}: ModelConfig has no field {key!r}")
        config = config.replace(**{key: value})
    return config


def training_model_config(
    spec: str | Path, *, dtype: str, remat: bool, scan_unroll: int | None = None
) -> ModelConfig:
    """`load_model_config(spec)` with trainer numerics: float32 master weights, `dtype` compute, `remat`,
    and `scan_unroll` (None keeps the spec's)."""
    config = load_model_config(spec)
    return config.replace(
        dtype=dtype, param_dtype="float32", remat=remat, scan_unroll=scan_unroll or config.scan_unroll
    )


PRESETS = {
    "tiny": ModelConfig.tiny,
    "world-tiny": ModelConfig.world_tiny,
    "qwen2.5-0.5b": ModelConfig.qwen25_0_5b,
    "qwen2.5-coder-0.5b": ModelConfig.qwen25_0_5b,
    "qwen2.5-1.5b": ModelConfig.qwen25_1_5b,
    "qwen2.5-coder-1.5b": ModelConfig.qwen25_1_5b,
    "qwen2.5-3b": ModelConfig.qwen25_3b,
    "qwen2.5-coder-3b": ModelConfig.qwen25_3b,
    "qwen2.5-7b": ModelConfig.qwen25_7b,
    "qwen2.5-coder-7b": ModelConfig.qwen25_7b,
    "qwen2.5-14b": ModelConfig.qwen25_14b,
    "qwen2.5-coder-14b": ModelConfig.qwen25_14b,
    "qwen2.5-32b": ModelConfig.qwen25_32b,
    "qwen2.5-coder-32b": ModelConfig.qwen25_32b,
    "llama-3.1-8b": ModelConfig.llama31_8b,
}
