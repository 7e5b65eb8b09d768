"""One GRPO RL step on CPU, split into generate / reward / update: acecoder_jax vs google-tunix's GRPOLearner.

Both sides load the same tiny random Qwen2 (saved once as safetensors by transformers), sample `--group`
completions of the same `--prompts` token-id prompts for exactly `--new-tokens` tokens (the EOS id is one the
model can never sample) at temperature 1.0, score them with the same cheap deterministic Python reward (the
share of even token ids), take GRPO advantages ((r - group mean) / group std) and make one PPO-clip update
(token-mean, clip 0.2, no KL) with the same AdamW (lr, clip 1.0), fp32 throughout. Our side is the RL
trainer's own pieces: `RolloutSource` (sampler from the train-state params, reward, advantages, buffered
rows) + the shared train step with `make_policy_loss_sums`; the tunix side is `GRPOLearner.train` over an
`RLCluster` (vanilla rollout) in its own virtualenv (built here on first use: .cache/bench-tunix-venv).

Each side runs in its own process with XLA pinned to one CPU device, one after the other; each is warmed
up (compilation) by its first `--warmup` steps, then the median of `--steps` steps is printed per phase with
the rollout tokens/s, the ratio, the load average and each side's peak RSS.

    .venv/bin/python bench/rl_step.py [--prompts 4 --group 4 --new-tokens 64 --steps 3]

On a GPU host (bench/gpu_suite.sh) `--preset qwen2.5-coder-1.5b --dtype bfloat16 --device accelerator
--no-tunix` times our side alone: a random-init policy of that preset's shape (fp32 master weights, bf16
compute) on the default JAX backend's first device; the tunix side runs on CPU in fp32 only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TUNIX_VENV = ROOT / ".cache" / "bench-tunix-venv"
TUNIX = "google-tunix==0.1.7"
# tunix's runtime imports, installed with their own dependencies; tunix itself goes in with --no-deps (its
# metadata pins safetensors<0.8 and pulls TF datasets, neither needed for this bench)
TUNIX_EXTRAS = (
    "qwix",
    "google-metrax",
    "clu",
    "omegaconf",
    "antlr4-python3-runtime",
    "perfetto",
    "tenacity",
    "ml_collections",
    "pylatexenc",
    "kagglehub",
    "python-dotenv",
    "sentencepiece",
)
# pinned to the versions in this project's .venv so both sides run the same jax / flax / optax
SHARED_PINS = (
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "orbax-checkpoint",
    "transformers",
    "safetensors",
    "numpy",
    "jaxtyping",  # imported by tunix.perf
    "pillow",  # tunix.processors
    "pandas",
)
XLA_FLAGS = "--xla_force_host_platform_device_count=1"
PAD_ID = 0  # never in a prompt; tunix masks a sampled 0 as padding (rare: 1 / vocab per token)


# ------------------------------------------------------------------------------------ shared by both sides
class IdTokenizer:
    """Text is space-separated token ids, so both sides see the same ids without a vocabulary file."""

    def __init__(self, pad: int, eos: int) -> None:
        self._pad, self._eos = pad, eos

    def encode(self, text: str, **_: object) -> list[int]:
        return [int(t) for t in str(text).split()]

    def decode(self, ids: list[int], **_: object) -> str:
        return " ".join(str(int(i)) for i in ids)

    def bos_id(self) -> int:
        return 0  # falsy: tunix's sampler prepends no BOS (Qwen2 has none)

    def eos_id(self) -> int:
        return self._eos

    def pad_id(self) -> int:
        return self._pad


def even_fraction(completion: str) -> float:
    """The bench's reward: the share of even token ids in a completion (cheap, deterministic, varied)."""
    ids = completion.split()
    return sum(int(t) % 2 == 0 for t in ids) / max(len(ids), 1)


# ------------------------------------------------------------------------------------ the tunix virtualenv
def ensure_tunix_venv(venv: Path = TUNIX_VENV) -> Path:
    """The tunix virtualenv's python, built (once) with this .venv's jax/flax/optax/... versions."""
    from importlib.metadata import version

    pins = [f"{name}=={version(name)}" for name in SHARED_PINS]
    wanted = "\n".join([TUNIX, *pins, *TUNIX_EXTRAS])
    python, marker = venv / "bin" / "python", venv / "bench-installed.txt"
    if marker.exists() and marker.read_text() == wanted and python.exists():
        return python
    print(f"building {venv} ({TUNIX} + {', '.join(pins)}) ...", flush=True)
    if not python.exists():
        base = Path(getattr(sys, "_base_executable", sys.executable))
        subprocess.run([str(base), "-m", "venv", str(venv)], check=True)  # no system site-packages
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *pins, *TUNIX_EXTRAS], check=True)
    subprocess.run([*pip, "--no-deps", TUNIX], check=True)
    marker.write_text(wanted)
    return python


# ------------------------------------------------------------------------------------ the shared inputs
def write_inputs(work: Path, args: argparse.Namespace) -> dict:
    """Save the random Qwen2 (safetensors), the prompts and the settings both sides read.

    With `--preset` and no tunix side nothing is saved: our side initialises the preset's shape itself (on
    its device, without a multi-GB checkpoint round trip)."""
    import numpy as np

    if args.preset:
        from acecoder_jax.models import ModelConfig

        args.vocab = ModelConfig.preset(args.preset).vocab_size
    if not (args.preset and args.no_tunix):
        import torch
        from transformers import Qwen2Config, Qwen2ForCausalLM

        if args.preset:
            config = Qwen2Config(**ModelConfig.preset(args.preset).to_hf_config(torch_dtype="float32"))
        else:
            config = Qwen2Config(
                vocab_size=args.vocab,
                hidden_size=args.hidden,
                intermediate_size=args.hidden * 11 // 4,
                num_hidden_layers=args.layers,
                num_attention_heads=8,
                num_key_value_heads=2,
                tie_word_embeddings=True,
                max_position_embeddings=4096,
            )
        torch.manual_seed(0)
        Qwen2ForCausalLM(config).save_pretrained(work / "model", safe_serialization=True)
    rng = np.random.default_rng(0)
    lengths = rng.integers(args.prompt_len // 2, args.prompt_len + 1, args.prompts)
    prompts = [rng.integers(1, args.vocab, size=int(n)).tolist() for n in lengths]
    (work / "prompts.json").write_text(json.dumps(prompts))
    settings = {
        "prompts": args.prompts,
        "group_size": args.group,
        "new_tokens": args.new_tokens,
        "prompt_width": max(lengths).item(),
        "temperature": 1.0,
        "lr": args.lr,
        "grad_clip": 1.0,
        "clip": 0.2,
        "pad_id": PAD_ID,
        "eos_id": args.vocab,  # outside the vocabulary: every row runs to new_tokens on both sides
        "warmup": args.warmup,
        "steps": args.steps,
        "preset": args.preset,
        "dtype": args.dtype,
    }
    (work / "settings.json").write_text(json.dumps(settings))
    return settings


# ------------------------------------------------------------------------------------ our side
def run_ours(work: Path) -> dict:
    """acecoder_jax's RL step pieces (as rl/trainer.py wires them), timed by phase; in its own process."""
    import resource
    import statistics

    import jax
    import numpy as np
    import optax

    from acecoder_jax.models import ModelConfig, count_params, from_pretrained, init_model
    from acecoder_jax.rl.policy_step import EXTREMA, PolicyLossSettings, make_policy_loss_sums, row_weights
    from acecoder_jax.rl.prompting import Prompt
    from acecoder_jax.rl.rewards import Rewarded
    from acecoder_jax.rl.rollout import Question
    from acecoder_jax.rl.setup import make_sampler
    from acecoder_jax.rl.source import RolloutSource, SourceSettings, device_fields
    from acecoder_jax.sharding import MeshConfig, make_mesh
    from acecoder_jax.train.batch import batch_sharding, put_batch
    from acecoder_jax.train.optimizer import adamw
    from acecoder_jax.train.state import init_train_state, shardings_of, split_model
    from acecoder_jax.train.step import make_train_step

    s = json.loads((work / "settings.json").read_text())
    prompts = json.loads((work / "prompts.json").read_text())
    rows = s["prompts"] * s["group_size"]
    times: dict[str, list[float]] = {"generate": [], "reward": [], "update": [], "step": [], "step_cpu": []}

    class Done:
        def __init__(self, value: Rewarded) -> None:
            self.value = value

        def result(self) -> Rewarded:
            return self.value

    class EvenReward:
        """The bench reward behind rl.rewards.Reward (judged at submit: nothing to overlap)."""

        def submit(self, samples: list) -> Done:
            began = time.perf_counter()
            rewards = np.array([even_fraction(x.completion) for x in samples], np.float32)
            out = Rewarded(rewards, rewards.copy(), {}, [() for _ in samples])
            times["reward"].append(time.perf_counter() - began)
            return Done(out)

    mesh = make_mesh(MeshConfig(data=1, fsdp=1, tensor=1), devices=jax.devices()[:1])
    dtype = s.get(
        "dtype", "float32"
    )  # compute dtype; the master weights stay fp32 (as the trainer keeps them)
    with jax.set_mesh(mesh):
        if (work / "model").exists():
            model = from_pretrained(work / "model", dtype=dtype, mesh=mesh, kind="causal_lm")
        else:
            config = ModelConfig.preset(s["preset"], dtype=dtype, param_dtype="float32")
            model = init_model(config, kind="causal_lm", seed=0, mesh=mesh)
    described = {
        "hidden": model.config.hidden_size,
        "layers": model.config.num_layers,
        "vocab": model.config.vocab_size,
        "params": count_params(model),
        "dtype": model.config.dtype,
    }
    graphdef, params, rest = split_model(model)
    del model
    schedule = optax.constant_schedule(s["lr"])
    tx = adamw(schedule, grad_clip=s["grad_clip"])
    state = init_train_state(params, tx, 0)
    del params
    sharding = batch_sharding(mesh)
    settings = PolicyLossSettings(clip_low=s["clip"], clip_high=s["clip"], aggregation="token-mean")
    step = make_train_step(
        graphdef,
        tx,
        schedule,
        make_policy_loss_sums(settings),
        mesh=mesh,
        state_shardings=shardings_of(state),
        rest_shardings=shardings_of(rest),
        batch_shardings=sharding,
        micro_batches=1,
        extrema=EXTREMA,
    )
    questions = [Question(str(i), "", (), Prompt(tuple(p), "")) for i, p in enumerate(prompts)]
    tokenizer = IdTokenizer(s["pad_id"], s["eos_id"])
    source = RolloutSource(
        questions,
        SourceSettings(
            prompts=s["prompts"],
            group_size=s["group_size"],
            train_batch=rows,
            prompt_width=s["prompt_width"],
            max_new_tokens=s["new_tokens"],
            pad_id=s["pad_id"],
            seed=0,
            estimator="grpo",
            shuffle=False,
            row_weight=lambda mask: row_weights(mask, "token-mean"),
        ),
        sample=make_sampler(
            graphdef,
            rest,
            max_new_tokens=s["new_tokens"],
            temperature=s["temperature"],
            top_p=1.0,
            eos_ids=(),
            mesh=mesh,
        ),
        decode=tokenizer.decode,
        reward=EvenReward(),
        ref_logprobs=None,
        buffer_dir=work / "ours-rollouts",
    )
    generated = []
    with jax.set_mesh(mesh):
        for _ in range(s["warmup"] + s["steps"]):
            began, cpu = time.perf_counter(), time.process_time()
            batch, metrics = source.next_batch(state)
            rolled = time.perf_counter()
            state, out = step(state, rest, put_batch(mesh, device_fields(batch), sharding))
            jax.block_until_ready((state, out))
            done = time.perf_counter()
            times["generate"].append(metrics["time_generate"])
            times["update"].append(done - rolled)
            times["step"].append(done - began)
            times["step_cpu"].append(time.process_time() - cpu)
            generated.append(int(batch["response_mask"].sum()))
    warm = s["warmup"]
    return {
        "side": "acecoder_jax",
        "jax": jax.__version__,
        "devices": [str(d) for d in jax.devices()],
        "device_kind": jax.devices()[0].device_kind,
        "model": described,
        "seconds": {k: statistics.median(v[warm:]) for k, v in times.items()},
        "first_step_s": times["step"][0],
        "per_step_s": times["step"],
        "generated_tokens": statistics.median(generated[warm:]),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


# ------------------------------------------------------------------------------------ the driver
def run_side(command: list[str], work: Path, name: str, device: str = "cpu") -> dict:
    """Run one side in its own process (XLA pinned to one CPU device unless `device` is "accelerator",
    which keeps the environment's JAX backend); its RESULT line as a dict."""
    env = dict(os.environ)
    if device == "cpu":
        env.update(XLA_FLAGS=XLA_FLAGS, JAX_PLATFORMS="cpu")
    log = work / f"{name}.log"
    with open(log, "w") as out:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=out, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        tail = log.read_text()[-4000:]
        raise SystemExit(f"{name} side failed (exit {done.returncode}); {log} ends:\n{tail}\n{done.stdout}")
    return json.loads(lines[-1][len("RESULT ") :])


def report(ours: dict, theirs: dict | None, settings: dict, args: argparse.Namespace) -> None:
    """Print both sides (or ours alone, `theirs` None) per phase, rollout tokens/s and the ratios."""
    rows = settings["prompts"] * settings["group_size"]
    m = ours["model"]
    numerics = "fp32" if m["dtype"] == "float32" else f"fp32 weights, {m['dtype']} compute"
    shape = f"{args.preset}-shaped " if args.preset else ""
    print(
        f"model: random {shape}Qwen2 hidden {m['hidden']}, {m['layers']} layers, vocab {m['vocab']}, "
        f"{'tied, ' if not args.preset else ''}{numerics} ({m['params'] / 1e6:,.1f}M params); "
        f"{settings['prompts']} prompts (<= {settings['prompt_width']} tokens) x group "
        f"{settings['group_size']} = {rows} rows x {settings['new_tokens']} new tokens, temperature 1.0; "
        f"GRPO, token-mean, clip 0.2, kl 0, AdamW lr {settings['lr']}, grad clip 1.0; one update per step"
    )
    medians = f"medians of {settings['steps']} steps after {settings['warmup']} warm-up step(s)"
    if theirs is None:
        print(f"acecoder_jax alone on {ours['devices'][0]} ({ours['device_kind']}); tunix skipped; {medians}")
    else:
        print(
            f"XLA pinned to 1 CPU device on both sides ({XLA_FLAGS}); each side in its own process "
            f"({'tunix' if args.tunix_first else 'acecoder_jax'} first); {medians}"
        )
    print(
        f"{'':14}{'generate':>10}{'reward':>10}{'update':>10}{'step':>10}{'rollout tok/s':>15}"
        f"{'first step':>12}{'peak RSS':>10}{'CPU s/step':>12}"
    )
    for side in (ours, theirs) if theirs else (ours,):
        sec = side["seconds"]
        tps = side["generated_tokens"] / sec["generate"]
        print(
            f"{side['side']:<14}{sec['generate']:>9.2f}s{sec['reward'] * 1000:>8.1f}ms{sec['update']:>9.2f}s"
            f"{sec['step']:>9.2f}s{tps:>15,.0f}{side['first_step_s']:>11.1f}s{side['peak_rss_gb']:>8.2f}GB"
            f"{sec['step_cpu']:>11.2f}s"
        )
    if theirs is None:
        print(f"per-step seconds (warm-up first): acecoder_jax {_rounded(ours['per_step_s'])}")
        print(f"acecoder_jax on jax {ours['jax']}")
        return
    o, t = ours["seconds"], theirs["seconds"]
    tps_ratio = (ours["generated_tokens"] / o["generate"]) / (theirs["generated_tokens"] / t["generate"])
    print(
        "ratio (tunix / acecoder_jax time; >1 means acecoder_jax is faster): "
        f"step {t['step'] / o['step']:.2f}x (CPU time {t['step_cpu'] / o['step_cpu']:.2f}x), "
        f"generate {t['generate'] / o['generate']:.2f}x, update {t['update'] / o['update']:.2f}x; "
        f"rollout tokens/s {tps_ratio:.2f}x"
    )
    print(
        f"per-step seconds (warm-up first): acecoder_jax {_rounded(ours['per_step_s'])}, "
        f"tunix {_rounded(theirs['per_step_s'])}"
    )
    print(
        f"tunix {theirs.get('version')} / jax {theirs['jax']} in {TUNIX_VENV.relative_to(ROOT)}; "
        f"acecoder_jax on jax {ours['jax']}"
    )
    load = os.getloadavg()
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")


def _rounded(values: list[float]) -> list[float]:
    return [round(v, 2) for v in values]


def main() -> None:
    """Build the tunix venv and the inputs, run both sides, print the comparison."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--group", type=int, default=4)
    parser.add_argument("--prompt-len", type=int, default=32, help="longest prompt; others from half of it")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=151936)
    parser.add_argument("--lr", type=float, default=1e-6)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--tunix-first", action="store_true", help="run the tunix side first (load drift)")
    parser.add_argument(
        "--preset", help="a ModelConfig preset's shape (e.g. qwen2.5-coder-1.5b) instead of --hidden/--layers"
    )
    parser.add_argument(
        "--dtype", default="float32", choices=("float32", "bfloat16"), help="our side's compute dtype"
    )
    parser.add_argument(
        "--device",
        default="cpu",
        choices=("cpu", "accelerator"),
        help="cpu: XLA pinned to one CPU device; accelerator: the first device of the default JAX backend",
    )
    parser.add_argument("--no-tunix", action="store_true", help="time our side alone (no tunix virtualenv)")
    parser.add_argument("--json", type=Path, help="also write both sides' results to this JSON file")
    parser.add_argument("--side", choices=("ours",), help=argparse.SUPPRESS)  # internal: run one side
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side == "ours":
        print("RESULT " + json.dumps(run_ours(args.work)))
        return
    if not args.no_tunix and (args.dtype != "float32" or args.device != "cpu"):
        parser.error("the tunix side runs on CPU in fp32 only: add --no-tunix for --dtype / --device")

    tunix_python = None if args.no_tunix else ensure_tunix_venv()
    with tempfile.TemporaryDirectory(prefix="rl-step-") as tmp:
        work = Path(tmp)
        settings = write_inputs(work, args)
        # -m from the repo root: bench/ must not lead sys.path (bench/executor.py would shadow `executor`)
        sides = {
            "ours": [sys.executable, "-m", "bench.rl_step", "--side", "ours", "--work", str(work)],
            "tunix": [str(tunix_python), str(ROOT / "bench" / "rl_step_tunix.py"), str(work)],
        }
        order = ("tunix", "ours") if args.tunix_first else ("ours", "tunix")
        if args.no_tunix:
            order = ("ours",)
        results = {name: run_side(sides[name], work, name, args.device) for name in order}
        ours, theirs = results["ours"], results.get("tunix")
        report(ours, theirs, settings, args)
        if args.json:
            args.json.write_text(json.dumps({"settings": settings, **results}, indent=1))


if __name__ == "__main__":
    main()
