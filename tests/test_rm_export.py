"""`acecoder export-hf`: the exported AceCodeRM checkpoint scores pairs exactly as the trained model does."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from rm_runs import ROOT, reference_run
from safetensors.numpy import load_file
from transformers import AutoTokenizer, Qwen2Model

from acecoder_jax.cli import main as acecoder
from acecoder_jax.common.config import load_config
from acecoder_jax.data.pair_batches import collate
from acecoder_jax.data.pairs import load_pairs


def _trained_scores(run_dir, step, ids, mask):
    """Scores of the parameters the run checkpointed at `step`, through the training code's model."""
    import jax
    from flax import nnx

    from acecoder_jax.models import abstract_model
    from acecoder_jax.rm.config import RMConfig
    from acecoder_jax.rm.model_setup import model_config_for
    from acecoder_jax.train.checkpoint import RunCheckpointer

    cfg = load_config(RMConfig, run_dir / "config.yaml")
    config = model_config_for(cfg.model, dtype="float32", remat=False)
    graphdef, _ = nnx.split(abstract_model(config, "reward"))
    target = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(
            a.shape, a.dtype, sharding=jax.sharding.SingleDeviceSharding(jax.devices()[0])
        ),
        nnx.state(abstract_model(config, "reward"), nnx.Param),
    )
    checkpointer = RunCheckpointer(run_dir / "checkpoints", every=1, keep=100, async_save=False)
    params = checkpointer.restore_params(step, target)
    checkpointer.close()
    return np.asarray(nnx.merge(graphdef, params)(ids, mask))


@pytest.fixture(scope="module")
def eval_batch():
    tokenizer = AutoTokenizer.from_pretrained(
        str(__import__("acecoder_jax.common.tokenizer", fromlist=["x"]).qwen25_tokenizer_dir())
    )
    pairs, _ = load_pairs(ROOT / "tests/fixtures/rm_pairs_tiny_eval.jsonl", tokenizer, 192)
    batch = collate(pairs, np.arange(8), 128, tokenizer.pad_token_id)
    ids = np.concatenate([batch["chosen_ids"], batch["rejected_ids"]])
    mask = np.concatenate([batch["chosen_mask"], batch["rejected_mask"]])
    return ids, mask


def test_export_round_trip_scores_equal_the_trained_model(tmp_path, eval_batch):
    from acecoder_jax.models import from_pretrained

    run_dir = tmp_path / "run"
    shutil.copytree(reference_run((8, 1, 1)), run_dir)
    out = tmp_path / "hf"
    assert acecoder(["export-hf", "--run-dir", str(run_dir), "--out", str(out), "--dtype", "float32"]) == 0
    ids, mask = eval_batch
    trained = _trained_scores(run_dir, 6, ids, mask)

    # Our loader reads the AceCodeRM layout back as a reward model: the same numbers, bit for bit.
    ours = np.asarray(from_pretrained(out, kind="reward")(ids, mask))
    np.testing.assert_array_equal(ours, trained)

    # transformers loads the backbone; the head is AceCodeRM's v_head.summary applied at the last real token.
    backbone = Qwen2Model.from_pretrained(out, torch_dtype=torch.float32).eval()
    head = load_file(out / "model.safetensors")
    with torch.no_grad():
        hidden = backbone(
            input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)
        ).last_hidden_state.numpy()
    last = mask.sum(1) - 1
    theirs = (
        hidden[np.arange(len(ids)), last] @ head["v_head.summary.weight"].T[:, 0]
        + head["v_head.summary.bias"][0]
    )
    np.testing.assert_allclose(theirs, trained, rtol=1e-4, atol=1e-4)
    assert (out / "tokenizer.json").is_file() and json.loads((out / "config.json").read_text())[
        "architectures"
    ] == ["Qwen2ForCausalLM"]
    assert AutoTokenizer.from_pretrained(out)("def f():")["input_ids"]

    # An older step exports too, and differs (the run trained between them).
    earlier = tmp_path / "hf2"
    assert (
        acecoder(
            [
                "export-hf",
                "--run-dir",
                str(run_dir),
                "--out",
                str(earlier),
                "--step",
                "2",
                "--dtype",
                "float32",
            ]
        )
        == 0
    )
    assert not np.array_equal(np.asarray(from_pretrained(earlier, kind="reward")(ids, mask)), trained)


def test_export_errors_name_the_problem(tmp_path, capsys):
    assert acecoder(["export-hf", "--run-dir", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    assert "no config.yaml" in capsys.readouterr().err
    run_dir = tmp_path / "run"
    shutil.copytree(reference_run((8, 1, 1)), run_dir)
    assert (
        acecoder(["export-hf", "--run-dir", str(run_dir), "--out", str(tmp_path / "o"), "--step", "3"]) == 1
    )
    assert "no checkpoint at step 3; have [2, 4, 6]" in capsys.readouterr().err
