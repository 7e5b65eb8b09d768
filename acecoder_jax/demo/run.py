"""`make demo` top to bottom: the AceCoder loop on the policy world, each stage an `acecoder` command.

  1. executor   HumanEval canonical solutions and hostile variants in the sandbox, throughput
  2. sft        `acecoder train-sft --config configs/sft/world_cpu.yaml` -> the policy every later stage uses
  3. data       `acecoder pipeline --config configs/data/world_demo.yaml`: synth-tests over HTTP against a
                local OpenAI-compatible server (replies derived from the world, some asserts wrong) ->
                filter-tests (reference as oracle) -> sample (SFT policy, transformers, n=16, T=0.8) ->
                score -> pairs -> hard-subset -> test-strength -> contamination
  4. rm         `acecoder train-rm --config configs/rm/world_demo.yaml` from the SFT backbone on the pairs
                (split by question), held-out pair accuracy; `acecoder export-hf` (AceCodeRM layout)
  5. best_of_n  `acecoder best-of-n --config configs/eval/world_demo.yaml`: greedy, average, RM@N, oracle@N
  6. rl         `acecoder train-rl --config configs/rl/world_cpu.yaml` from the SFT policy on the hard subset
  7. export     the RL policy and the RM loaded by transformers (acecoder_jax/demo/hf_reload.py)
Everything lands in runs/demo/ (--out); summary.md, summary.json and the plots at the end. Rerunning resumes
finished stages.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from acecoder_jax.demo import measure
from acecoder_jax.demo.pair_split import split_pairs
from acecoder_jax.demo.stage import REPO, Command, Stage, acecoder, run_stage
from acecoder_jax.demo.summary import write_summary

WORLD = REPO / "runs" / "world"  # the world every config in configs/*/world_*.yaml reads (built when missing)
WORLD_SEED = 0
BENCHMARK = "world_heldout"
DATA_CONFIG = "configs/data/world_demo.yaml"  # its `pairs:` rule also pairs the best-of-N pool


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    """Sizes of the demo; the defaults are `make demo`, the slow test shrinks them."""

    out: Path
    seeds: int | None = (
        None  # world fresh-split seeds through the data stages (None: all 185; else every k-th)
    )
    sft_steps: int | None = None  # None: configs/sft/world_cpu.yaml's
    heldout_problems: int | None = None  # None: every held-out world problem in best-of-N
    pool: int = 16  # best-of-N samples per problem
    rl_rollouts: int = 6
    rl_prompts: int = 16


def _seed_slice(options: DemoOptions) -> None:
    """out/seeds.jsonl: `options.seeds` of the world's seeds (its fresh split), spread over the families."""
    from acecoder_jax.world import ensure_world

    ensure_world(WORLD, WORLD_SEED)
    lines = [line for line in (WORLD / "seeds.jsonl").read_text(encoding="utf-8").splitlines() if line]
    wanted = options.seeds or len(lines)
    chosen = lines[:: max(1, len(lines) // wanted)][:wanted]
    (options.out / "seeds.jsonl").write_text("\n".join(chosen) + "\n", encoding="utf-8")


def _serve_replies(run: Any) -> None:
    """Run `run` while the local OpenAI-compatible server answers with the world's recorded replies."""
    from acecoder_jax.demo.replies import recorded_replies
    from acecoder_jax.demo.server import RecordedReplyServer

    world_rows = measure.rows(WORLD / "fresh.jsonl")  # seeds.jsonl is the fresh split
    saved = {name: os.environ.get(name) for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY")}
    with RecordedReplyServer(recorded_replies(world_rows)) as server:
        print(f"(local OpenAI-compatible server at {server.base_url})", flush=True)
        # The openai backend reads $OPENAI_BASE_URL; a real key never goes to the local server.
        os.environ["OPENAI_BASE_URL"], os.environ["OPENAI_API_KEY"] = server.base_url, "demo-local"
        try:
            run()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        print(f"(server answered {server.served} chat requests; stopped)", flush=True)


def stages(options: DemoOptions) -> list[Stage]:
    """The demo's stages in order."""
    out = options.out
    sft, data, rm_data, rm, rm_hf = out / "sft", out / "data", out / "rm_data", out / "rm", out / "rm_hf"
    bon, rl = out / "best_of_n", out / "rl"
    policy = sft / "policy"
    heldout = WORLD / "heldout.jsonl"
    bench = f"{{kind: acecode, path: {heldout}, name: {BENCHMARK}"
    bench += f", limit: {options.heldout_problems}}}" if options.heldout_problems else "}"
    sft_extra = [f"train.steps={options.sft_steps}"] if options.sft_steps else []

    def data_commands() -> list[Command]:
        return [
            acecoder(
                "pipeline", "--config", DATA_CONFIG, f"seeds={out / 'seeds.jsonl'}",
                f"output_dir={data}", f"sample.generation.model={policy}",
            )
        ]  # fmt: skip

    return [
        Stage(
            "executor",
            "executor: HumanEval in the sandbox",
            lambda: [
                [sys.executable, "-m", "executor.humaneval_demo", "--summary", str(out / "executor.json")]
            ],
            lambda: measure.executor_numbers(out / "executor.json"),
        ),
        Stage(
            "sft",
            "policy: train-sft on the world",
            lambda: [
                acecoder("train-sft", "--config", "configs/sft/world_cpu.yaml", f"run_dir={sft}", *sft_extra)
            ],
            lambda: measure.sft_numbers(sft),
            # A rebuilt world (new tokenizer or tasks) makes the trained policy stale: train again.
            inputs=(WORLD / "world.json", WORLD / "tokenizer" / "tokenizer.json"),
            stale=(sft,),
        ),
        Stage(
            "data",
            "data: synth -> filter -> sample -> score -> pairs -> hard subset",
            data_commands,
            lambda: measure.data_numbers(data),
            before=lambda: _seed_slice(options),
            around=_serve_replies,
        ),
        Stage(
            "rm",
            "reward model: train-rm from the SFT backbone + export-hf",
            lambda: [
                acecoder(
                    "train-rm",
                    "--config",
                    "configs/rm/world_demo.yaml",
                    f"run_dir={rm}",
                    f"model={policy}",
                    f"data.train={rm_data / 'train.jsonl'}",
                    f"data.eval={rm_data / 'heldout.jsonl'}",
                ),
                acecoder("export-hf", "--run-dir", str(rm), "--out", str(rm_hf), "--dtype", "float32"),
            ],
            lambda: measure.rm_numbers(rm, rm_data),
            before=lambda: split_pairs(data / "pairs.jsonl", rm_data),
        ),
        Stage(
            "best_of_n",
            "best-of-N on held-out world problems",
            lambda: [
                acecoder(
                    "best-of-n",
                    "--config",
                    "configs/eval/world_demo.yaml",
                    f"run_dir={bon}",
                    f"policy.path={policy}",
                    f"tokenizer={policy}",
                    f"reward.path={rm_hf}",
                    f"benchmarks=[{bench}]",
                    f"sampling.n={options.pool}",
                    f"ns={[n for n in (1, 2, 4, 8, 16, 32, 64) if n <= options.pool]}",
                )
            ],
            lambda: measure.best_of_n_numbers(bon, BENCHMARK, measure.pair_options(REPO / DATA_CONFIG)),
        ),
        Stage(
            "rl",
            "RL: train-rl from the SFT policy on the hard subset",
            lambda: [
                acecoder(
                    "train-rl",
                    "--config",
                    "configs/rl/world_cpu.yaml",
                    f"run_dir={rl}",
                    f"policy.model={policy}",
                    f"data.train={data / 'hard.jsonl'}",
                    f"train.rollouts={options.rl_rollouts}",
                    f"rollout.prompts={options.rl_prompts}",
                    f"rollout.chunk_prompts={options.rl_prompts // 2}",
                    f"train.batch_size={options.rl_prompts * 2}",
                    "eval.every=0",
                    "log.every=1",
                    "checkpoint.every=1000",
                )
            ],
            lambda: measure.rl_numbers(rl),
        ),
        Stage(
            "export",
            "export: RL policy + RM reloaded with transformers",
            lambda: [
                [
                    sys.executable,
                    "-m",
                    "acecoder_jax.demo.hf_reload",
                    "--policy",
                    str(rl / "policy"),
                    "--rm",
                    str(rm_hf),
                    "--heldout",
                    str(heldout),
                    "--pairs",
                    str(rm_data / "heldout.jsonl"),
                    "--out",
                    str(out / "export.json"),
                ]
            ],
            lambda: measure.read_json(out / "export.json"),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Run (or resume) every stage, print the time per stage, write the summary."""
    parser = argparse.ArgumentParser(prog="python -m acecoder_jax.demo", description=__doc__)
    parser.add_argument("--out", default="runs/demo", help="where every stage writes (relative to the repo)")
    parser.add_argument(
        "--seeds", type=int, default=DemoOptions.seeds, help="world seeds in the data stages (default: all)"
    )
    parser.add_argument("--sft-steps", type=int, default=None, help="default: configs/sft/world_cpu.yaml's")
    parser.add_argument("--heldout-problems", type=int, default=None, help="default: all held-out problems")
    parser.add_argument("--pool", type=int, default=DemoOptions.pool, help="best-of-N samples per problem")
    parser.add_argument("--rl-rollouts", type=int, default=DemoOptions.rl_rollouts)
    parser.add_argument("--rl-prompts", type=int, default=DemoOptions.rl_prompts)
    args = parser.parse_args(argv)
    out = (REPO / args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    options = DemoOptions(
        out=out,
        seeds=args.seeds,
        sft_steps=args.sft_steps,
        heldout_problems=args.heldout_problems,
        pool=args.pool,
        rl_rollouts=args.rl_rollouts,
        rl_prompts=args.rl_prompts,
    )
    from acecoder_jax.world import ensure_world

    ensure_world(WORLD, WORLD_SEED)
    results: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    plan = stages(options)
    for index, stage in enumerate(plan, start=1):
        print(f"\n=== [{index}/{len(plan)}] {stage.title}", flush=True)
        # Once a stage runs again, every later stage consumes new outputs and runs again too.
        force = any(not r["resumed"] for k, r in results.items() if k != "executor")
        results[stage.key] = run_stage(stage, out, force=force)
        print(f"=== {stage.title}: {results[stage.key]['seconds']:.1f} s", flush=True)
    total = sum(r["seconds"] for r in results.values())
    summary = write_summary(out, results, total)
    print("\n=== demo finished: time per stage (seconds; 'resumed' = recorded by an earlier run)")
    for result in results.values():
        print(f"  {result['seconds']:7.1f}  {result['title']}{'  (resumed)' if result['resumed'] else ''}")
    print(f"  {total:7.1f}  total (this run: {time.perf_counter() - start:.1f})")
    print(f"\n{(out / 'summary.md').read_text(encoding='utf-8')}")
    print(json.dumps({k: summary[k] for k in ("pairs", "rm_heldout_accuracy", "best_of_n", "rl")}, indent=2))
    return 0
