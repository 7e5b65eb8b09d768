#!/usr/bin/env bash
# One-call GPU benchmark suite (< 8 min on one H100/H200): the numbers the README's CPU benches cannot give.
#
#     bash bench/gpu_suite.sh            # on the GPU box, from a copy of this working tree
#     bash bench/gpu_suite.sh --smoke    # here, on CPU with tiny sizes (about 1-2 min): checks the plumbing
#
# Parts, each in its own process under its own `timeout` (a failed or timed-out part does not stop the next):
#   card     nvidia-smi's name / memory (when present) and jax.devices()
#   rl       bench/rl_step.py: one GRPO step (generate / reward / update) and rollout tokens/s of a random-init
#            qwen2.5-coder-1.5b-shaped policy, fp32 master weights + bf16 compute; 8 prompts x group 8, 256 new
#            tokens. The tunix peer is skipped on the GPU (its side runs on CPU in fp32, in a virtualenv pip
#            builds); the output says whether tunix is importable at all.
#   rm       bench/rm_step.py: one Bradley-Terry reward-model train step of the same shape (8 pairs x 512
#            tokens, bf16 compute), ms/step, tokens/s and MFU; transformers + torch (autocast bf16, CUDA) as peer.
#   sampler  bench/sampler.py: greedy tokens/s of acecoder_jax's `generate` against transformers' `generate`
#            on the same card (bf16 weights both sides, batch 32 x 256 new tokens); vLLM too if installed.
# Then a summary table: part, status, seconds, key numbers. Logs and each part's JSON go to $GPU_SUITE_DIR
# (default: a fresh /tmp/gpu_suite.XXXXXX); point it under a folder that comes back (e.g. $OUT) to keep them.
#
# The GPU box needs jax (CUDA), flax, optax, orbax-checkpoint, torch and transformers, and no internet. The few
# pure-Python packages this project adds (jaxtyping, wadler-lindig) travel in .gpu_deps/ (gitignored): fill it
# here first with `bash bench/gpu_suite_prepare.sh` and carry `.gpu_deps` with the tree; this script puts the
# repo root and .gpu_deps (when present) on PYTHONPATH. The interpreter: $PYTHON, else the first of
# .venv/bin/python, python3, python that imports jax. Each part's sizes are fixed below; JAX_PLATFORMS defaults
# to cuda (cpu in --smoke).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

SMOKE=0
case "${1:-}" in
  --smoke) SMOKE=1 ;;
  "") ;;
  -h | --help)
    sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "usage: bash bench/gpu_suite.sh [--smoke]" >&2
    exit 2
    ;;
esac

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for candidate in "$ROOT/.venv/bin/python" python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "import jax" >/dev/null 2>&1; then
      PY="$candidate"
      break
    fi
  done
fi
if [ -z "$PY" ]; then
  echo "no python that imports jax (set PYTHON=...)" >&2
  exit 1
fi

export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
if [ -d "$ROOT/.gpu_deps" ]; then
  export PYTHONPATH="$ROOT/.gpu_deps:$PYTHONPATH"
fi
export TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
# jax allocates as it goes (not 75% up front), so torch's side of a part still finds room on the card
export XLA_PYTHON_CLIENT_PREALLOCATE=false
if [ "$SMOKE" = 1 ]; then
  export JAX_PLATFORMS=cpu XLA_FLAGS="--xla_force_host_platform_device_count=1"
  MODE="smoke (CPU, tiny sizes)"
  RL_DEVICE=cpu
  PRESET=tiny
  RL_SIZE=(--prompts 2 --group 2 --prompt-len 16 --new-tokens 8 --warmup 1 --steps 1)
  RM_SIZE=(--pairs 2 --seq 64 --steps 1)
  SAMPLER_SIZE=(--batch 2 --new-tokens 8)
  T_CARD=60 T_RL=150 T_RM=100 T_SAMPLER=100
else
  export JAX_PLATFORMS="${JAX_PLATFORMS:-cuda}"
  MODE="GPU"
  RL_DEVICE=accelerator
  PRESET=qwen2.5-coder-1.5b
  RL_SIZE=(--prompts 8 --group 8 --prompt-len 128 --new-tokens 256 --warmup 1 --steps 3)
  RM_SIZE=(--pairs 8 --seq 512 --steps 5)
  SAMPLER_SIZE=(--batch 32 --new-tokens 256)
  # 45 + 180 + 110 + 130 = 465 s at most, plus the summary
  T_CARD=45 T_RL=180 T_RM=110 T_SAMPLER=130
fi

RESULTS="${GPU_SUITE_DIR:-$(mktemp -d /tmp/gpu_suite.XXXXXX)}"
mkdir -p "$RESULTS"
STATUS_FILE="$RESULTS/status.tsv"
: >"$STATUS_FILE"
SUITE_START=$SECONDS
echo "== gpu_suite: $MODE; python $PY; JAX_PLATFORMS=$JAX_PLATFORMS; results in $RESULTS"

# run_part NAME TIMEOUT COMMAND...: the command under `timeout`, its output shown and kept in NAME.log
run_part() {
  local name="$1" limit="$2" start=$SECONDS rc status
  shift 2
  echo
  echo "== $name (timeout ${limit}s): $*"
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$RESULTS/$name.log"
  rc=${PIPESTATUS[0]}
  case "$rc" in
    0) status=ok ;;
    124 | 137) status="timeout (${limit}s)" ;;
    *) status="failed (exit $rc)" ;;
  esac
  printf '%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - start))" >>"$STATUS_FILE"
  echo "== $name: $status in $((SECONDS - start))s"
}

card() {
  if command -v nvidia-smi >/dev/null 2>&1; then
    timeout 15 nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$RESULTS/nvidia-smi.csv"
  else
    echo "nvidia-smi: not present"
  fi
  "$PY" - "$RESULTS/card.json" <<'EOF'
import json
import sys

import jax

devices = jax.devices()
print(f"jax {jax.__version__}: jax.devices() = {devices}")
info = {"jax": jax.__version__, "platform": devices[0].platform, "kind": devices[0].device_kind}
info["count"] = len(devices)
try:
    import tunix  # noqa: F401

    info["tunix"] = "importable, but rl_step.py's tunix side is CPU/fp32 only: skipped"
except ImportError:
    info["tunix"] = "not importable here: skipped"
print(f"tunix peer: {info['tunix']}")
json.dump(info, open(sys.argv[1], "w"))
EOF
}

export PY RESULTS
export -f card # `timeout` runs programs, not functions
run_part card "$T_CARD" bash -c card
# -m from the repo root: bench/ must not lead sys.path (bench/executor.py would shadow the `executor` package).
# jax's share of the card: all of it for rl (jax alone), half for rm and sampler (torch's peer runs in the
# same process)
run_part rl "$T_RL" env XLA_PYTHON_CLIENT_MEM_FRACTION=0.9 "$PY" -m bench.rl_step --preset "$PRESET" \
  --dtype bfloat16 --device "$RL_DEVICE" --no-tunix "${RL_SIZE[@]}" --json "$RESULTS/rl.json"
run_part rm "$T_RM" env XLA_PYTHON_CLIENT_MEM_FRACTION=0.5 "$PY" -m bench.rm_step --preset "$PRESET" \
  --dtype bfloat16 "${RM_SIZE[@]}" --json "$RESULTS/rm.json"
run_part sampler "$T_SAMPLER" env XLA_PYTHON_CLIENT_MEM_FRACTION=0.5 "$PY" -m bench.sampler \
  --preset "$PRESET" --dtype bfloat16 "${SAMPLER_SIZE[@]}" --json "$RESULTS/sampler.json"

echo
echo "== summary ($MODE, $((SECONDS - SUITE_START))s in all; logs in $RESULTS)"
"$PY" - "$RESULTS" <<'EOF'
import json
import sys
from pathlib import Path

results = Path(sys.argv[1])


def load(name):
    path = results / f"{name}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def card(d):
    return f"{d['kind']} x{d['count']} ({d['platform']}, jax {d['jax']}); tunix {d['tunix'].split(':')[0]}"


def rl(d):
    s, o = d["settings"], d["ours"]
    sec, rows = o["seconds"], s["prompts"] * s["group_size"]
    return (
        f"step {sec['step']:.2f}s (generate {sec['generate']:.2f}s, update {sec['update']:.2f}s); "
        f"rollout {o['generated_tokens'] / sec['generate']:,.0f} tok/s; {rows} rows x {s['new_tokens']} "
        f"tokens; first step {o['first_step_s']:.1f}s; {o['model']['params'] / 1e6:,.1f}M params"
    )


def rm(d):
    out = f"jax {d['jax_ms']:.1f} ms/step, {d['jax_tokens_per_s']:,.0f} tok/s"
    if "jax_mfu" in d:
        out += f", MFU {d['jax_mfu']:.1%}"
    if "torch_ms" in d:
        out += f"; torch {d['torch_ms']:.1f} ms/step"
        if "torch_mfu" in d:
            out += f" (MFU {d['torch_mfu']:.1%})"
        out += f"; torch/jax time {d['ratio']:.2f}x"
    return out


def sampler(d):
    out = (
        f"jax {d['jax_tokens_per_s']:,.0f} tok/s, transformers ({d['torch_device']}) "
        f"{d['transformers_tokens_per_s']:,.0f} tok/s, jax/transformers {d['ratio']:.2f}x; "
        f"first call {d['jax_first_call_s']:.1f}s; greedy rows identical {d['greedy_rows_identical']}"
    )
    if d.get("vllm_tokens_per_s"):
        out += f"; vLLM {d['vllm_tokens_per_s']:,.0f} tok/s"
    return out


describe = {"card": card, "rl": rl, "rm": rm, "sampler": sampler}
rows = [line.split("\t") for line in (results / "status.tsv").read_text().splitlines() if line]
print(f"{'part':<9}{'status':<19}{'secs':>5}  key numbers")
failed = 0
for name, status, seconds in rows:
    data = load(name)
    try:
        numbers = describe[name](data) if data else "-"
    except (KeyError, TypeError, ZeroDivisionError) as err:
        numbers = f"(unreadable {name}.json: {err!r})"
    failed += status != "ok"
    print(f"{name:<9}{status:<19}{seconds:>5}  {numbers}")
sys.exit(1 if failed else 0)
EOF
