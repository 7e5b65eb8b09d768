"""Build the causal LM an SFT run trains: a preset or configs/model YAML (random init) or any Hugging Face
checkpoint directory, with its parameters placed on the mesh.

Master weights are float32 whatever the checkpoint stores; `dtype` is the compute dtype.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jax.sharding import Mesh


class PolicySpecError(ValueError):
    """A `model=` that is not a causal LM this trainer can start from."""


def policy_model_config(spec: str, *, dtype: str, remat: bool, scan_unroll: int | None = None) -> Any:
    """The ModelConfig of a preset, a model YAML or a checkpoint dir's config.json, with our numerics."""
    from acecoder_jax.common.config import ConfigError
    from acecoder_jax.models import training_model_config

    if not spec:
        raise PolicySpecError(
            "model is not set: give a preset, a configs/model/*.yaml or a HF checkpoint directory"
        )
    try:
        return training_model_config(spec, dtype=dtype, remat=remat, scan_unroll=scan_unroll)
    except ConfigError as err:
        raise PolicySpecError(str(err)) from err


def build_policy(
    spec: str, *, dtype: str, remat: bool, seed: int, mesh: Mesh, scan_unroll: int | None = None
) -> Any:
    """A CausalLM on `mesh`: loaded from a checkpoint dir, else randomly initialised from `seed`."""
    from acecoder_jax.models import checkpoint_kind, from_pretrained, init_model

    config = policy_model_config(spec, dtype=dtype, remat=remat, scan_unroll=scan_unroll)
    if Path(spec).is_dir():
        if checkpoint_kind(spec) != "causal_lm":
            raise PolicySpecError(
                f"model {spec!r} holds a reward model (a scalar head); SFT trains a causal LM: give the "
                "policy's checkpoint instead"
            )
        return from_pretrained(
            spec,
            dtype=dtype,
            param_dtype="float32",
            mesh=mesh,
            kind="causal_lm",
            remat=remat,
            scan_unroll=config.scan_unroll,
        )
    return init_model(config, kind="causal_lm", seed=seed, mesh=mesh)


def policy_identity(config: Any) -> dict[str, Any]:
    """What makes a checkpoint loadable into this model: shapes, architecture and embedding tying."""
    keep = (
        "vocab_size", "hidden_size", "intermediate_size", "num_layers", "num_heads", "num_kv_heads",
        "head_dim", "architecture", "attention_bias", "tie_word_embeddings",
    )  # fmt: skip
    return {"kind": "causal_lm"} | {k: getattr(config, k) for k in keep}
