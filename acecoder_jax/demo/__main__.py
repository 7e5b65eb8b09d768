"""`make demo`: the whole AceCoder pipeline on CPU with tiny models, local files and the local executor.

Stages, each the same `acecoder` command a researcher would run (so the demo exercises the real entry points):
  1. executor   HumanEval canonical solutions and broken variants in the sandbox, with throughput
  2. data       synth-tests -> filter-tests -> sample -> score -> pairs -> hard-subset (+ test strength,
                contamination) on a few seed programs (`configs/data/tiny_cpu.yaml`)
  3. train-rm   a tiny Bradley-Terry reward model on 8 virtual devices (`configs/rm/tiny_cpu.yaml`)
  4. export-hf  the trained RM in AceCodeRM layout, loadable by transformers
  5. best-of-n  a tiny random policy samples HumanEval candidates with the JAX sampler; the exported RM
                reranks them; the executor judges; table + plot
Everything lands in `runs/demo/` (override with --out). Rerunning resumes finished stages.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()
    env.setdefault("JAX_PLATFORMS", "cpu")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def acecoder(*args: str) -> None:
    """Run one `acecoder` subcommand in a fresh interpreter; fail the demo if it fails."""
    command = [sys.executable, "-m", "acecoder_jax.cli", *args]
    print(f"$ acecoder {' '.join(args)}", flush=True)
    subprocess.run(command, check=True, cwd=REPO, env=_env())


def make_tiny_policy(out: Path) -> Path:
    """Save a tiny randomly initialised Qwen2 causal LM (with the Qwen2.5 tokenizer) as a HF directory."""
    if (out / "config.json").is_file():
        return out
    code = (
        "from acecoder_jax.common.tokenizer import qwen25_tokenizer_dir\n"
        "from acecoder_jax.models import ModelConfig, init_model, save_pretrained\n"
        "model = init_model(ModelConfig.preset('tiny'), kind='causal_lm', seed=1)\n"
        f"save_pretrained(model, {str(out)!r}, tokenizer_dir=qwen25_tokenizer_dir())\n"
    )
    print(f"$ (tiny random policy -> {out})", flush=True)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env=_env())
    return out


def main(argv: list[str] | None = None) -> int:
    """Run every stage and print a time breakdown."""
    parser = argparse.ArgumentParser(prog="python -m acecoder_jax.demo", description=__doc__)
    parser.add_argument("--out", default="runs/demo", help="where every stage writes (relative to the repo)")
    args = parser.parse_args(argv)
    out = (REPO / args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    rm_run, rm_hf = out / "rm", out / "rm_hf"

    stages: list[tuple[str, Callable[[], None]]] = [
        (
            "executor: HumanEval in the sandbox",
            lambda: subprocess.run(
                [sys.executable, "-m", "executor.humaneval_demo"], check=True, cwd=REPO, env=_env()
            ),
        ),
        (
            "data: synth -> filter -> sample -> score -> pairs -> hard subset",
            lambda: acecoder(
                "pipeline", "--config", "configs/data/tiny_cpu.yaml", f"output_dir={out / 'data'}"
            ),
        ),
        (
            "train-rm: Bradley-Terry on 8 virtual devices",
            lambda: acecoder("train-rm", "--config", "configs/rm/tiny_cpu.yaml", f"run_dir={rm_run}"),
        ),
        (
            "export-hf: AceCodeRM layout",
            lambda: acecoder("export-hf", "--run-dir", str(rm_run), "--out", str(rm_hf)),
        ),
        (
            "best-of-n: JAX sampler + RM rerank + executor",
            lambda: acecoder(
                "best-of-n",
                "--config",
                "configs/eval/tiny.yaml",
                f"run_dir={out / 'best_of_n'}",
                f"policy.path={make_tiny_policy(out / 'policy')}",
                f"reward.path={rm_hf}",
            ),
        ),
    ]
    timings: list[tuple[str, float]] = []
    for index, (title, run) in enumerate(stages, start=1):
        print(f"\n=== [{index}/{len(stages)}] {title}", flush=True)
        start = time.perf_counter()
        run()
        timings.append((title, time.perf_counter() - start))

    print("\n=== demo finished: time per stage")
    for title, seconds in timings:
        print(f"  {seconds:7.1f} s  {title}")
    print(f"  {sum(s for _, s in timings):7.1f} s  total; outputs in {out}")
    print(f"  best-of-N table: {out / 'best_of_n' / 'best_of_n.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
