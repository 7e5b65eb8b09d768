"""Length and batch buckets: a few padded shapes so repeated `generate` calls reuse compiled code."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MIN_LENGTH_BUCKET = 16


def length_bucket(length: int, minimum: int = MIN_LENGTH_BUCKET) -> int:
    """The padded prompt length for `length` tokens: the next power of two, at least `minimum`."""
    if length < 1:
        raise ValueError(f"a prompt needs at least one token, got length {length}")
    return max(minimum, 1 << (length - 1).bit_length())


def batch_bucket(rows: int, multiple: int = 1) -> int:
    """The padded batch size for `rows`: the next power of two, rounded up to a multiple of `multiple`."""
    size = 1 << max(0, rows - 1).bit_length()
    return -(-size // multiple) * multiple


def left_pad(
    prompts: Sequence[Sequence[int]], length: int, rows: int, pad_id: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Left-pad token lists into (ids [rows, length], mask [rows, length]) int32; extra rows are padding.

    Padding rows hold one real token so every row has a defined last position; their output is discarded.
    """
    ids = np.full((rows, length), pad_id, dtype=np.int32)
    mask = np.zeros((rows, length), dtype=np.int32)
    for row, prompt in enumerate(prompts):
        if len(prompt) > length:
            raise ValueError(f"prompt {row} has {len(prompt)} tokens, more than the bucket length {length}")
        if len(prompt):
            ids[row, length - len(prompt) :] = np.asarray(prompt, dtype=np.int32)
            mask[row, length - len(prompt) :] = 1
    mask[len(prompts) :, -1] = 1
    return ids, mask
