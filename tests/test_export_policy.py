"""`acecoder export-hf` on train-sft / train-rl runs: the policy as a causal LM that transformers generates
from exactly as our sampler does from the checkpoint; the run's kind is read from the checkpoint or, for run
dirs from before it was recorded, from config.yaml's schema."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hf_fixtures import greedy_ids
from safetensors.numpy import load_file
from sft_runs import reference_run, short_rows
from transformers import AutoModelForCausalLM, AutoTokenizer

from acecoder_jax.cli import main as acecoder
from acecoder_jax.common.config import ConfigError, dump_yaml
from acecoder_jax.train.run_kind import RunKindError, config_class, detect_run

MAX_NEW = 12


def _prompts(tokenizer):
    """Two of the SFT run's training prompts (chat-formatted, generation prompt added) and a raw string."""
    rows = [json.loads(line) for line in short_rows().read_text().splitlines()[:2]]
    chats = [tokenizer.apply_chat_template(r["messages"][:1], add_generation_prompt=True) for r in rows]
    return [list(c if isinstance(c, list) else c["input_ids"]) for c in chats] + [
        tokenizer("def transform_number(x):")["input_ids"]
    ]


def _checkpoint_policy(run_dir, step):
    """The policy the run checkpointed at `step`, restored by the training code onto one device."""
    import jax
    from flax import nnx

    from acecoder_jax.models import abstract_model
    from acecoder_jax.sft.policy_model import policy_model_config
    from acecoder_jax.train.checkpoint import RunCheckpointer

    _, cfg = detect_run(run_dir)
    graphdef, abstract = nnx.split(
        abstract_model(policy_model_config(cfg.model, dtype="float32", remat=False), "causal_lm")
    )
    one = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    target = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=one), abstract)
    checkpointer = RunCheckpointer(run_dir / "checkpoints", every=1, keep=None, async_save=False)
    params = checkpointer.restore_params(step, target)
    checkpointer.close()
    return nnx.merge(graphdef, params)


def _export(run_dir, out, *extra):
    return acecoder(["export-hf", "--run-dir", str(run_dir), "--out", str(out), "--dtype", "float32", *extra])


def _assert_generates_like_the_checkpoint(out, run_dir, step):
    """transformers' greedy tokens and logits from the export == ours from checkpoint `step`."""
    from acecoder_jax.sample import generate

    tokenizer = AutoTokenizer.from_pretrained(out)
    prompts = _prompts(tokenizer)
    policy = _checkpoint_policy(run_dir, step)
    ours = generate(policy, prompts, max_new_tokens=MAX_NEW).tokens
    hf = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    for prompt, our_tokens in zip(prompts, ours, strict=True):
        generated = greedy_ids(hf, prompt, MAX_NEW, pad_token_id=tokenizer.pad_token_id)
        # The 6-step policy's greedy answers are repetitive: the logits check every weight too.
        with torch.no_grad():
            want = hf(generated).logits.numpy()
        assert generated[0, len(prompt) :].tolist() == our_tokens
        got = np.asarray(policy(generated.numpy().astype(np.int32), np.ones(generated.shape, np.int32)))
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


@pytest.mark.slow  # the shared 6-step SFT run (about 40 s on 2 CPU cores) plus the exports
def test_sft_export_generates_greedily_like_the_checkpoint_at_any_step(tmp_path, capsys):
    from acecoder_jax.train.checkpoint import RunCheckpointer

    run_dir = reference_run()  # finished: checkpoints at steps 2, 4, 6 and run_dir/policy
    checkpointer = RunCheckpointer(run_dir / "checkpoints", every=1, keep=None, async_save=False)
    assert checkpointer.read_meta(6)["trainer"] == "train-sft"  # how export-hf knows the kind
    checkpointer.close()
    out = tmp_path / "hf"
    assert _export(run_dir, out) == 0
    _assert_generates_like_the_checkpoint(out, run_dir, 6)
    assert json.loads((out / "config.json").read_text())["architectures"] == ["Qwen2ForCausalLM"]

    # The newest step is what the trainer wrote at the end; an earlier step is other weights.
    newest = load_file(out / "model.safetensors")
    final = load_file(run_dir / "policy" / "model.safetensors")
    assert newest.keys() == final.keys() and all((newest[k] == final[k]).all() for k in newest)
    assert _export(run_dir, tmp_path / "hf2", "--step", "2") == 0
    earlier = load_file(tmp_path / "hf2" / "model.safetensors")
    assert earlier.keys() == newest.keys() and any((earlier[k] != newest[k]).any() for k in newest)
    _assert_generates_like_the_checkpoint(tmp_path / "hf2", run_dir, 2)

    assert _export(run_dir, tmp_path / "o", "--step", "3") == 1
    assert "no checkpoint at step 3; have [2, 4, 6]" in capsys.readouterr().err


@pytest.mark.parametrize("trainer", ["train-sft", "train-rl"])
def test_a_policy_run_refuses_the_reward_model_layout(tmp_path, capsys, trainer):
    dump_yaml(config_class(trainer)(), tmp_path / "config.yaml")  # no checkpoint needed to refuse
    assert _export(tmp_path, tmp_path / "o", "--layout", "openrlhf") == 1
    err = capsys.readouterr().err
    assert f"{tmp_path}: a {trainer} run holds a policy" in err and "--layout openrlhf" in err
    assert not (tmp_path / "o").exists() and not (tmp_path / "checkpoints").exists()
    assert _export(tmp_path, tmp_path / "o") == 1
    assert f"{tmp_path / 'checkpoints'}: no complete checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("trainer", ["train-rm", "train-sft", "train-rl"])
def test_run_dirs_without_a_recorded_trainer_are_told_apart_by_their_config(tmp_path, trainer):
    cls = config_class(trainer)
    dump_yaml(cls(), tmp_path / "config.yaml")  # what each trainer writes: its full resolved config
    found, cfg = detect_run(tmp_path)
    assert found == trainer and isinstance(cfg, cls)
    assert detect_run(tmp_path, {"trainer": trainer})[0] == trainer
    other = next(t for t in ("train-rm", "train-sft") if t != trainer)
    with pytest.raises(ConfigError, match="unknown key"):
        detect_run(tmp_path, {"trainer": other})  # recorded, but config.yaml is another trainer's


def test_an_unknown_run_dir_fails_clearly(tmp_path, capsys):
    (tmp_path / "config.yaml").write_text("model: tiny\nsteps: 3\n")
    assert _export(tmp_path, tmp_path / "o") == 1
    err = capsys.readouterr().err
    assert f"{tmp_path}: not a train-rm, train-sft or train-rl run_dir" in err
    assert "Traceback" not in err and not (tmp_path / "checkpoints").exists()
    with pytest.raises(RunKindError, match="not one of"):
        detect_run(tmp_path, {"trainer": "train-dpo"})
