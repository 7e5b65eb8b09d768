"""RunCheckpointer (orbax) and metrics files: keep-N, incomplete saves ignored, restore onto another mesh."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec

from acecoder_jax.sharding import MeshConfig, make_mesh
from acecoder_jax.train.checkpoint import CheckpointMismatchError, RunCheckpointer, check_compatible
from acecoder_jax.train.metrics import MetricsWriter, read_metrics, truncate_metrics
from acecoder_jax.train.state import abstract_of


def _state(mesh, spec, scale):
    sharding = NamedSharding(mesh, spec)
    return {
        "step": jnp.asarray(scale, jnp.int32),
        "params": {"w": jax.device_put(np.arange(64, dtype=np.float32).reshape(8, 8) * scale, sharding)},
    }


def test_saves_every_k_keeps_n_and_restores_onto_another_mesh(tmp_path):
    mesh_a = make_mesh(MeshConfig(data=1, fsdp=8, tensor=1))
    checkpointer = RunCheckpointer(tmp_path / "ck", every=2, keep=2, async_save=True)
    for step in range(1, 7):
        saved = checkpointer.save(
            step, _state(mesh_a, PartitionSpec("fsdp"), step), {"next_index": step}, {"m": 1}
        )
        assert saved == (step % 2 == 0)
    checkpointer.close()

    (tmp_path / "ck" / "8.orbax-checkpoint-tmp-1234").mkdir()  # what a save killed mid-write leaves
    reopened = RunCheckpointer(tmp_path / "ck", every=2, keep=2)
    assert reopened.all_steps() == [4, 6] and reopened.latest_step() == 6
    assert reopened.read_meta(6) == {"m": 1}

    mesh_b = make_mesh(MeshConfig(data=2, fsdp=2, tensor=2))
    target = abstract_of(_state(mesh_b, PartitionSpec(None, "tensor"), 0))
    state, data_state, meta = reopened.restore(6, target)
    reopened.close()
    assert data_state == {"next_index": 6} and meta == {"m": 1} and int(state["step"]) == 6
    np.testing.assert_array_equal(np.asarray(state["params"]["w"]), np.arange(64).reshape(8, 8) * 6)
    assert state["params"]["w"].sharding == target["params"]["w"].sharding


def test_a_checkpoint_of_another_model_is_refused_with_the_difference(tmp_path):
    saved = {"model_config": {"hidden_size": 64, "num_layers": 2}}
    check_compatible(saved, {"model_config": {"hidden_size": 64, "num_layers": 2}}, tmp_path)
    with pytest.raises(CheckpointMismatchError, match="hidden_size: checkpoint 64 vs run 128"):
        check_compatible(saved, {"model_config": {"hidden_size": 128, "num_layers": 2}}, tmp_path)


def test_metrics_are_cut_back_to_the_resumed_step_and_a_torn_line_repaired(tmp_path):
    path = tmp_path / "metrics.jsonl"
    rows = [{"step": s, "loss": 1.0 / s} for s in range(1, 6)] + [{"step": 4, "split": "eval", "loss": 0.1}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 6, "lo')
    truncate_metrics(path, 3)
    assert [r["step"] for r in read_metrics(path)] == [1, 2, 3] and read_metrics(path, "eval") == []

    writer = MetricsWriter(tmp_path, resume_step=2)
    writer.write({"step": 3, "loss": 0.5, "accuracy": 1.0})
    writer.write({"step": 3, "split": "eval", "loss": 0.4, "accuracy": 1.0})
    plots = writer.plot()
    writer.close()
    assert [r["loss"] for r in read_metrics(path)] == [1.0, 0.5, 0.5]
    assert read_metrics(path, "eval") == [{"step": 3, "split": "eval", "loss": 0.4, "accuracy": 1.0}]
    assert {p.name for p in plots} == {"loss.png", "accuracy.png"}
