"""Reward-model scores for chats, batched into a few padded shapes (one compile per shape).

Multi-host: every process scores its own rows; the processes agree on the chunk count and shapes first.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from acecoder_jax.sample.buckets import batch_bucket, length_bucket
from acecoder_jax.train.batch import local_batch_multiple, local_rows, put_batch
from acecoder_jax.train.hosts import agreed_max


@functools.partial(jax.jit, static_argnames=("graphdef",))
def _scores(graphdef: nnx.GraphDef, params: nnx.State, ids: jax.Array, mask: jax.Array) -> jax.Array:
    return nnx.merge(graphdef, params)(ids, mask)


def score_token_ids(
    model: Any, rows: Sequence[Sequence[int]], *, batch_size: int = 16, mesh: Any = None
) -> list[float]:
    """RewardModel scores for token-id rows (right-padded; the model reads each row's last real token)."""
    graphdef, params = nnx.split(model)
    multiple = 1 if mesh is None else local_batch_multiple(mesh)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    scores = [0.0] * len(rows)
    (most_rows,) = agreed_max(len(rows))
    for start in range(0, most_rows, batch_size):
        members = order[start : start + batch_size]
        longest, most = agreed_max(max((len(rows[i]) for i in members), default=1), len(members))
        length = length_bucket(longest)
        batch = batch_bucket(most, multiple)
        ids = np.zeros((batch, length), np.int32)
        mask = np.zeros((batch, length), np.int32)
        for slot, index in enumerate(members):
            ids[slot, : len(rows[index])] = rows[index]
            mask[slot, : len(rows[index])] = 1
        mask[len(members) :, 0] = 1  # padding rows: one real token so the read position is defined
        if mesh is not None:
            with jax.set_mesh(mesh):
                placed = put_batch(mesh, {"ids": ids, "mask": mask})
                out = local_rows(_scores(graphdef, params, placed["ids"], placed["mask"]))
        else:
            out = np.asarray(_scores(graphdef, params, jnp.asarray(ids), jnp.asarray(mask)))
        for slot, index in enumerate(members):
            scores[index] = float(out[slot])
    return scores


def chat_token_ids(tokenizer: Any, messages: Sequence[dict[str, str]], max_length: int) -> list[int]:
    """Token ids of a chat (the RM's input format), truncated to `max_length` tokens."""
    text = tokenizer.apply_chat_template(list(messages), tokenize=False)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids[:max_length]
