"""The shared train/eval steps: exact global normalisation, micro-batching, metric weights, extrema, RNG."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from train_toy import loss_sums, make_rows, toy_model

from acecoder_jax.train.batch import batch_axis_size, batch_sharding, put_batch
from acecoder_jax.train.state import init_train_state, shardings_of
from acecoder_jax.train.step import make_eval_step, make_train_step

ROWS, LR = 16, 0.1


def _run_step(micro_batches: int, mesh_shape: tuple[int, int, int] = (2, 4, 1)):
    mesh, graphdef, params, rest = toy_model(mesh_shape)
    schedule = optax.constant_schedule(LR)
    tx = optax.sgd(schedule)
    state = init_train_state(params, tx, seed=3)
    step = make_train_step(
        graphdef,
        tx,
        schedule,
        loss_sums,
        mesh=mesh,
        state_shardings=shardings_of(state),
        rest_shardings=shardings_of(rest),
        batch_shardings=batch_sharding(mesh),
        micro_batches=micro_batches,
        metric_weights={"token_err": "token_weight"},
        extrema={"err_max": "max"},
    )
    rows = make_rows(0, ROWS)
    with jax.set_mesh(mesh):
        new_state, metrics = step(state, rest, put_batch(mesh, rows))
    return jax.device_get(new_state), {k: float(v) for k, v in jax.device_get(metrics).items()}


def _expected(rows):
    """The same update computed directly: SGD on sum(w * err) / sum(w) at the initial parameters."""
    _, graphdef, params, rest = toy_model()
    params = jax.device_get(params)

    def mean_loss(p):
        return loss_sums(nnx.merge(graphdef, p, rest), rows)["loss"] / rows["weight"].sum()

    grads = jax.grad(mean_loss)(params)
    sums = {k: float(v) for k, v in loss_sums(nnx.merge(graphdef, params, rest), rows).items()}
    new = jax.tree.map(lambda p, g: p - LR * g, params, grads)
    return new, float(optax.tree.norm(grads)), sums


@pytest.mark.parametrize("micro_batches", [1, 2, 4])
def test_update_and_metrics_equal_the_globally_normalised_loss_whatever_the_micro_batching(micro_batches):
    rows = make_rows(0, ROWS)
    new_state, metrics = _run_step(micro_batches)
    want_params, want_norm, sums = _expected(rows)
    for got, want in zip(jax.tree.leaves(new_state["params"]), jax.tree.leaves(want_params)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(metrics["grad_norm"], want_norm, rtol=1e-5)
    np.testing.assert_allclose(metrics["loss"], sums["loss"] / rows["weight"].sum(), rtol=1e-5)
    np.testing.assert_allclose(metrics["abs_err"], sums["abs_err"] / rows["weight"].sum(), rtol=1e-5)
    # metric_weights: normalised by the named field's global sum, not by the loss weight
    np.testing.assert_allclose(
        metrics["token_err"], sums["token_err"] / rows["token_weight"].sum(), rtol=1e-5
    )
    # extrema: the max over all micro-batches, not a sum and not divided
    np.testing.assert_allclose(metrics["err_max"], sums["err_max"], rtol=1e-6)
    assert metrics["lr"] == pytest.approx(LR)
    assert int(new_state["step"]) == 1
    key = jax.random.fold_in(jax.random.key(3), 0)
    np.testing.assert_array_equal(new_state["rng"], jax.random.key_data(key))


def test_micro_batches_interleave_rows_and_a_mesh_change_keeps_the_update():
    base, _ = _run_step(4, (2, 4, 1))
    other, _ = _run_step(2, (1, 2, 4))
    for got, want in zip(jax.tree.leaves(other["params"]), jax.tree.leaves(base["params"])):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_extrema_must_be_min_or_max():
    mesh, graphdef, params, rest = toy_model()
    tx = optax.sgd(0.1)
    state = init_train_state(params, tx, seed=0)
    with pytest.raises(ValueError, match=r"extrema\['err_max'\] = 'mean': expected 'min' or 'max'"):
        make_train_step(
            graphdef,
            tx,
            optax.constant_schedule(0.1),
            loss_sums,
            mesh=mesh,
            state_shardings=shardings_of(state),
            rest_shardings=shardings_of(rest),
            batch_shardings=batch_sharding(mesh),
            micro_batches=1,
            extrema={"err_max": "mean"},
        )


def test_eval_step_returns_sums_and_the_summed_weights():
    mesh, graphdef, params, rest = toy_model()
    step = make_eval_step(
        graphdef,
        loss_sums,
        mesh=mesh,
        param_shardings=shardings_of(params),
        rest_shardings=shardings_of(rest),
        batch_shardings={k: batch_sharding(mesh) for k in ("x", "y", "weight", "token_weight")},
        metric_weights={"token_err": "token_weight"},
    )
    rows = make_rows(1, ROWS)
    with jax.set_mesh(mesh):
        out = {k: float(v) for k, v in jax.device_get(step(params, rest, put_batch(mesh, rows))).items()}
    want = loss_sums(nnx.merge(graphdef, jax.device_get(params), rest), rows)
    for key in ("loss", "abs_err", "token_err"):
        np.testing.assert_allclose(out[key], float(want[key]), rtol=1e-5)
    assert out["weight"] == rows["weight"].sum() and out["token_weight"] == rows["token_weight"].sum()


def test_batch_axis_size_and_put_batch_split_rows_over_data_and_fsdp():
    mesh, *_ = toy_model((2, 2, 2))
    assert batch_axis_size(mesh) == 4
    batch = put_batch(mesh, {"x": np.arange(8 * 3, dtype=np.float32).reshape(8, 3)})
    assert batch["x"].shape == (8, 3)
    assert {shard.data.shape for shard in batch["x"].addressable_shards} == {(2, 3)}
    np.testing.assert_array_equal(np.asarray(batch["x"]), np.arange(24).reshape(8, 3))
    assert jnp.sum(batch["x"]) == 276
