"""The Bradley-Terry loss and the train step's gradient accumulation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from acecoder_jax.models import ModelConfig, init_model
from acecoder_jax.rm.loss import bradley_terry_sums
from acecoder_jax.rm.step import make_train_step, to_global
from acecoder_jax.sharding import MeshConfig, make_mesh
from acecoder_jax.train.optimizer import adamw, warmup_cosine
from acecoder_jax.train.state import init_train_state, shardings_of, split_model


def test_bradley_terry_loss_matches_its_formula():
    rc = np.array([2.0, -1.0, 0.5, 0.0], np.float32)
    rr = np.array([1.0, 0.5, 0.5, -3.0], np.float32)
    w = np.array([1.0, 1.0, 1.0, 0.0], np.float32)  # the last pair is padding
    sums = bradley_terry_sums(
        jnp.asarray(rc), jnp.asarray(rr), jnp.asarray(w), margin=0.5, center_rewards_coef=0.1
    )
    diff = (rc - rr)[:3]
    bt = np.log1p(np.exp(-(diff - 0.5)))  # -log sigmoid(x) = log(1 + e^-x)
    np.testing.assert_allclose(float(sums["bt_loss"]), bt.sum(), rtol=1e-6)
    np.testing.assert_allclose(float(sums["loss"]), (bt + 0.1 * (rc + rr)[:3] ** 2).sum(), rtol=1e-6)
    assert float(sums["accuracy"]) == 1.0  # only pair 0 has r_c > r_r; a tie (pair 2) counts as wrong
    np.testing.assert_allclose(float(sums["margin"]), diff.sum(), rtol=1e-6)


def test_gradient_accumulation_gives_the_update_of_the_whole_batch():
    config = ModelConfig.preset("tiny")
    mesh = make_mesh(MeshConfig(data=1, fsdp=2, tensor=1), devices=jax.devices()[:2])
    rng = np.random.default_rng(0)
    batch = {}
    for side in ("chosen", "rejected"):
        lengths = rng.integers(5, 17, size=8)
        mask = (np.arange(16)[None, :] < lengths[:, None]).astype(np.int32)
        batch[f"{side}_ids"] = rng.integers(0, 151643, size=(8, 16)).astype(np.int32) * mask
        batch[f"{side}_mask"] = mask
    batch["weight"] = np.ones(8, np.float32)
    results = []
    for micro_batches in (1, 4):
        with jax.set_mesh(mesh):
            graphdef, params, rest = split_model(init_model(config, kind="reward", seed=0, mesh=mesh))
            schedule = warmup_cosine(1e-3, 10, 0.0)
            # A large eps keeps Adam's first update linear in tiny gradients, so the parameters compare tightly
            # (with eps=1e-8 the first update is lr * sign(g) and fp32 noise in a ~1e-9 gradient flips it).
            tx = adamw(schedule, grad_clip=1.0, eps=1e-3)
            state = init_train_state(params, tx, 0)
            step = make_train_step(
                graphdef,
                tx,
                schedule,
                mesh=mesh,
                state_shardings=shardings_of(state),
                rest_shardings=shardings_of(rest),
                micro_batches=micro_batches,
                margin=0.0,
                center_rewards_coef=0.0,
            )
            state, metrics = step(state, rest, to_global(mesh, batch))
            results.append((jax.device_get(metrics), jax.device_get(state["params"])))
    (whole, params_whole), (accumulated, params_accumulated) = results
    for key in ("loss", "accuracy", "margin", "grad_norm", "lr"):
        np.testing.assert_allclose(accumulated[key], whole[key], rtol=1e-5, err_msg=key)
    for a, b in zip(jax.tree.leaves(params_accumulated), jax.tree.leaves(params_whole)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
