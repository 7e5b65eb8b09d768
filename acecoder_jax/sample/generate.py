"""`generate`: batched sampling from a `CausalLM` with a fixed-size KV cache, one jitted prefill and one
jitted `lax.while_loop` decode.

How a call runs:
1. rows = prompts x n (prompt-major), sorted by length and cut into chunks of at most `batch_size` rows;
2. each chunk is left-padded to a length bucket and a batch bucket (powers of two; a multiple of the mesh's
   batch axes), so repeated calls with similar shapes reuse the compiled functions (RL calls this every step);
3. prefill: one forward over the padded prompts writes the cache and samples the first token;
4. decode: a `lax.while_loop` appends one token per step until every row is done (EOS or max_new_tokens), on
   donated state. With stop strings the loop returns every `stop_check_every` steps so the host can decode
   each live row's new tail with the tokenizer and end rows whose text holds a stop string, then continues.
Sampling is on fp32 logits; the log-probabilities returned are the model's own (log-softmax of the raw
logits), equal to a full forward pass over prompt + generation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections import Counter
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx, struct

from acecoder_jax.models.kv_cache import Cache, init_cache
from acecoder_jax.train.batch import batch_axis_size, put_batch

from .buckets import batch_bucket, left_pad, length_bucket
from .sampling import next_token, validate_settings
from .stop import StopChecker

# Trace counts of the jitted functions (a trace is a compile): lets tests and RL logs see recompiles.
TRACE_COUNTS: Counter[str] = Counter()


@dataclasses.dataclass
class Generation:
    """Generated tokens for prompts x n samples, prompt-major: row i * n + j is sample j of prompt i."""

    tokens: list[list[int]]
    finish_reasons: list[str]  # "eos" | "stop" | "length"
    n: int
    logprobs: list[list[float]] | None = None

    def for_prompt(self, index: int) -> list[list[int]]:
        """The n samples of prompt `index`."""
        return self.tokens[index * self.n : (index + 1) * self.n]

    def padded(self, pad_id: int = 0) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """(tokens [R, L] int32 right-padded with `pad_id`, logprobs [R, L] float32 or None, lengths [R])."""
        lengths = np.array([len(t) for t in self.tokens], dtype=np.int32)
        width = int(lengths.max(initial=0))
        tokens = np.full((len(self.tokens), width), pad_id, dtype=np.int32)
        logprobs = None if self.logprobs is None else np.zeros((len(self.tokens), width), dtype=np.float32)
        for row, row_tokens in enumerate(self.tokens):
            tokens[row, : len(row_tokens)] = row_tokens
            if logprobs is not None:
                logprobs[row, : len(row_tokens)] = self.logprobs[row]
        return tokens, logprobs, lengths


@struct.dataclass
class DecodeState:
    """Everything the decode loop carries (donated between calls)."""

    cache: Cache
    tokens: jax.Array  # [B, max_new] int32 generated tokens (0 after a row is done)
    logprobs: jax.Array  # [B, max_new] float32
    lengths: jax.Array  # [B] int32 tokens generated per row
    done: jax.Array  # [B] bool
    step: jax.Array  # [] int32 next column of `tokens` to write
    key: jax.Array


@dataclasses.dataclass(frozen=True)
class _Settings:
    """Static (compile-time) sampling settings."""

    max_new_tokens: int
    temperature: float
    top_p: float
    top_k: int


def _write(state: DecodeState, token: jax.Array, logprob: jax.Array, eos: jax.Array) -> DecodeState:
    """Append one token per row (rows already done keep their length and get 0)."""
    live = ~state.done
    token = jnp.where(live, token, 0)
    tokens = jax.lax.dynamic_update_slice(state.tokens, token[:, None], (0, state.step))
    logprob = jnp.where(live, logprob, 0.0).astype(state.logprobs.dtype)
    logprobs = jax.lax.dynamic_update_slice(state.logprobs, logprob[:, None], (0, state.step))
    lengths = state.lengths + live.astype(jnp.int32)
    hit_eos = jnp.any(token[:, None] == eos[None, :], axis=-1) if eos.shape[0] else jnp.zeros_like(live)
    done = state.done | (live & hit_eos) | (state.step + 1 >= state.tokens.shape[1])
    return state.replace(tokens=tokens, logprobs=logprobs, lengths=lengths, done=done, step=state.step + 1)


@functools.partial(jax.jit, static_argnames=("graphdef", "settings", "cache_len", "mesh"))
def _prefill(
    graphdef: nnx.GraphDef,
    params: nnx.State,
    input_ids: jax.Array,
    attention_mask: jax.Array,
    key: jax.Array,
    eos: jax.Array,
    *,
    settings: _Settings,
    cache_len: int,
    mesh: Any,
) -> DecodeState:
    TRACE_COUNTS["prefill"] += 1
    model = nnx.merge(graphdef, params)
    batch = input_ids.shape[0]
    cache = init_cache(model.config, batch, cache_len, mesh=mesh)
    # Only the last position's logits are needed: [B, T, V] fp32 over a long prompt bucket dwarfs the cache.
    hidden, cache = model.model(input_ids, attention_mask, None, cache)
    logits = model.logits(hidden[:, -1:, :])
    state = DecodeState(
        cache=cache,
        tokens=jnp.zeros((batch, settings.max_new_tokens), jnp.int32),
        logprobs=jnp.zeros((batch, settings.max_new_tokens), jnp.float32),
        lengths=jnp.zeros((batch,), jnp.int32),
        done=jnp.zeros((batch,), jnp.bool_),
        step=jnp.zeros((), jnp.int32),
        key=key,
    )
    token, logprob = next_token(
        jax.random.fold_in(key, 0),
        logits[:, -1, :],
        temperature=settings.temperature,
        top_p=settings.top_p,
        top_k=settings.top_k,
    )
    return _write(state, token, logprob, eos)


@functools.partial(jax.jit, static_argnames=("graphdef", "settings"), donate_argnames=("state",))
def _decode(
    graphdef: nnx.GraphDef,
    params: nnx.State,
    state: DecodeState,
    end_step: jax.Array,
    eos: jax.Array,
    *,
    settings: _Settings,
) -> DecodeState:
    TRACE_COUNTS["decode"] += 1
    model = nnx.merge(graphdef, params)

    def running(state: DecodeState) -> jax.Array:
        return (state.step < end_step) & ~jnp.all(state.done)

    def one_step(state: DecodeState) -> DecodeState:
        last = jax.lax.dynamic_slice_in_dim(state.tokens, state.step - 1, 1, axis=1)
        ones = jnp.ones_like(last)
        logits, cache = model(last, ones, cache=state.cache)
        token, logprob = next_token(
            jax.random.fold_in(state.key, state.step),
            logits[:, -1, :],
            temperature=settings.temperature,
            top_p=settings.top_p,
            top_k=settings.top_k,
        )
        return _write(state.replace(cache=cache), token, logprob, eos)

    return jax.lax.while_loop(running, one_step, state)


def generate(
    model: Any,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    temperature: float = 0.0,
    top_p: float = 1.0,
    top_k: int = 0,
    eos_ids: Sequence[int] = (),
    n: int = 1,
    seed: int = 0,
    return_logprobs: bool = False,
    stop: Sequence[str] | None = None,
    tokenizer: Any = None,
    mesh: Any = None,
    batch_size: int | None = None,
    stop_check_every: int = 32,
) -> Generation:
    """Sample `n` continuations of each prompt (token-id lists of any lengths); temperature 0 is greedy.

    Rows end at a token in `eos_ids` (kept in the output), at a stop string (needs `tokenizer`; the row keeps
    the token that completes it), or after `max_new_tokens`. `batch_size` caps the rows decoded together
    (default: all); `mesh` shards the batch over its (data, fsdp) axes.
    """
    validate_settings(temperature, top_p, top_k)
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not prompts:
        return Generation(tokens=[], finish_reasons=[], n=n, logprobs=[] if return_logprobs else None)
    for index, prompt in enumerate(prompts):
        if len(prompt) == 0:
            raise ValueError(f"prompt {index} is empty; every prompt needs at least one token")
    checker = StopChecker(stop, tokenizer) if stop else None
    if temperature == 0.0 and n > 1:
        # Greedy samples are identical: decode each prompt once and repeat it.
        once = generate(
            model,
            prompts,
            max_new_tokens=max_new_tokens,
            eos_ids=eos_ids,
            return_logprobs=return_logprobs,
            stop=stop,
            tokenizer=tokenizer,
            mesh=mesh,
            batch_size=batch_size,
            stop_check_every=stop_check_every,
        )

        def repeat(values: list[Any] | None) -> list[Any] | None:
            return None if values is None else [list(v) for v in values for _ in range(n)]

        return Generation(
            tokens=repeat(once.tokens),
            finish_reasons=[r for r in once.finish_reasons for _ in range(n)],
            n=n,
            logprobs=repeat(once.logprobs),
        )
    settings = _Settings(max_new_tokens, float(temperature), float(top_p), int(top_k))
    graphdef, params = nnx.split(model)
    eos = jnp.asarray(sorted(set(int(e) for e in eos_ids)), dtype=jnp.int32)
    multiple = 1 if mesh is None else batch_axis_size(mesh)

    rows = [index for index in range(len(prompts)) for _ in range(n)]
    order = sorted(range(len(rows)), key=lambda r: len(prompts[rows[r]]))
    chunk = batch_size or len(rows)
    tokens: list[list[int]] = [[] for _ in rows]
    logprobs: list[list[float]] = [[] for _ in rows]
    reasons: list[str] = ["length"] * len(rows)
    for chunk_index, start in enumerate(range(0, len(order), chunk)):
        members = order[start : start + chunk]
        out = _generate_chunk(
            graphdef,
            params,
            [prompts[rows[r]] for r in members],
            settings=settings,
            key=jax.random.fold_in(jax.random.key(seed), chunk_index),
            eos=eos,
            checker=checker,
            mesh=mesh,
            multiple=multiple,
            stop_check_every=stop_check_every,
        )
        for member, (row_tokens, row_logprobs, reason) in zip(members, out):
            tokens[member], logprobs[member], reasons[member] = row_tokens, row_logprobs, reason
    return Generation(
        tokens=tokens, finish_reasons=reasons, n=n, logprobs=logprobs if return_logprobs else None
    )


def _generate_chunk(
    graphdef: nnx.GraphDef,
    params: nnx.State,
    prompts: list[Sequence[int]],
    *,
    settings: _Settings,
    key: jax.Array,
    eos: jax.Array,
    checker: StopChecker | None,
    mesh: Any,
    multiple: int,
    stop_check_every: int,
) -> list[tuple[list[int], list[float], str]]:
    """Prefill + decode for one chunk of rows; returns (tokens, logprobs, finish reason) per real row."""
    length = length_bucket(max(len(p) for p in prompts))
    batch = batch_bucket(len(prompts), multiple)
    ids, mask = left_pad(prompts, length, batch)
    # Stop rows beyond the real ones at once so they never keep the loop running.
    cache_len = length + settings.max_new_tokens
    with _mesh_context(mesh):
        if mesh is not None:
            placed = put_batch(mesh, {"ids": ids, "mask": mask})
            ids, mask = placed["ids"], placed["mask"]
        state = _prefill(
            graphdef, params, ids, mask, key, eos, settings=settings, cache_len=cache_len, mesh=mesh
        )
        padding_rows = np.arange(batch) >= len(prompts)
        state = _set_rows(state, done=np.asarray(state.done) | padding_rows, lengths=None)
        cut: dict[int, int] = {}
        checked = [0] * len(prompts)
        finished: set[int] = set()
        while True:
            end = settings.max_new_tokens if checker is None else int(state.step) + stop_check_every
            state = _decode(graphdef, params, state, jnp.asarray(end, jnp.int32), eos, settings=settings)
            if checker is not None:
                state = _apply_stop(state, checker, cut, checked, finished, len(prompts))
            if bool(jnp.all(state.done)) or int(state.step) >= settings.max_new_tokens:
                break
    tokens = np.asarray(state.tokens)
    logprobs = np.asarray(state.logprobs)
    lengths = np.asarray(state.lengths)
    eos_set = set(np.asarray(eos).tolist())
    out = []
    for row in range(len(prompts)):
        kept = int(lengths[row])
        row_tokens = tokens[row, :kept].tolist()
        if row in cut:
            reason = "stop"
        elif row_tokens and row_tokens[-1] in eos_set:
            reason = "eos"
        else:
            reason = "length"
        out.append((row_tokens, logprobs[row, :kept].tolist(), reason))
    return out


def _apply_stop(
    state: DecodeState,
    checker: StopChecker,
    cut: dict[int, int],
    checked: list[int],
    finished: set[int],
    real_rows: int,
) -> DecodeState:
    """End rows whose newly generated text holds a stop string (host side, between decode chunks)."""
    tokens = np.asarray(state.tokens)
    lengths = np.asarray(state.lengths).copy()
    done = np.asarray(state.done).copy()
    changed = False
    for row in range(real_rows):
        if row in finished or row in cut:
            continue
        if done[row]:  # ended (EOS or length) in this chunk: its last tail is checked once more, below
            finished.add(row)
        keep, checked[row] = checker.find(tokens[row, : lengths[row]].tolist(), checked[row])
        if keep is not None:
            cut[row] = keep
            lengths[row] = keep
            done[row] = True
            changed = True
    return _set_rows(state, done=done, lengths=lengths) if changed else state


def _set_rows(state: DecodeState, *, done: np.ndarray, lengths: np.ndarray | None) -> DecodeState:
    """Replace `done` (and `lengths`) with host values, keeping each array's device placement."""
    new = {"done": jax.device_put(done, state.done.sharding)}
    if lengths is not None:
        new["lengths"] = jax.device_put(lengths.astype(np.int32), state.lengths.sharding)
    return state.replace(**new)


def _mesh_context(mesh: Any):
    """`jax.set_mesh(mesh)` when a mesh is given (activation constraints need it), else nothing."""
    return jax.set_mesh(mesh) if mesh is not None else contextlib.nullcontext()
