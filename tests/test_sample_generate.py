"""The JAX sampler against transformers: greedy parity on ragged batches, EOS, stop strings, log-probs,
compile reuse and mesh sharding."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hf_fixtures import greedy_ids, make_qwen2
from transformers import AutoModelForCausalLM

from acecoder_jax.common.tokenizer import load_qwen25_tokenizer
from acecoder_jax.models import ModelConfig, from_pretrained, init_model
from acecoder_jax.sample import generate
from acecoder_jax.sample.generate import TRACE_COUNTS
from acecoder_jax.sharding import MeshConfig, make_mesh

MAX_NEW = 12


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return make_qwen2(tmp_path_factory.mktemp("qwen2"), tie=False, seed=3)


@pytest.fixture(scope="module")
def model(checkpoint):
    return from_pretrained(checkpoint)


@pytest.fixture(scope="module")
def prompts():
    rng = np.random.default_rng(0)
    return [rng.integers(100, 150_000, size=n).tolist() for n in (5, 17, 2, 9)]


@pytest.fixture(scope="module")
def hf_greedy(checkpoint, prompts):
    """transformers' greedy continuation of each prompt on its own (no padding at all)."""
    reference = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32).eval()
    return [
        greedy_ids(reference, prompt, MAX_NEW, pad_token_id=0)[0, len(prompt) :].tolist()
        for prompt in prompts
    ]


def test_greedy_matches_transformers_token_for_token_on_ragged_batches(model, prompts, hf_greedy):
    result = generate(model, prompts, max_new_tokens=MAX_NEW)
    assert result.tokens == hf_greedy
    assert result.finish_reasons == ["length"] * len(prompts)
    # Decoded in small chunks (rows two at a time, other buckets): the same tokens.
    chunked = generate(model, prompts, max_new_tokens=MAX_NEW, batch_size=2)
    assert chunked.tokens == hf_greedy
    # n greedy samples per prompt are the greedy answer n times, prompt-major.
    repeated = generate(model, prompts, max_new_tokens=MAX_NEW, n=3)
    assert [repeated.for_prompt(i) for i in range(len(prompts))] == [[r] * 3 for r in hf_greedy]


def test_eos_ends_a_row_and_keeps_the_eos_token(model, prompts, hf_greedy):
    eos = hf_greedy[0][3]
    result = generate(model, prompts, max_new_tokens=MAX_NEW, eos_ids=[eos])
    for row, reference in enumerate(hf_greedy):
        if eos in reference:
            expected = reference[: reference.index(eos) + 1]
            assert result.tokens[row] == expected and result.finish_reasons[row] == "eos"
        else:
            assert result.tokens[row] == reference and result.finish_reasons[row] == "length"
    assert len(result.tokens[0]) <= 4
    # The padded view RL consumes: right-padded arrays and per-row lengths.
    tokens, logprobs, lengths = result.padded(pad_id=-1)
    assert logprobs is None and lengths.tolist() == [len(t) for t in result.tokens]
    assert tokens.shape == (len(prompts), max(lengths)) and tokens[0, lengths[0] :].tolist() == [-1] * (
        tokens.shape[1] - lengths[0]
    )


def test_stop_strings_end_rows_through_the_tokenizer(model, prompts, hf_greedy):
    tokenizer = load_qwen25_tokenizer()
    text = tokenizer.decode(hf_greedy[1])
    # A stop string made of the end of token 4 and the start of token 5 of row 1's greedy text.
    before = tokenizer.decode(hf_greedy[1][:5])
    stop = before[-2:] + tokenizer.decode(hf_greedy[1][5:6])[:2]
    assert stop in text
    for every in (2, 32):
        result = generate(
            model, prompts, max_new_tokens=MAX_NEW, stop=[stop], tokenizer=tokenizer, stop_check_every=every
        )
        for row, reference in enumerate(hf_greedy):
            full = tokenizer.decode(reference)
            if stop not in full:
                assert result.tokens[row] == reference
                continue
            keep = next(k for k in range(1, len(reference) + 1) if stop in tokenizer.decode(reference[:k]))
            assert result.tokens[row] == reference[:keep], (every, row)
            assert result.finish_reasons[row] == "stop"
        assert result.finish_reasons[1] == "stop"


def test_logprobs_equal_the_full_forward(model, prompts):
    result = generate(
        model, prompts, max_new_tokens=MAX_NEW, temperature=1.0, top_k=50, n=2, seed=7, return_logprobs=True
    )
    assert len(result.tokens) == 2 * len(prompts)
    # One unbatched-equivalent full forward: rows left-padded (positions count real tokens only).
    sequences = [prompts[row // 2] + tokens for row, tokens in enumerate(result.tokens)]
    width = max(len(s) for s in sequences)
    ids = np.zeros((len(sequences), width), np.int32)
    mask = np.zeros_like(ids)
    for row, sequence in enumerate(sequences):
        ids[row, width - len(sequence) :] = sequence
        mask[row, width - len(sequence) :] = 1
    full = np.asarray(jax.nn.log_softmax(model(jnp.asarray(ids), jnp.asarray(mask)), axis=-1))
    for row, (tokens, logprobs) in enumerate(zip(result.tokens, result.logprobs)):
        start = width - len(tokens) - 1  # the logits predicting the first generated token
        expected = [full[row, start + i, t] for i, t in enumerate(tokens)]
        assert len(tokens) == MAX_NEW
        np.testing.assert_allclose(logprobs, expected, atol=2e-5)
    # The two samples of a prompt differ (they are sampled, prompt-major), and seeds reproduce.
    assert result.for_prompt(0)[0] != result.for_prompt(0)[1]
    again = generate(model, prompts, max_new_tokens=MAX_NEW, temperature=1.0, top_k=50, n=2, seed=7)
    assert again.tokens == result.tokens


def test_a_prompts_samples_depend_only_on_its_seed_not_on_its_batch(model, prompts):
    common = dict(max_new_tokens=MAX_NEW, temperature=1.0, n=3, seed=11)
    whole = generate(model, prompts, **common)
    alone = generate(model, [prompts[2]], prompt_seeds=[2], **common)  # prompt 2's default seed is its index
    chunked = generate(model, prompts, batch_size=2, **common)  # other chunks, other companions
    assert alone.tokens == whole.for_prompt(2)
    assert chunked.tokens == whole.tokens
    assert generate(model, [prompts[2]], prompt_seeds=[5], **common).tokens != alone.tokens


def test_same_bucket_reuses_the_compiled_functions(model):
    generate(model, [[5, 6, 7], [8, 9]], max_new_tokens=6)
    before = dict(TRACE_COUNTS)
    generate(model, [[11, 12], [13, 14, 15, 16, 17]], max_new_tokens=6)  # same length and batch buckets
    assert dict(TRACE_COUNTS) == before


def test_batch_sharded_over_a_mesh_gives_the_same_tokens(checkpoint, prompts, hf_greedy):
    mesh = make_mesh(MeshConfig(data=2, fsdp=4, tensor=1))
    sharded = from_pretrained(checkpoint, mesh=mesh)
    result = generate(sharded, prompts, max_new_tokens=MAX_NEW, mesh=mesh)
    assert result.tokens == hf_greedy


def test_bad_arguments_fail_clearly():
    model = init_model(ModelConfig.preset("tiny", vocab_size=256))
    with pytest.raises(ValueError, match="empty"):
        generate(model, [[1], []], max_new_tokens=2)
    with pytest.raises(ValueError, match="tokenizer"):
        generate(model, [[1]], max_new_tokens=2, stop=["x"])
    with pytest.raises(ValueError, match="top_p"):
        generate(model, [[1]], max_new_tokens=2, top_p=0.0)


def test_sampled_first_tokens_follow_the_models_processed_distribution(tmp_path):
    from acecoder_jax.sample.sampling import processed_logits

    small = from_pretrained(make_qwen2(tmp_path / "small", vocab_size=64, seed=5))
    prompt = [3, 17, 42, 8]
    draws = 4000
    settings = dict(temperature=0.7, top_k=12, top_p=0.9)
    result = generate(small, [prompt], max_new_tokens=1, n=draws, seed=11, batch_size=1024, **settings)
    counts = np.bincount([row[0] for row in result.tokens], minlength=64)
    logits = small(jnp.asarray([prompt]), jnp.ones((1, len(prompt)), jnp.int32))[:, -1, :]
    expected = np.asarray(jax.nn.softmax(processed_logits(logits, 0.7, 0.9, 12), axis=-1))[0]
    expected = expected.astype(np.float64)
    assert 1 < (expected > 1e-12).sum() <= 12
    assert np.all(counts[expected < 1e-12] == 0)
    sigma = np.sqrt(draws * expected * (1 - expected))
    assert np.all(np.abs(counts - draws * expected) <= 5 * sigma + 1e-9), (counts, draws * expected)
