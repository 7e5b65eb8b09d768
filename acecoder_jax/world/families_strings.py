"""World families over strings: case conversion with a wrapper, character replacement, letter counts, word
filters and repetition."""

from __future__ import annotations

from acecoder_jax.world.family import COMPARISONS, Family
from acecoder_jax.world.inputs import mixed_case_word, sentence, word

_CASES = {
    "upper": ("converted to upper case", "in upper case"),
    "lower": ("converted to lower case", "in lower case"),
    "title": ("in title case",),
    "swapcase": ("with the case of every letter swapped",),
}
_WRAPPERS = {
    "round": ("(", ")", "round brackets"),
    "square": ("[", "]", "square brackets"),
    "angle": ("<", ">", "angle brackets"),
    "stars": ("*", "*", "asterisks"),
    "bars": ("|", "|", "vertical bars"),
}

CASE_WRAP = Family(
    name="case_wrap",
    args="s",
    fn_names=("decorate_text", "format_word", "wrap_text"),
    grid={"case": tuple(_CASES), "wrap": tuple(_WRAPPERS)},
    program="def {fn}(s):\n    return '{left}' + s.{case}() + '{right}'",
    questions=(
        "Write a function `{sig}` that returns the string `s` {case_words} and wrapped in {wrap_words}: "
        "'{left}' in front and '{right}' at the end.",
        "Given a string `s`, return '{left}' + s.{case}() + '{right}'. Implement `{sig}`.",
        "Implement `{sig}`: take the string `s` {case_words}, put '{left}' before it and '{right}' after it.",
    ),
    inputs=lambda rng, p: (mixed_case_word(rng) if rng.random() < 0.7 else sentence(rng, 2, 3),),
    phrases=lambda p: {
        "case_words": _CASES[str(p["case"])],
        "left": (_WRAPPERS[str(p["wrap"])][0],),
        "right": (_WRAPPERS[str(p["wrap"])][1],),
        "wrap_words": (_WRAPPERS[str(p["wrap"])][2],),
    },
)

REPLACE_CHAR = Family(
    name="replace_char",
    args="s",
    fn_names=("replace_letter", "mask_letter", "swap_char"),
    grid={"old": ("a", "e", "i", "o", "s", "t"), "new": ("*", "-", "_", "#", "x", "z")},
    program="def {fn}(s):\n    return s.replace('{old}', '{new}')",
    questions=(
        "Write a function `{sig}` that returns a copy of the string `s` in which every '{old}' is replaced "
        "by '{new}'.",
        "Given a string `s`, replace each occurrence of the letter '{old}' with '{new}' and return the "
        "result. Implement `{sig}`.",
        "Implement `{sig}`: return `s` with all characters '{old}' changed to '{new}'.",
    ),
    inputs=lambda rng, p: (sentence(rng, 1, 3),),
)

COUNT_CHARS = Family(
    name="count_chars",
    args="s",
    fn_names=("count_letters", "letter_frequency", "count_occurrences"),
    grid={"a": tuple("aeinorst"), "b": tuple("aeinorst")},
    program="def {fn}(s):\n    return s.count('{a}') + s.count('{b}')",
    questions=(
        "Write a function `{sig}` that returns how many characters of the string `s` are the letter '{a}' "
        "or the letter '{b}'.",
        "Given a string `s`, count the occurrences of '{a}' and of '{b}' and return the total. Implement "
        "`{sig}`.",
        "Implement `{sig}`: return the number of '{a}' characters in `s` plus the number of '{b}' "
        "characters.",
    ),
    inputs=lambda rng, p: (sentence(rng, 1, 4),),
    allowed=lambda p: str(p["a"]) < str(p["b"]),
)

WORD_FILTER = Family(
    name="word_filter",
    args="s",
    fn_names=("filter_words", "pick_words", "words_by_length"),
    grid={"cmp": (">", "<", ">=", "<=", "=="), "k": tuple(range(2, 7))},
    program="def {fn}(s):\n    return [w for w in s.split() if len(w) {cmp} {k}]",
    questions=(
        "Write a function `{sig}` that splits the string `s` into words and returns, in order, the words "
        "whose length is {cmp_words} {k}.",
        "Given a sentence `s` of words separated by spaces, keep only the words whose length is "
        "{cmp_words} {k} and return them as a list. Implement `{sig}`.",
        "Implement `{sig}`: return the list of words w in s.split() with len(w) {cmp} {k}.",
    ),
    inputs=lambda rng, p: (sentence(rng, 1, 6),),
    phrases=lambda p: {"cmp_words": COMPARISONS[str(p["cmp"])]},
)

_SEPARATORS = {"-": "a dash", " ": "a space", ",": "a comma", "+": "a plus sign", "/": "a slash"}

REPEAT_JOIN = Family(
    name="repeat_join",
    args="s",
    fn_names=("repeat_word", "echo_word", "join_copies"),
    grid={"sep": tuple(_SEPARATORS), "k": tuple(range(2, 6))},
    program="def {fn}(s):\n    return '{sep}'.join([s] * {k})",
    questions=(
        "Write a function `{sig}` that returns {k} copies of the string `s` joined by {sep_words} ('{sep}').",
        "Given a string `s`, repeat it {k} times with '{sep}' between consecutive copies and return the "
        "result. Implement `{sig}`.",
        "Implement `{sig}`: return '{sep}'.join([s] * {k}).",
    ),
    inputs=lambda rng, p: (word(rng),),
    phrases=lambda p: {"sep_words": (_SEPARATORS[str(p["sep"])],)},
)

STRING_FAMILIES = (CASE_WRAP, REPLACE_CHAR, COUNT_CHARS, WORD_FILTER, REPEAT_JOIN)
