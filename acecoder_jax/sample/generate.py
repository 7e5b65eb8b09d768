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

Each row draws from its own PRNG key, a function of (seed, its prompt's seed, its sample index) only, so what
a prompt gets does not depend on the batch it shares, the chunking, the mesh or the process count.

Multi-host: every process calls `generate` with its own prompts (any number, any lengths) and gets its own
rows back; the processes agree on the chunk count and each chunk's padded shape before every collective, and
a prompt's default seed is its index in the process-order concatenation of all processes' prompts, so the
job samples exactly what one process given every prompt would.
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
from acecoder_jax.train.batch import local_batch_multiple, local_rows, put_batch
from acecoder_jax.train.hosts import agreed_max, gathered_counts, multi_process

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
    keys: jax.Array  # [B] one PRNG key per row


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
    row_seeds: jax.Array,
    row_samples: jax.Array,
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
    keys = jax.vmap(lambda s, j: jax.random.fold_in(jax.random.fold_in(key, s), j))(row_seeds, row_samples)
    state = DecodeState(
        cache=cache,
        tokens=jnp.zeros((batch, settings.max_new_tokens), jnp.int32),
        logprobs=jnp.zeros((batch, settings.max_new_tokens), jnp.float32),
        lengths=jnp.zeros((batch,), jnp.int32),
        done=jnp.zeros((batch,), jnp.bool_),
        step=jnp.zeros((), jnp.int32),
        keys=keys,
    )
    token, logprob = next_token(
        _step_keys(keys, 0),
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
            _step_keys(state.keys, state.step),
            logits[:, -1, :],
            temperature=settings.temperature,
            top_p=settings.top_p,
            top_k=settings.top_k,
        )
        return _write(state.replace(cache=cache), token, logprob, eos)

    return jax.lax.while_loop(running, one_step, state)


def _step_keys(keys: jax.Array, step: Any) -> jax.Array:
    """Each row's key for decode step `step`."""
    return jax.vmap(lambda key: jax.random.fold_in(key, step))(keys)


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
    prompt_seeds: Sequence[int] | None = None,
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
    (default: all); `mesh` shards the batch over its (data, fsdp) axes. Sample j of prompt i draws from
    a key made of (`seed`, `prompt_seeds[i]`, j); the default prompt seed is the prompt's global index (see
    the module docstring for multi-host).
    """
    validate_settings(temperature, top_p, top_k)
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not prompts and not multi_process():  # other processes may still need this one in the collectives
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
            prompt_seeds=prompt_seeds,
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
    multiple = 1 if mesh is None else local_batch_multiple(mesh)
    if prompt_seeds is None:
        first = sum(gathered_counts(len(prompts))[: jax.process_index()])
        prompt_seeds = range(first, first + len(prompts))
    elif len(prompt_seeds) != len(prompts):
        raise ValueError(f"{len(prompt_seeds)} prompt_seeds for {len(prompts)} prompts")

    rows = [index for index in range(len(prompts)) for _ in range(n)]
    order = sorted(range(len(rows)), key=lambda r: len(prompts[rows[r]]))
    (most_rows,) = agreed_max(len(rows))
    chunk = batch_size or most_rows
    tokens: list[list[int]] = [[] for _ in rows]
    logprobs: list[list[float]] = [[] for _ in rows]
    reasons: list[str] = ["length"] * len(rows)
    for start in range(0, most_rows, chunk):
        members = order[start : start + chunk]
        out = _generate_chunk(
            graphdef,
            params,
            [prompts[rows[r]] for r in members],
            seeds=[(int(prompt_seeds[rows[r]]), r % n) for r in members],
            settings=settings,
            key=jax.random.key(seed),
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
    seeds: list[tuple[int, int]],
    settings: _Settings,
    key: jax.Array,
    eos: jax.Array,
    checker: StopChecker | None,
    mesh: Any,
    multiple: int,
    stop_check_every: int,
) -> list[tuple[list[int], list[float], str]]:
    """Prefill + decode for one chunk of rows (`seeds`: each row's (prompt seed, sample index)); returns
    (tokens, logprobs, finish reason) per real row. Every process calls this once per chunk, some perhaps with
    no rows; all pad to the same shape."""
    longest, most = agreed_max(max((len(p) for p in prompts), default=1), len(prompts))
    length = length_bucket(longest)
    batch = batch_bucket(most, multiple)
    ids, mask = left_pad(prompts, length, batch)
    row_seeds = np.zeros(batch, np.uint32)
    row_samples = np.zeros(batch, np.int32)
    for row, (prompt_seed, sample) in enumerate(seeds):
        row_seeds[row], row_samples[row] = prompt_seed % (1 << 32), sample
    cache_len = length + settings.max_new_tokens
    with _mesh_context(mesh):
        host = {"ids": ids, "mask": mask, "seeds": row_seeds, "samples": row_samples}
        placed = put_batch(mesh, host) if mesh is not None else {k: jnp.asarray(v) for k, v in host.items()}
        state = _prefill(
            graphdef,
            params,
            placed["ids"],
            placed["mask"],
            placed["seeds"],
            placed["samples"],
            key,
            eos,
            settings=settings,
            cache_len=cache_len,
            mesh=mesh,
        )
        # Stop rows beyond the real ones at once so they never keep the loop running.
        padding_rows = np.arange(batch) >= len(prompts)
        state = _set_rows(state, done=local_rows(state.done) | padding_rows, lengths=None)
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
    tokens = local_rows(state.tokens)
    logprobs = local_rows(state.logprobs)
    lengths = local_rows(state.lengths)
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
    tokens = local_rows(state.tokens)
    lengths = local_rows(state.lengths).copy()
    done = local_rows(state.done).copy()
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
    """Replace this process's rows of `done` (and `lengths`) with host values, keeping each array's device
    placement."""
    new = {"done": jax.make_array_from_process_local_data(state.done.sharding, done)}
    if lengths is not None:
        new["lengths"] = jax.make_array_from_process_local_data(
            state.lengths.sharding, lengths.astype(np.int32)
        )
    return state.replace(**new)


def _mesh_context(mesh: Any):
    """`jax.set_mesh(mesh)` when a mesh is given (activation constraints need it), else nothing."""
    return jax.set_mesh(mesh) if mesh is not None else contextlib.nullcontext()
