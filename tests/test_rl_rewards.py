"""RL rewards: the rule reward through the real sandboxed executor (hostile rollouts get 0, never block a
step), its cache, the R1 format reward, weighted sums and the hybrid tie-breaker."""

from __future__ import annotations

import time

import numpy as np
import pytest

from acecoder_jax.rl.answer import answer_program, follows_r1_format
from acecoder_jax.rl.rewards import (
    FormatReward,
    HybridReward,
    RuleReward,
    Sample,
    ScoreReward,
    WeightedReward,
)
from executor import Executor

TESTS = ("assert add(1, 2) == 3", "assert add(0, 0) == 0", "assert add(-1, 1) == 0", "assert add(2, 2) == 4")


def fenced(code: str) -> str:
    return f"Here is the solution:\n```python\n{code}\n```\n"


@pytest.fixture(scope="module")
def executor():
    with Executor(workers=2, timeout_s=1.0, memory_mb=512, load_timeout_s=2.0) as ex:
        yield ex


def sample(completion: str, question: str = "q1") -> Sample:
    return Sample(question, "prompt", completion, TESTS)


def test_answer_program_takes_the_last_block_after_the_reasoning():
    completion = (
        "<think>draft:\n```python\ndef add(a, b):\n    return 0\n```\n</think>\n<answer>\n"
        "```python\ndef add(a, b):\n    return a - b\n```\nfixed:\n"
        "```python\ndef add(a, b):\n    return a + b\n```</answer>"
    )
    assert answer_program(completion) == "def add(a, b):\n    return a + b"
    assert answer_program("def f():\n    return 1\n") == "def f():\n    return 1"
    assert answer_program("<think>never closed ```python\nx = 1\n```") == ""
    assert follows_r1_format("<think>a</think> <answer>b</answer>")
    assert not follows_r1_format("<answer>b</answer>")


def test_rule_reward_modes(executor):
    right = sample(fenced("def add(a, b):\n    return a + b"))
    half = sample(fenced("def add(a, b):\n    return a + b if a >= 0 and b >= 0 else 99"))
    for mode, expected in [("pass_rate", [1.0, 0.75]), ("binary", [1.0, 0.0]), ("bonus", [1.5, 0.75])]:
        reward = RuleReward(executor, mode=mode)
        try:
            out = reward.score([right, half])
        finally:
            reward.close()
        np.testing.assert_allclose(out.rewards, expected)
        np.testing.assert_allclose(out.pass_rates, [1.0, 0.75])
    with pytest.raises(ValueError, match="reward mode"):
        RuleReward(executor, mode="partial")


HOSTILE = {
    "hang": "def add(a, b):\n    while True:\n        pass",
    "crash": "import os\nos._exit(0)",
    "fork": "import os\ndef add(a, b):\n    for _ in range(50):\n        os.fork()\n    return a + b",
    "flood": "def add(a, b):\n    print('x' * 10_000_000)\n    return 'x' * (50 << 20)",
    "exit-pass": "import sys\ndef add(a, b):\n    sys.exit(0)",
    "forged-eq": "class R:\n    def __eq__(self, o):\n        return True\ndef add(a, b):\n    return R()",
    "syntax": "def add(a, b)\n    return a + b",
    "rebinds-builtin": "import builtins\nbuiltins.abs = lambda x: 0\ndef add(a, b):\n    return None",
}


def test_hostile_rollouts_get_zero_and_are_counted(executor):
    honest = sample(fenced("def add(a, b):\n    return a + b"))
    samples = [sample(fenced(code), name) for name, code in HOSTILE.items()] + [honest]
    reward = RuleReward(executor, deadline_s=120)
    try:
        out = reward.score(samples)
    finally:
        reward.close()
    assert out.rewards.tolist() == [0.0] * len(HOSTILE) + [1.0]
    assert out.counts["syntax_error"] == 1 and out.counts["crash"] >= 1
    assert out.counts["test_timeout"] >= 1 and out.counts["all_pass"] == 1


def test_a_step_never_waits_past_the_deadline(executor):
    slow = [
        sample(fenced(f"import time\ndef add(a, b):\n    time.sleep(0.9)\n    return a + b  # {i}"), f"s{i}")
        for i in range(6)
    ]
    reward = RuleReward(executor, deadline_s=1.0)
    try:
        started = time.monotonic()
        out = reward.submit(slow).result()
        waited = time.monotonic() - started
        assert waited < 3.0
        assert out.counts["late"] >= 3 and np.all(out.rewards[out.rewards > 0] == 0.0)
    finally:
        reward.close()


def test_cache_returns_the_executors_results(executor):
    reward = RuleReward(executor)
    program = "def add(a, b):\n    return a + b if a else b * 2"
    reformatted = "def add(a,b):\n    # same program, other formatting\n    return (a + b) if a else (b * 2)"
    try:
        first = reward.score([sample(fenced(program))])
        again = reward.score([sample(fenced(reformatted)), sample(fenced(program), "q2")])
    finally:
        reward.close()
    assert reward.cache_hits == 1  # same question and AST: served from the cache; another question is not
    assert again.pass_rates[0] == first.pass_rates[0] and again.outcomes[0] == first.outcomes[0]
    assert again.pass_rates[1] == first.pass_rates[0]


def test_overlap_chunks_are_judged_while_the_caller_continues(executor):
    reward = RuleReward(executor)
    try:
        pending = [
            reward.submit([sample(fenced(f"def add(a, b):\n    return a + b + {i}"), f"c{i}")])
            for i in range(3)
        ]
        results = [p.result() for p in pending]
    finally:
        reward.close()
    assert [r.pass_rates[0] for r in results] == [1.0, 0.0, 0.0]


def test_format_weighted_and_hybrid_rewards(executor):
    r1 = "<think>plan</think> <answer>\n```python\ndef add(a, b):\n    return a + b\n```\n</answer>"
    samples = [sample(r1), sample(fenced("def add(a, b):\n    return a + b"))]
    rule = RuleReward(executor)
    try:
        out = WeightedReward([(1.0, rule), (0.5, FormatReward())]).submit(samples).result()
        np.testing.assert_allclose(out.rewards, [1.5, 1.0])
        scores = ScoreReward(lambda batch: np.array([0.4, -0.2, 3.0, 1.0], np.float32))
        group = [
            sample(fenced("def add(a, b):\n    return a + b")),
            samples[1],
            sample(fenced("def add(a, b):\n    return 0")),
            sample(fenced("def add(a, b):\n    return a")),
        ]
        hybrid = HybridReward(rule, scores, group_size=2, coef=0.1).submit(group).result()
    finally:
        rule.close()
    # group 1: both pass (tied) -> centred RM scores +-0.3 * 0.1; group 2: pass rates differ -> untouched
    np.testing.assert_allclose(hybrid.rewards, [1.03, 0.97, 0.5, 0.25], rtol=1e-6)
    assert hybrid.counts["tied_groups"] == 1
