"""`acecoder export-hf --run-dir DIR --out OUT [--step N]`: a reward-model checkpoint -> Hugging Face layout.

Writes AceCodeRM's layout (Qwen2ForCausalLM backbone tensors + `v_head.summary.{weight,bias}`, config.json
and the
run's tokenizer) that `acecoder_jax.models.from_pretrained` and transformers load; `--layout openrlhf` writes
`model.*` + `score.weight` (Qwen2ForSequenceClassification). Only the parameters are read from the checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Export the newest (or `--step`) checkpoint of a train-rm run."""
    parser = argparse.ArgumentParser(prog="acecoder export-hf", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--run-dir", required=True, help="a train-rm run_dir (holds config.yaml and checkpoints/)"
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--step", type=int, default=None, help="checkpoint step (default: newest)")
    parser.add_argument("--layout", choices=("acecoderm", "openrlhf"), default="acecoderm")
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
    import jax
    from flax import nnx

    from acecoder_jax.common.config import load_config
    from acecoder_jax.models import abstract_model, param_shardings, save_pretrained
    from acecoder_jax.rm.config import RMConfig
    from acecoder_jax.rm.model_setup import model_config_for, tokenizer_dir_for
    from acecoder_jax.sharding import MeshConfig, ShardingError, make_mesh
    from acecoder_jax.train.checkpoint import RunCheckpointer

    config_file = run_dir / "config.yaml"
    if not config_file.is_file():
        raise FileNotFoundError(f"{run_dir}: no config.yaml (not a train-rm run_dir?)")
    cfg = load_config(RMConfig, config_file)
    checkpointer = RunCheckpointer(run_dir / "checkpoints", every=1, keep=1_000_000, async_save=False)
    steps = checkpointer.all_steps()
    if not steps:
        raise FileNotFoundError(f"{run_dir / 'checkpoints'}: no complete checkpoint")
    step = max(steps) if step is None else step
    if step not in steps:
        raise ValueError(f"{run_dir}: no checkpoint at step {step}; have {sorted(steps)}")
    model_config = model_config_for(cfg.model, dtype="float32", remat=False)
    graphdef, abstract_params = nnx.split(abstract_model(model_config, "reward"))
    try:  # spread the parameters over every local device ...
        mesh = make_mesh(MeshConfig(data=1, fsdp=-1, tensor=1))
        shardings = param_shardings(abstract_params, mesh)
    except ShardingError:  # ... unless their shapes do not split that many ways
        mesh = make_mesh(MeshConfig(data=1, fsdp=1, tensor=1), devices=jax.devices()[:1])
        shardings = param_shardings(abstract_params, mesh)
    target = jax.tree.map(
        lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract_params, shardings
    )
    params = checkpointer.restore_params(step, target)
    checkpointer.close()
    model = nnx.merge(graphdef, params)
    tokenizer_dir = tokenizer_dir_for(cfg.model, cfg.data.tokenizer)
    return save_pretrained(
        model,
        out,
        layout=layout,
        tokenizer_dir=tokenizer_dir,
        dtype=dtype,
        drop_head_bias=layout == "openrlhf",
    )


if __name__ == "__main__":
    sys.exit(main())
