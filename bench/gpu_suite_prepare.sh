#!/usr/bin/env bash
# Fill .gpu_deps/ (gitignored) with the pure-Python packages bench/gpu_suite.sh needs on a GPU box that has
# only jax (CUDA), flax, optax, orbax, torch and transformers (and their own dependencies) and no internet.
#
# Run it here, on the CPU box (PyPI reachable), from anywhere:
#
#     bash bench/gpu_suite_prepare.sh
#
# It imports the acecoder_jax modules behind the suite's bench scripts (bench/rl_step.py, rm_step.py,
# sampler.py) in this project's .venv, collects every import those modules and scripts write, maps them to
# their distributions (with their declared dependencies), drops those the GPU box already has (the dependency closure of jax, jaxlib, flax, optax,
# orbax-checkpoint, torch and transformers, as .venv's metadata declares it) and this project itself (it runs
# from the source tree), and installs the rest, pinned to .venv's versions, with
# `pip install --target .gpu_deps --no-deps` (copied from .venv's site-packages when PyPI cannot be reached).
# Packages with compiled code are refused: they would not match the GPU box's Python / platform.
# Then carry `.gpu_deps` to the GPU box with the working tree; gpu_suite.sh prepends it to PYTHONPATH.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
TARGET="$ROOT/.gpu_deps"
cd "$ROOT"

# "name==version" of each missing pure-Python distribution, one a line
LISTED="$(JAX_PLATFORMS=cpu "$PY" - <<'EOF'
import ast
import importlib
import importlib.metadata as md
import re
import sys
from pathlib import Path

from packaging.requirements import Requirement

BASELINE = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "torch", "transformers")
MODULES = (  # what bench/rl_step.py (our side), rm_step.py and sampler.py import
    "acecoder_jax.models",
    "acecoder_jax.rl.policy_step",
    "acecoder_jax.rl.prompting",
    "acecoder_jax.rl.rewards",
    "acecoder_jax.rl.rollout",
    "acecoder_jax.rl.setup",
    "acecoder_jax.rl.source",
    "acecoder_jax.rm.step",
    "acecoder_jax.sample",
    "acecoder_jax.sharding",
    "acecoder_jax.train.batch",
    "acecoder_jax.train.optimizer",
    "acecoder_jax.train.state",
    "acecoder_jax.train.step",
    "numpy",
    "safetensors",
    "torch",
    "transformers",
)


def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(names):
    seen = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if norm(name) in seen:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        seen.add(norm(name))
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen




def imports(tree, into_functions):
    """Top-level names of a module's absolute imports (those inside functions only if `into_functions`)."""
    found, todo = set(), [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
        if into_functions or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            todo.extend(ast.iter_child_nodes(node))
    return found


# the module-level imports of the project's modules the scripts load (a function's lazy import, such as
# pyarrow for parquet rows, is off the bench's path) and every import of the bench scripts themselves; the
# baseline packages' own optional imports (PIL, dill, ...) are theirs to skip
for module in MODULES:
    importlib.import_module(module)
names = set()
for name, module in list(sys.modules.items()):
    if name.split(".")[0] == "acecoder_jax":
        names |= imports(ast.parse(Path(module.__file__).read_text()), into_functions=False)
for script in ("rl_step.py", "rm_step.py", "sampler.py", "model_step.py"):
    names |= imports(ast.parse((Path("bench") / script).read_text()), into_functions=True)
owners = md.packages_distributions()
imported = {d for name in names for d in owners.get(name, [])}
have = closure(BASELINE) | {"acecoder-jax"}
needed = closure(d for d in imported if norm(d) not in have) - have
for name in sorted(needed):
    dist = md.distribution(name)
    compiled = [str(f) for f in dist.files or [] if str(f).endswith((".so", ".pyd", ".dylib"))]
    if compiled:
        sys.exit(f"{name} has compiled code ({compiled[0]}): it cannot travel in .gpu_deps")
    print(f"{dist.metadata['Name']}=={dist.version}")
EOF
)"
WANTED=()
[ -n "$LISTED" ] && mapfile -t WANTED <<<"$LISTED"

rm -rf "$TARGET"
mkdir -p "$TARGET"
if [ "${#WANTED[@]}" -eq 0 ]; then
  echo "nothing to add: the GPU box's baseline covers every import"
  exit 0
fi
echo "missing on a jax/flax/optax/orbax/torch/transformers box: ${WANTED[*]}"
if ! "$PY" -m pip install -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --target "$TARGET" "${WANTED[@]}"; then
  echo "pip could not fetch them; copying .venv's installed files instead"
  rm -rf "$TARGET"
  mkdir -p "$TARGET"
  "$PY" - "$TARGET" "${WANTED[@]}" <<'EOF'
import importlib.metadata as md
import shutil
import sys
from pathlib import Path

target = Path(sys.argv[1])
for spec in sys.argv[2:]:
    dist = md.distribution(spec.split("==")[0])
    for file in dist.files or []:
        source = Path(dist.locate_file(file))
        if file.parts[0] == ".." or "__pycache__" in file.parts or not source.is_file():
            continue
        (target / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / file)
EOF
fi
rm -rf "${TARGET:?}/bin"
find "$TARGET" -name __pycache__ -type d -prune -exec rm -rf {} +
echo "$TARGET: $(du -sh "$TARGET" | cut -f1) ($(find "$TARGET" -type f | wc -l) files)"
ls "$TARGET"
