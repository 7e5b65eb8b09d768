"""Write the world to a directory once: train/fresh/heldout/seeds/sft JSONL, the tokenizer and a manifest.

`ensure_world(out, seed)` is what configs call: it builds the directory when missing (atomically, so a crash
or a concurrent first use never leaves half a world) and reuses it when present, refusing one built from
another seed. Layout:
- train.jsonl, fresh.jsonl, heldout.jsonl: AceCode-87K rows (`inferences: []`) + `reference`, `family`,
  `params` (build.py says what each split is for);
- seeds.jsonl: seed rows of the fresh split (the data stages' input: questions the SFT policy never saw);
- sft.jsonl: `{id, messages}` rows of the train split (sampling prompt -> reference answer);
- tokenizer/: the world tokenizer (Hugging Face directory); world.json: seed, version, counts, token lengths.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from acecoder_jax.common.atomic_build import atomic_build_dir
from acecoder_jax.world.build import World, build_world
from acecoder_jax.world.problem import WorldError
from acecoder_jax.world.rows import acecode_row, seed_row, sft_messages, sft_row
from acecoder_jax.world.tokenizer import load_world_tokenizer, save_world_tokenizer
from executor.jsonl import to_json_line

WORLD_VERSION = 3  # bump when generation changes, so a directory from an older generator is not reused
MANIFEST = "world.json"


def ensure_world(out: str | Path, seed: int = 0) -> Path:
    """`out` holding the world of `seed`: built when missing, reused when present."""
    out = Path(out)
    manifest = out / MANIFEST
    if manifest.is_file():
        found = json.loads(manifest.read_text())
        if (found.get("seed"), found.get("version")) != (seed, WORLD_VERSION):
            raise WorldError(
                f"{out}: holds the world of seed {found.get('seed')} version {found.get('version')}, "
                f"asked for seed {seed} version {WORLD_VERSION}; choose another directory or delete it"
            )
        return out
    if out.exists() and any(out.iterdir()):
        raise WorldError(f"{out}: exists, is not empty and holds no {MANIFEST}; choose another directory")
    if out.exists():
        out.rmdir()  # an empty directory would block the atomic rename
    return atomic_build_dir(out, lambda staging: write_world(build_world(seed), staging), MANIFEST)


def write_world(world: World, directory: Path) -> dict[str, Any]:
    """Write every file of `world` into `directory`; returns the manifest (also written, last)."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)  # a staging dir from mkdtemp is private; the world is an ordinary data dir
    _write_jsonl(directory / "train.jsonl", (acecode_row(p) for p in world.train))
    _write_jsonl(directory / "fresh.jsonl", (acecode_row(p) for p in world.fresh))
    _write_jsonl(directory / "heldout.jsonl", (acecode_row(p) for p in world.heldout))
    _write_jsonl(directory / "seeds.jsonl", (seed_row(p) for p in world.fresh))
    _write_jsonl(directory / "sft.jsonl", (sft_row(p) for p in world.train))
    save_world_tokenizer((sft_messages(p) for p in world.train), directory / "tokenizer")
    manifest = {"seed": world.seed, "version": WORLD_VERSION, **world_stats(world, directory / "tokenizer")}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def world_stats(world: World, tokenizer_dir: Path) -> dict[str, Any]:
    """Problem counts per family and split, and token lengths of the SFT chats under the world tokenizer."""
    tokenizer = load_world_tokenizer(tokenizer_dir)
    counts = {
        split: collections.Counter(p.family for p in getattr(world, split))
        for split in ("train", "fresh", "heldout")
    }
    lengths: dict[str, list[int]] = {"prompt": [], "answer": [], "program": []}
    for problem in [*world.train, *world.fresh, *world.heldout]:
        chat = sft_messages(problem)
        prompt = tokenizer.apply_chat_template(chat[:1], tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(chat, tokenize=False)
        n_prompt, n_full = (len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in (prompt, full))
        lengths["prompt"].append(n_prompt)
        lengths["answer"].append(n_full - n_prompt)
        lengths["program"].append(len(tokenizer(problem.reference, add_special_tokens=False)["input_ids"]))
    return {
        **{split: len(getattr(world, split)) for split in counts},
        "families": {name: {split: c[name] for split, c in counts.items()} for name in counts["train"]},
        "vocab_size": len(tokenizer),
        "tokens": {name: _summary(values) for name, values in lengths.items()},
    }


def _summary(values: list[int]) -> dict[str, float]:
    ordered = sorted(values)
    return {"min": ordered[0], "median": ordered[len(ordered) // 2], "max": ordered[-1]}


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.writelines(to_json_line(row) for row in rows)
