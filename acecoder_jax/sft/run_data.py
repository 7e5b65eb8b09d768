"""An SFT run's data: the world built when configured, the tokenizer, tokenized train/eval rows, and the
training stream with per-row token weights.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import grain
import jax

from acecoder_jax.data.bad_rows import BadRowReport
from acecoder_jax.data.sft_batches import Batch, sft_eval_batches, sft_train_batches
from acecoder_jax.data.sft_encoded import EncodedSequences
from acecoder_jax.data.sft_tokenize import load_sft
from acecoder_jax.rm.model_setup import tokenizer_dir_for
from acecoder_jax.rm.trainer import expand_paths
from acecoder_jax.sft.config import SFTConfig
from acecoder_jax.sft.loss import row_weights


@dataclasses.dataclass
class RunData:
    """Tokenized train/eval rows, what was skipped, and the tokenizer they were made with."""

    train: EncodedSequences
    eval: EncodedSequences | None
    skipped: dict[str, BadRowReport]
    tokenizer: Any
    tokenizer_dir: Path
    pad_id: int


def ensure_inputs(cfg: SFTConfig) -> None:
    """Build the configured world when it is missing (deterministic from its seed; reused when present)."""
    if cfg.world.dir:
        from acecoder_jax.world import ensure_world

        ensure_world(cfg.world.dir, cfg.world.seed)


def load_run_data(cfg: SFTConfig, run_dir: Path) -> RunData:
    """Tokenize the train (and eval) rows with the run's tokenizer, cached under run_dir/data_cache."""
    from transformers import AutoTokenizer

    tokenizer_dir = tokenizer_dir_for(cfg.model, cfg.data.tokenizer)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    common = dict(
        truncation=cfg.data.truncation, on_bad_row=cfg.data.on_bad_row, cache_dir=run_dir / "data_cache"
    )
    train, report = load_sft(expand_paths(cfg.data.train), tokenizer, cfg.data.max_length, **common)
    skipped = {"train": report}
    evaluation = None
    if cfg.data.eval:
        evaluation, skipped["eval"] = load_sft(
            expand_paths(cfg.data.eval), tokenizer, cfg.data.max_length, **common
        )
        evaluation = evaluation if len(evaluation) else None
    return RunData(train, evaluation, skipped, tokenizer, tokenizer_dir, int(pad_id))


def with_token_weights(batch: Batch) -> Batch:
    """`weight` = trained tokens per row, so the step's global normalisation is a token mean."""
    return batch | {"weight": row_weights(batch["loss_mask"])}


def train_stream(cfg: SFTConfig, data: RunData, total_steps: int) -> grain.IterDataset:
    """This process's rows of every global batch, deterministic and resumable (grain iterator state)."""
    return sft_train_batches(
        data.train,
        batch_size=cfg.train.batch_size,
        total_steps=total_steps,
        seed=cfg.seed,
        max_length=cfg.data.max_length,
        pad_id=data.pad_id,
        pad_multiple=cfg.data.pad_multiple,
        window_batches=cfg.data.window_batches,
        process_index=jax.process_index(),
        process_count=jax.process_count(),
    ).map(with_token_weights)


def eval_stream(cfg: SFTConfig, data: RunData) -> list[Batch]:
    """Every eval row once (this process's rows of each batch), weighted by trained tokens."""
    if data.eval is None:
        return []
    batches = sft_eval_batches(
        data.eval,
        batch_size=cfg.eval.batch_size or cfg.train.batch_size,
        max_length=cfg.data.max_length,
        pad_id=data.pad_id,
        pad_multiple=cfg.data.pad_multiple,
        process_index=jax.process_index(),
        process_count=jax.process_count(),
    )
    return [with_token_weights(b) for b in batches]
