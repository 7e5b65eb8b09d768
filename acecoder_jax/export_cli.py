"""`acecoder export-hf --run-dir DIR --out OUT [--step N]`: a training checkpoint -> Hugging Face layout.

What is written depends on the run (acecoder_jax/train/run_kind.py: the trainer its checkpoints record, else
its config.yaml's schema):
- a train-rm run: the reward model in AceCodeRM's layout (Qwen2ForCausalLM backbone tensors +
  `v_head.summary.{weight,bias}`), which `acecoder_jax.models.from_pretrained` and transformers load;
  `--layout openrlhf` writes `model.*` + `score.weight` (Qwen2ForSequenceClassification);
- a train-sft or train-rl run: the policy as a causal LM (Qwen2ForCausalLM / LlamaForCausalLM), what the
  trainer writes to run_dir/policy at the end, from any checkpoint step.
Each gets config.json, safetensors and the run's tokenizer. Only the parameters are read from the checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    """Export the newest (or `--step`) checkpoint of a train-rm, train-sft or train-rl run."""
    parser = argparse.ArgumentParser(prog="acecoder export-hf", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--run-dir",
        required=True,
        help="a train-rm, train-sft or train-rl run_dir (holds config.yaml and checkpoints/)",
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--step", type=int, default=None, help="checkpoint step (default: newest)")
    parser.add_argument(
        "--layout",
        choices=("acecoderm", "openrlhf"),
        default="acecoderm",
        help="reward-model layout (train-rm runs only)",
    )
    parser.add_argument(
        "--dtype", choices=("float32", "bfloat16"), default="bfloat16", help="saved weight dtype"
    )
    args = parser.parse_args(argv)
    try:
        out = export_run(
            Path(args.run_dir), Path(args.out), step=args.step, layout=args.layout, dtype=args.dtype
        )
    except (FileNotFoundError, ValueError) as err:
        print(f"acecoder export-hf: {err}", file=sys.stderr)
        return 1
    print(out)
    return 0


def export_run(
    run_dir: Path, out: Path, *, step: int | None = None, layout: str = "acecoderm", dtype: str = "bfloat16"
) -> Path:
    """Restore the run's parameters onto all local devices and save them in Hugging Face format."""
    from acecoder_jax.models import save_pretrained
    from acecoder_jax.rm.model_setup import model_config_for, tokenizer_dir_for
    from acecoder_jax.sft.policy_model import policy_model_config
    from acecoder_jax.train.checkpoint import RunCheckpointer
    from acecoder_jax.train.run_kind import detect_run, model_source, run_config_file

    run_config_file(run_dir)
    checkpoints = run_dir / "checkpoints"  # opened only when present (a checkpointer would create it)
    checkpointer = (
        RunCheckpointer(checkpoints, every=1, keep=None, async_save=False) if checkpoints.is_dir() else None
    )
    try:
        steps = checkpointer.all_steps() if checkpointer else []
        trainer, cfg = detect_run(run_dir, checkpointer.read_meta(max(steps)) if steps else None)
        if trainer != "train-rm" and layout != "acecoderm":
            raise ValueError(
                f"{run_dir}: a {trainer} run holds a policy (a causal LM); --layout {layout} is a "
                "reward-model layout (train-rm runs only)"
            )
        if checkpointer is None or not steps:
            raise FileNotFoundError(f"{checkpoints}: no complete checkpoint")
        step = max(steps) if step is None else step
        if step not in steps:
            raise ValueError(f"{run_dir}: no checkpoint at step {step}; have {sorted(steps)}")
        spec, tokenizer = model_source(trainer, cfg)
        if trainer == "train-rm":
            kind, model_config = "reward", model_config_for(spec, dtype="float32", remat=False)
        else:
            kind, model_config = "causal_lm", policy_model_config(spec, dtype="float32", remat=False)
        model = restore_model(checkpointer, step, model_config, kind)
    finally:
        if checkpointer is not None:
            checkpointer.close()
    return save_pretrained(
        model,
        out,
        layout=layout,
        tokenizer_dir=tokenizer_dir_for(spec, tokenizer),
        dtype=dtype,
        drop_head_bias=layout == "openrlhf",
    )


def restore_model(checkpointer: Any, step: int, model_config: Any, kind: str) -> Any:
    """The `kind` model of `model_config` holding checkpoint `step`'s parameters, on the local devices."""
    import jax
    from flax import nnx

    from acecoder_jax.models import abstract_model, param_shardings
    from acecoder_jax.sharding import MeshConfig, ShardingError, make_mesh

    graphdef, abstract_params = nnx.split(abstract_model(model_config, kind))
    try:  # spread the parameters over every local device ...
        mesh = make_mesh(MeshConfig(data=1, fsdp=-1, tensor=1))
        shardings = param_shardings(abstract_params, mesh)
    except ShardingError:  # ... unless their shapes do not split that many ways
        mesh = make_mesh(MeshConfig(data=1, fsdp=1, tensor=1), devices=jax.devices()[:1])
        shardings = param_shardings(abstract_params, mesh)
    target = jax.tree.map(
        lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract_params, shardings
    )
    return nnx.merge(graphdef, checkpointer.restore_params(step, target))


if __name__ == "__main__":
    sys.exit(main())
