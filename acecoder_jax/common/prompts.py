"""AceCoder's prompt templates, verbatim from the released code (TIGER-AI-Lab/AceCoder, data/).

The prompts are part of the method, so every string here reproduces the released one character for character
(trailing spaces included):
- test synthesis: data/training_dataset/create_test_case_and_prompt.py (two templates, with and without the
  seed's original instruction, and the system prompt);
- sampling / oracle prompt: data/training_dataset/inference_generated_prompts.py (question + first two tests,
  assistant prefill that the model continues);
- AceCodePair rows: data/acecode_pair_300k/convert_dataset_for_llama_factory.py (instruction, chosen,
  rejected).
Plain functions and constants, importable without jax or torch (data_gen, the RM trainer, RL and eval use
them).
"""

from __future__ import annotations

from collections.abc import Sequence

Chat = list[dict[str, str]]

SYNTHESIS_SYSTEM_PROMPT = "You are an AI assistant that helps people with python coding tasks."

# PROMPT_TEMPLATE_RAW in the released code; `{instruction}` and `{program}` are filled with str.replace, not
# str.format, because the JSON example at the end holds literal braces.
SYNTHESIS_PROMPT_WITH_INSTRUCTION = """You are the latest and best bot aimed at transforming some code snippet into a leetcode style question. You will be provided with a prompt for writing code, along with a reference program that answers the question. Please complete the following for me:
1. Come up with a leetcode style question which consists of a well-defined problem. The generated question should meet the following criteria:
    a. The question is clear and understandable, with enough details to describe what the input and output are.
    b. The question should be solvable by only implementing 1 function instead of multiple functions or a class. Therefore, please avoid questions which require complicated pipelines.
    c. The question itself should not require any access to external resource or database.
    d. Feel free to use part of the original question if necessary. Moreover, please do not ask for runtime and space complexity analysis or any test cases in your response. 
2. Based on the modified question that you generated in part 1, you need to create around 20 test cases for this modified question. Each test case should be independent assert clauses. The parameters and expected output of each test case should all be constants, **without accessing any external resources**.

Here is the original question:
{instruction}

Here is the reference program that answers the question:
```python
{program}
```

Now give your modified question and generated test cases in the following json format: 
{"question": ..., "tests":["assert ...", "assert ..."]}.
"""  # noqa: E501, W291 -- verbatim, trailing spaces included

# PROMPT_TEMPLATE_NO_INSTRUCTION in the released code (used for the Stack Python functions, which have none).
SYNTHESIS_PROMPT_NO_INSTRUCTION = """You are the latest and best bot aimed at transforming some code snippet into a leetcode style question. You will be provided with a reference program. Please complete the following for me:
1. Come up with a leetcode style question which consists of a well-defined problem. The generated question should meet the following criteria:
    a. The question is clear and understandable, with enough details to describe what the input and output are.
    b. The question should be solvable by only implementing 1 function instead of multiple functions or a class. Therefore, please avoid questions which require complicated pipelines.
    c. The question itself should not require any access to external resource or database.
    d. Feel free to use part of the original question if necessary. Moreover, please do not ask for runtime and space complexity analysis or any test cases in your response. 
2. Based on the modified question that you generated in part 1, you need to create around 20 test cases for this modified question. Each test case should be independent assert clauses. The parameters and expected output of each test case should all be constants, **without accessing any external resources**.

Here is the reference program:
```python
{program}
```

Now give your modified question and generated test cases in the following json format: 
{"question": ..., "tests":["assert ...", "assert ..."]}.
"""  # noqa: E501, W291 -- verbatim, trailing spaces included

# TEMPLATE_INPUT_PROMPT: the assistant turn the sampler (and the oracle) continues (no final newline).
SAMPLING_PREFILL = (
    "Below is a Python script with a self-contained function that solves the problem and passes "
    "corresponding tests:\n```python"
)
# How many of the question's tests the sampling prompt shows (test_ct=2 in the released code).
SAMPLING_TEST_COUNT = 2

# template_input_str of the pair converter: the same sentence, but the fence line ends with a newline.
PAIR_RESPONSE_PREFIX = SAMPLING_PREFILL + "\n"
# Llama-3 chat header some released completions start with; the pair converter strips it.
_LLAMA3_ASSISTANT_HEADER = "<|start_header_id|>assistant<|end_header_id|>"


def _markdown_request(problem: str) -> str:
    """The released request for a script in a markdown code block, around a quoted problem."""
    return (
        "Please provide a self-contained Python script that solves the following problem in a markdown code "
        f"block:\n```\n{problem}\n```\n"
    )


def synthesis_prompt(program: str, instruction: str | None = None) -> str:
    """The user message asking for a LeetCode-style question and ~20 asserts (with the seed's instruction)."""
    if instruction:
        # Same replacement order as the released code: program first, then instruction.
        return SYNTHESIS_PROMPT_WITH_INSTRUCTION.replace("{program}", program).replace(
            "{instruction}", instruction
        )
    return SYNTHESIS_PROMPT_NO_INSTRUCTION.replace("{program}", program)


def synthesis_chat(program: str, instruction: str | None = None) -> Chat:
    """The synthesis chat: system prompt + synthesis_prompt (what GPT-4o-mini was sent)."""
    return [
        {"role": "system", "content": SYNTHESIS_SYSTEM_PROMPT},
        {"role": "user", "content": synthesis_prompt(program, instruction)},
    ]


def sampling_instruction(question: str, tests: Sequence[str], test_count: int = SAMPLING_TEST_COUNT) -> str:
    """The sampling user message: the question and its first `test_count` tests in a docstring block."""
    shown = list(tests) if test_count < 0 else list(tests)[:test_count]
    test_prompt = "\n".join(shown)
    return _markdown_request(f'"""\n{question}\n{test_prompt}\n"""')


def sampling_chat(question: str, tests: Sequence[str], test_count: int = SAMPLING_TEST_COUNT) -> Chat:
    """The user turn of the sampling prompt; the backend continues SAMPLING_PREFILL as the assistant turn."""
    return [{"role": "user", "content": sampling_instruction(question, tests, test_count)}]


def sampling_chat_with_prefill(
    question: str, tests: Sequence[str], test_count: int = SAMPLING_TEST_COUNT
) -> Chat:
    """The full released sampling chat: user turn plus the assistant prefill message."""
    return [*sampling_chat(question, tests, test_count), {"role": "assistant", "content": SAMPLING_PREFILL}]


def pair_instruction(question: str, first_test: str) -> str:
    """AceCodePair `instruction`: the question and its first (stripped) test in the MBPP-style prompt."""
    return _markdown_request(f'"""\n{question}\n{first_test.strip()}\n"""\n')


def clean_pair_program(program: str) -> str:
    """The program as the pair converter stores it: a leading Llama-3 assistant header removed, stripped."""
    if program.startswith(_LLAMA3_ASSISTANT_HEADER):
        return program[len(_LLAMA3_ASSISTANT_HEADER) :].strip()
    return program.strip()


def pair_response(program: str) -> str:
    """AceCodePair `chosen`/`rejected`: PAIR_RESPONSE_PREFIX + the cleaned program + a closing fence."""
    return PAIR_RESPONSE_PREFIX + clean_pair_program(program) + "\n```"


def pair_texts(
    question: str, tests: Sequence[str], chosen_program: str, rejected_program: str
) -> dict[str, str]:
    """The four released AceCodePair text fields for one pair."""
    if not tests:
        raise ValueError("a pair needs at least one test for its instruction")
    return {
        "instruction": pair_instruction(question, tests[0]),
        "input": "",
        "chosen": pair_response(chosen_program),
        "rejected": pair_response(rejected_program),
    }


def rm_chat(instruction: str, response: str) -> Chat:
    """The reward model's chat for one (instruction, response) pair (LLaMA-Factory pairwise format)."""
    return [{"role": "user", "content": instruction}, {"role": "assistant", "content": response}]
