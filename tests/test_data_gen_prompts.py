"""The released AceCoder prompts, reproduced exactly, and code extraction from model replies."""

import hashlib

from acecoder_jax.common import prompts
from acecoder_jax.common.code_extract import extract_code, released_post_process


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_synthesis_templates_match_the_release_byte_for_byte():
    # sha256 of PROMPT_TEMPLATE_RAW / PROMPT_TEMPLATE_NO_INSTRUCTION as read from TIGER-AI-Lab/AceCoder
    # data/training_dataset/create_test_case_and_prompt.py (trailing spaces included).
    assert _sha(prompts.SYNTHESIS_PROMPT_WITH_INSTRUCTION) == (
        "2b44ce21cecd12f606ae01d7e8092a36a0e73325ef4ac449a18fe4d397093bee"
    )
    assert _sha(prompts.SYNTHESIS_PROMPT_NO_INSTRUCTION) == (
        "793e3a1d07e4b5f496a31aca3b8c32de23ce29d7068c913a46a4c35d1cd22a31"
    )


def test_synthesis_chat_picks_the_template_and_fills_it_with_replace():
    program = "def f(x):\n    return {x}"  # braces must survive: the release used str.replace, not format
    with_instruction = prompts.synthesis_chat(program, "Do the thing.")
    assert with_instruction[0] == {"role": "system", "content": prompts.SYNTHESIS_SYSTEM_PROMPT}
    user = with_instruction[1]["content"]
    assert "Here is the original question:\nDo the thing.\n\n" in user
    assert "```python\ndef f(x):\n    return {x}\n```" in user
    assert user.endswith('{"question": ..., "tests":["assert ...", "assert ..."]}.\n')
    without = prompts.synthesis_chat(program, None)[1]["content"]
    assert "Here is the original question" not in without
    assert "Here is the reference program:\n```python\ndef f(x):" in without
    assert (
        prompts.synthesis_chat(program, "")[1]["content"] == without
    )  # empty instruction: no-instruction form


def test_sampling_prompt_shows_question_and_first_two_tests():
    chat = prompts.sampling_chat(
        "Add two numbers.", ["assert add(1, 2) == 3", "assert add(0, 0) == 0", "assert x"]
    )
    expected = (
        "Please provide a self-contained Python script that solves the following problem in a markdown "
        "code block:\n"
        "```\n"
        '"""\n'
        "Add two numbers.\n"
        "assert add(1, 2) == 3\n"
        "assert add(0, 0) == 0\n"
        '"""\n'
        "```\n"
    )
    assert chat == [{"role": "user", "content": expected}]
    assert prompts.SAMPLING_PREFILL == (
        "Below is a Python script with a self-contained function that solves the problem and passes "
        "corresponding "
        "tests:\n```python"
    )
    full = prompts.sampling_chat_with_prefill("Q", ["assert a"])
    assert full[-1] == {"role": "assistant", "content": prompts.SAMPLING_PREFILL}


def test_pair_texts_follow_the_released_converter():
    texts = prompts.pair_texts(
        "Add two numbers.",
        ["  assert add(1, 2) == 3  ", "assert b"],
        " def add(a, b):\n    return a + b\n",
        "def add(a, b):\n    return a - b",
    )
    assert texts["instruction"] == (
        "Please provide a self-contained Python script that solves the following problem in a markdown "
        "code block:\n"
        "```\n"
        '"""\n'
        "Add two numbers.\n"
        "assert add(1, 2) == 3\n"
        '"""\n'
        "\n"
        "```\n"
    )
    assert texts["input"] == ""
    prefix = (
        "Below is a Python script with a self-contained function that solves the problem and passes "
        "corresponding "
        "tests:\n```python\n"
    )
    assert texts["chosen"] == prefix + "def add(a, b):\n    return a + b\n```"
    assert texts["rejected"] == prefix + "def add(a, b):\n    return a - b\n```"
    header = "<|start_header_id|>assistant<|end_header_id|>"
    assert prompts.pair_response(header + "\n x = 1 \n") == prefix + "x = 1\n```"


def test_extract_code_prefers_python_blocks_and_handles_prefill_continuations():
    assert (
        extract_code("Sure:\n```python\ndef f():\n    return 1\n```\nThat's it.") == "def f():\n    return 1"
    )
    assert extract_code("```\nx = 1\n```\n```py\ny = 2\n```") == "y = 2"
    assert extract_code("intro\n```\nx = 1\n```") == "x = 1"
    assert extract_code("def g():\n    pass\n") == "def g():\n    pass"
    assert extract_code("```python\ndef h():\n    return 2") == "def h():\n    return 2"  # cut by max_tokens
    reply = "\ndef f(a):\n    return a\n```\n\nThis function returns its input:\n```python\nprint(f(1))\n```"
    assert extract_code(prompts.SAMPLING_PREFILL + reply) == "def f(a):\n    return a"


def test_released_post_process_reproduces_eval_post_process_quirks():
    assert released_post_process("python\ndef f():\n    return 1\n```\ntext") == "\ndef f():\n    return 1\n"
    # an assert inside the body cuts the program, as in the release
    assert released_post_process("\ndef f(x):\n    assert x\n    return x") == "\ndef f(x):\n    "
    assert released_post_process("def f(): pass\nif __name__ == '__main__':\n    f()") == "def f(): pass\n"
    assert released_post_process("assert x") == "assert x"  # a cut at index 0 is ignored
