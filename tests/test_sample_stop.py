"""Stop strings (found across token boundaries, via the real tokenizer) and prompt buckets."""

import numpy as np
import pytest

from acecoder_jax.common.tokenizer import load_qwen25_tokenizer
from acecoder_jax.sample.buckets import batch_bucket, left_pad, length_bucket
from acecoder_jax.sample.stop import StopChecker


@pytest.fixture(scope="module")
def tokenizer():
    return load_qwen25_tokenizer()


def test_stop_string_split_over_tokens_ends_at_the_completing_token(tokenizer):
    text = "def f():\n    return 1\n```\nmore text after"
    tokens = tokenizer.encode(text)
    checker = StopChecker(["\n```"], tokenizer)
    keep, _ = checker.find(tokens, 0)
    assert keep is not None
    kept_text = tokenizer.decode(tokens[:keep])
    assert "\n```" in kept_text and "\n```" not in tokenizer.decode(tokens[: keep - 1])
    assert "more" not in kept_text


def test_text_already_checked_is_not_searched_again_but_boundaries_are(tokenizer):
    checker = StopChecker(["STOP"], tokenizer)
    first = tokenizer.encode("abc ST")
    keep, checked = checker.find(first, 0)
    assert keep is None and checked == len("abc ST")
    # The stop string straddles the previous check's end: still found.
    whole = tokenizer.encode("abc STOP and more")
    keep, _ = checker.find(whole, checked)
    assert keep is not None and tokenizer.decode(whole[:keep]).endswith(("STOP", "STOP "))


def test_no_stop_string_means_no_cut(tokenizer):
    checker = StopChecker(["\n```", "\ndef "], tokenizer)
    assert checker.find(tokenizer.encode("x = 1\ny = 2\n"), 0)[0] is None


def test_stop_strings_need_a_tokenizer():
    with pytest.raises(ValueError, match="tokenizer"):
        StopChecker(["x"], None)


def test_buckets_are_few_and_cover_the_input():
    assert [length_bucket(n) for n in (1, 16, 17, 33, 100)] == [16, 16, 32, 64, 128]
    assert [batch_bucket(n) for n in (1, 3, 5, 8)] == [1, 4, 8, 8]
    assert batch_bucket(3, multiple=8) == 8 and batch_bucket(9, multiple=8) == 16
    with pytest.raises(ValueError):
        length_bucket(0)


def test_left_pad_right_aligns_prompts_and_fills_padding_rows():
    ids, mask = left_pad([[5, 6, 7], [9]], length=4, rows=3)
    np.testing.assert_array_equal(ids, [[0, 5, 6, 7], [0, 0, 0, 9], [0, 0, 0, 0]])
    np.testing.assert_array_equal(mask, [[0, 1, 1, 1], [0, 0, 0, 1], [0, 0, 0, 1]])
    with pytest.raises(ValueError, match="more than the bucket"):
        left_pad([[1] * 5], length=4, rows=1)
