"""Evaluation prompts: the chat prompt for instruct models and the completion prompt for base models.

The chat prompt is the one AceCoder samples and trains its reward model with (EvalPlus' instruction: "Please
provide a self-contained Python script ... in a markdown code block", then the assistant turn opened with
"Below is a Python script ...```python"); the same (instruction, response) pair is what the RM scores.
LiveCodeBench problems use LiveCodeBench's own question/format wording.
"""

from __future__ import annotations

from typing import Any, Literal

from acecoder_jax.common.prompts import PAIR_RESPONSE_PREFIX, pair_response, rm_chat

from .benchmarks import Problem

PromptStyle = Literal["chat", "base"]

# The chat answer ends with the code fence's closing line.
CHAT_STOP = ("\n```",)
# Base-model completions of a function body end where top-level code starts (Codex/HumanEval practice).
BASE_STOP = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert ")

_LCB_SYSTEM = (
    "You are an expert Python programmer. You will be given a question (problem specification) and will "
    "generate a correct Python program that matches the specification and passes all tests."
)


def instruction(problem: Problem) -> str:
    """The user message for `problem` (also the RM's instruction)."""
    if problem.kind == "livecodebench":
        return _lcb_instruction(problem)
    return (
        "Please provide a self-contained Python script that solves the following problem in a markdown code "
        f"block:\n```\n{problem.prompt.strip()}\n```\n"
    )


def _lcb_instruction(problem: Problem) -> str:
    if problem.starter_code:
        fmt = (
            "### Format: You will use the following starter code to write the solution to the problem and "
            f"enclose your code within delimiters.\n```python\n{problem.starter_code}\n```\n\n"
        )
    else:
        fmt = (
            "### Format: Read the inputs from stdin solve the problem and write the answer to stdout (do not "
            "directly test on the sample inputs). Enclose your code within delimiters as follows. "
            "Ensure that when the python program runs, it reads the inputs, runs the algorithm and writes "
            "output to STDOUT.\n```python\n# YOUR CODE HERE\n```\n\n"
        )
    answer = "### Answer: (use the provided format with backticks)\n\n"
    return f"{_LCB_SYSTEM}\n\n### Question:\n{problem.prompt}\n\n{fmt}{answer}"


def prompt_text(problem: Problem, style: PromptStyle, tokenizer: Any) -> str:
    """The text the policy continues: chat template + assistant prefix, or the raw problem for base models."""
    if style == "base" and problem.completable:
        return problem.prompt
    if style == "base":
        return instruction(problem) + "\n" + PAIR_RESPONSE_PREFIX
    chat = [{"role": "user", "content": instruction(problem)}]
    text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    return text + PAIR_RESPONSE_PREFIX


def stop_strings(problem: Problem, style: PromptStyle) -> tuple[str, ...]:
    """Where a completion of `prompt_text` ends."""
    return BASE_STOP if style == "base" and problem.completable else CHAT_STOP


def candidate_code(problem: Problem, style: PromptStyle, completion: str) -> str:
    """The program text of a completion: the prompt + body for base completions, else the fenced code."""
    from acecoder_jax.common.code_extract import extract_code

    if style == "base" and problem.completable:
        return problem.prompt + cut_at_stop(completion, BASE_STOP)
    return extract_code(PAIR_RESPONSE_PREFIX + completion)


def cut_at_stop(text: str, stops: tuple[str, ...]) -> str:
    """`text` up to its first stop string (the sampler keeps the token that completes one)."""
    cuts = [index for index in (text.find(stop) for stop in stops) if index >= 0]
    return text[: min(cuts)] if cuts else text


def rm_messages(problem: Problem, code: str) -> list[dict[str, str]]:
    """The reward model's chat for a candidate: the problem's instruction and the fenced program."""
    return rm_chat(instruction(problem), pair_response(code))
