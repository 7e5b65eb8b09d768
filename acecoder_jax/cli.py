"""The `acecoder` console script: one entry point, subcommands imported only when chosen.

`acecoder exec` imports neither jax nor torch; data_gen subcommands never import jax.
"""

from __future__ import annotations

import importlib
import sys

# name -> ("module:function", one-line help). Each function takes the remaining argv and returns an exit code.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "exec": ("executor.cli:main", "run programs against tests in the sandboxed executor"),
    "serve-exec": ("executor.serve_cli:main", "serve the executor over HTTP (rewards for RL stacks)"),
    "synth-tests": ("data_gen.cli:synth_tests", "rewrite seed code into questions with assert tests"),
    "filter-tests": ("data_gen.cli:filter_tests", "drop tests an oracle solution fails"),
    "sample": ("data_gen.cli:sample", "sample N programs per question"),
    "score": ("data_gen.cli:score", "execute sampled programs, write AceCode-87K rows"),
    "pairs": ("data_gen.cli:pairs", "build AceCodePair preference pairs"),
    "hard-subset": ("data_gen.cli:hard_subset", "select the RL hard subset"),
    "pipeline": ("data_gen.cli:pipeline", "run every data stage from a config"),
    "test-strength": ("data_gen.cli:test_strength", "mutation score of each question's tests"),
    "contamination": ("data_gen.cli:contamination", "n-gram overlap against benchmarks"),
    "world": ("acecoder_jax.world.cli:main", "generate the policy world (tasks, SFT rows, tokenizer)"),
    "train-rm": ("acecoder_jax.rm.cli:main", "train a Bradley-Terry reward model"),
    "train-sft": ("acecoder_jax.sft.cli:main", "supervised fine-tuning of a policy on chat rows"),
    "export-hf": ("acecoder_jax.export_cli:main", "export a checkpoint to Hugging Face format"),
    "best-of-n": ("acecoder_jax.eval.cli:main", "best-of-N evaluation with a reward model"),
    "train-rl": ("acecoder_jax.rl.cli:main", "RL (Reinforce++/GRPO/RLOO) with RM or test rewards"),
}


def usage() -> str:
    """The top-level help text, listing subcommands that are installed."""
    lines = ["usage: acecoder SUBCOMMAND [args...]", "", "subcommands:"]
    for name, (target, help_text) in SUBCOMMANDS.items():
        if _available(target):
            lines.append(f"  {name:<15} {help_text}")
    return "\n".join(lines)


def _available(target: str) -> bool:
    module = target.split(":")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a subcommand."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS or not _available(SUBCOMMANDS[name][0]):
        print(f"acecoder: unknown subcommand {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name, func_name = SUBCOMMANDS[name][0].split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    return int(func(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
