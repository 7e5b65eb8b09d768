"""A toy weighted regression for the training-core tests: a linear NNX model, loss sums, a batch source."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec

from acecoder_jax.sharding import MeshConfig, make_mesh
from acecoder_jax.train.state import split_model

FEATURES = 3


class Linear(nnx.Module):
    """y = x . w + b."""

    def __init__(self, seed: int = 0) -> None:
        key = jax.random.key(seed)
        self.w = nnx.Param(jax.random.normal(key, (FEATURES,), jnp.float32))
        self.b = nnx.Param(jnp.zeros((), jnp.float32))

    def __call__(self, x: jax.Array) -> jax.Array:
        return x @ self.w[...] + self.b[...]


def loss_sums(model: nnx.Module, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """Weighted squared error; an error metric normalised by `token_weight`; the largest error (extremum)."""
    err = jnp.square(model(batch["x"]) - batch["y"])
    return {
        "loss": jnp.sum(batch["weight"] * err),
        "abs_err": jnp.sum(batch["weight"] * jnp.sqrt(err)),
        "token_err": jnp.sum(batch["token_weight"] * err),
        "err_max": jnp.max(jnp.where(batch["weight"] > 0, err, -jnp.inf)),
    }


def make_rows(position: int, rows: int) -> dict[str, np.ndarray]:
    """The deterministic batch number `position`: features, targets, weights (some rows are padding)."""
    rng = np.random.default_rng(position)
    x = rng.normal(size=(rows, FEATURES)).astype(np.float32)
    return {
        "x": x,
        "y": (x @ np.array([1.0, -2.0, 0.5], np.float32) + 0.3).astype(np.float32),
        "weight": (rng.random(rows) > 0.25).astype(np.float32),
        "token_weight": rng.integers(1, 5, size=rows).astype(np.float32),
    }


class ToySource:
    """make_rows(0), make_rows(1), ... as a BatchSource; `on_batch(position)` is called before each."""

    def __init__(self, rows: int, on_batch: Any = None) -> None:
        self.rows, self.position, self.on_batch = rows, 0, on_batch

    def next_batch(self, state: Any) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        if self.on_batch is not None:
            self.on_batch(self.position)
        batch = make_rows(self.position, self.rows)
        self.position += 1
        return batch, {"position": self.position - 1}

    def get_state(self) -> dict[str, Any]:
        return {"position": self.position}

    def set_state(self, state: dict[str, Any]) -> None:
        self.position = int(state["position"])


def toy_model(mesh_shape: tuple[int, int, int] = (2, 4, 1)) -> tuple[Any, nnx.GraphDef, nnx.State, nnx.State]:
    """(mesh, graphdef, params replicated on the mesh, rest)."""
    mesh = make_mesh(MeshConfig(*mesh_shape))
    graphdef, params, rest = split_model(Linear())
    params = jax.device_put(params, NamedSharding(mesh, PartitionSpec()))
    return mesh, graphdef, params, rest
