"""Red team, round 2, class 1: names the program rebinds are the program's, never silently the builtin.

With `def max(xs): return -12345`, the test `assert max([1, 2, 3]) == 3` used to be evaluated with the real
`max` on the trusted side and passed. Every way a program can rebind a name before its tests run must send
the call to the program's child; a task whose entry point is legitimately named like a builtin is still
judged right (an honest `def max` passes, a wrong one fails); and an expected side the program might have
rebound keeps the test's meaning (a program cannot choose its expected values).
"""

from __future__ import annotations

import textwrap

import pytest

from executor import Executor, Job
from executor.plan import plan_tests
from executor.program_names import may_touch, program_names


@pytest.fixture(scope="module")
def executor():
    with Executor(workers=2, timeout_s=2.0, memory_mb=512, load_timeout_s=3.0) as ex:
        yield ex


def judge(executor: Executor, program: str, tests: list[str]) -> list[tuple[str, str]]:
    """(outcome, mode) per test of one job."""
    (result,) = executor.run([Job("job", textwrap.dedent(program), tests)])
    assert result.status == "ok", result.to_dict()
    return [(t.outcome, t.mode) for t in result.tests]


WRONG_MAX = "lambda xs: -12345"
# Every binding form Python has, each rebinding `max` to a wrong function before the tests run.
REBINDINGS = {
    "def": "def max(xs):\n    return -12345\n",
    "assignment": f"max = {WRONG_MAX}\n",
    "annotated": f"max: object = {WRONG_MAX}\n",
    "augmented": (
        "class W:\n    def __radd__(self, other):\n        return lambda xs: -12345\nmax = 0\nmax += W()\n"
    ),
    "tuple-target": f"(max, other) = ({WRONG_MAX}, 1)\n",
    "starred-target": f"*_, max = [1, {WRONG_MAX}]\n",
    "for-target": f"for max in [{WRONG_MAX}]:\n    pass\n",
    "with-target": f"import contextlib\nwith contextlib.nullcontext({WRONG_MAX}) as max:\n    pass\n",
    "import-as": "from operator import neg as max\n",
    "import-module-as": "import math as max\n",
    "class": "class max:\n    def __init__(self, xs):\n        self.v = -12345\n",
    "global-in-function": f"def setup():\n    global max\n    max = {WRONG_MAX}\nsetup()\n",
    "walrus": f"[(max := {WRONG_MAX}) for _ in [0]]\n",
    "walrus-if": f"if (max := {WRONG_MAX}):\n    pass\n",
    "match-capture": f"match {WRONG_MAX}:\n    case max:\n        pass\n",
    "globals-item": f"globals()['max'] = {WRONG_MAX}\n",
    "globals-update": f"globals().update(max={WRONG_MAX})\n",
    "vars": f"vars()['max'] = {WRONG_MAX}\n",
    "locals": f"locals()['max'] = {WRONG_MAX}\n",
    "exec": "exec('def max(xs):\\n    return -12345')\n",
    "eval-walrus": f"eval('(max := {WRONG_MAX})')\n",
    "builtins-module": f"import builtins\nbuiltins.max = {WRONG_MAX}\n",
    "builtins-dunder": f"__builtins__['max'] = {WRONG_MAX}\n",
    "setattr-import": f"setattr(__import__('builtins'), 'max', {WRONG_MAX})\n",
    "sys-modules": f"import sys\nsys.modules['builtins'].max = {WRONG_MAX}\n",
    "function-globals": f"(lambda: 0).__globals__['max'] = {WRONG_MAX}\n",
    "frame-globals": f"import sys\nsys._getframe().f_globals['max'] = {WRONG_MAX}\n",
    "fullwidth": f"\uff4d\uff41\uff58 = {WRONG_MAX}\n",  # NFKC-normalised to `max`
    "decorator": (
        "def wrong(_):\n    return lambda xs: -12345\n@wrong\ndef max(xs):\n    return sorted(xs)[-1]\n"
    ),
    "star-import-of-own-module": (
        "open('mine.py', 'w').write('def max(xs):\\n    return -12345\\n')\n"
        "import sys\nsys.path.insert(0, '.')\nfrom mine import *\n"
    ),
}


@pytest.mark.parametrize("form", sorted(REBINDINGS))
def test_a_rebound_builtin_is_the_programs(executor, form):
    outcomes = judge(executor, REBINDINGS[form], ["assert max([1, 2, 3]) == 3", "assert 3 == max([3, 1])"])
    assert all(outcome != "pass" for outcome, _ in outcomes), (form, outcomes)


def test_humaneval_check_with_an_entry_point_named_like_a_builtin(executor):
    check = "def check(candidate):\n    assert candidate([1, 2, 3]) == 3\n    assert candidate([5]) == 5\n"
    check += "\ncheck(max)\n"
    assert judge(executor, "def max(xs):\n    return -12345\n", [check]) == [("fail", "split")]
    honest = "def max(xs):\n    best = xs[0]\n    for x in xs:\n        best = x if x > best else best\n"
    honest += "    return best\n"
    assert judge(executor, honest, [check]) == [("pass", "split")]


@pytest.mark.parametrize(
    ("program", "test"),
    [
        ("def sum(a, b):\n    return a + b\n", "assert sum(2, 3) == 5"),  # not the builtin's signature
        ("def sorted(xs):\n    return list(reversed(xs))\n", "assert sorted([1, 2]) == [2, 1]"),
        ("def filter(xs):\n    return [x for x in xs if x > 0]\n", "assert filter([-1, 2]) == [2]"),
        ("def round(x):\n    return int(x + 0.5)\n", "assert round(2.5) == 3"),  # the builtin gives 2
        ("def len(s):\n    return 42\n", "assert len('abc') == 42"),
        ("def abs(x):\n    return -x if x < 0 else x\n", "assert abs(-3) == 3 and abs(4) == 4"),
    ],
)
def test_an_honest_entry_point_named_like_a_builtin_passes(executor, program, test):
    assert judge(executor, program, [test]) == [("pass", "split")]


@pytest.mark.parametrize(
    ("program", "test"),
    [
        ("def sum(a, b):\n    return a - b\n", "assert sum(2, 3) == 5"),
        ("def sorted(xs):\n    return xs\n", "assert sorted([1, 2]) == [2, 1]"),
        ("def round(x):\n    return int(x)\n", "assert round(2.5) == 3"),
    ],
)
def test_a_wrong_entry_point_named_like_a_builtin_fails(executor, program, test):
    assert judge(executor, program, [test]) == [("fail", "split")]


@pytest.mark.parametrize(
    ("module", "test"),
    [
        (
            "class math:\n    @staticmethod\n    def isclose(a, b, **kw):\n        return False\n",
            "math.isclose",
        ),
        ("class operator:\n    @staticmethod\n    def eq(a, b):\n        return False\n", "operator.eq"),
        ("import decimal as math\n", "math.isclose"),  # Python: AttributeError
        ("import math\nmath.isclose = lambda a, b: False\n", "math.isclose"),
    ],
)
def test_a_program_binding_named_like_an_allowed_module_is_the_programs(executor, module, test):
    # f is right: only the program's own (wrong) `math` / `operator` makes the test fail, as in Python.
    program = module + "def f(x):\n    return 2.0\n"
    outcomes = judge(executor, program, [f"assert {test}(f(1), 2.0)"])
    assert outcomes[0][0] != "pass", outcomes
    assert judge(executor, "def f(x):\n    return 2.0\n", [f"assert {test}(f(1), 2.0)"]) == [
        ("pass", "split")
    ]


def test_a_rebound_name_on_the_expected_side_keeps_the_tests_meaning(executor):
    # Python would pass this (both sides are the program's 42); the expected side must stay the test's.
    forger = "def sorted(xs):\n    return 42\ndef solve(xs):\n    return 42\n"
    assert judge(executor, forger, ["assert solve([3, 1]) == sorted([3, 1])"]) == [("fail", "split")]
    dynamic = "globals()['sorted'] = lambda xs: 42\ndef solve(xs):\n    return 42\n"
    assert judge(executor, dynamic, ["assert solve([3, 1]) == sorted([3, 1])"]) == [("fail", "split")]
    honest = (
        "def sorted(xs):\n    return __import__('builtins').sorted(xs)\ndef solve(xs):\n    return [1, 3]\n"
    )
    assert judge(executor, honest, ["assert solve([3, 1]) == sorted([3, 1])"]) == [("pass", "split")]


def test_builtins_applied_to_a_dynamic_programs_results_keep_their_meaning(executor):
    program = "class A:\n    def get(self, name):\n        return getattr(self, name)\n"
    program += "def f(x):\n    return [x] * x\n"
    assert program_names(program).dynamic  # getattr with a computed name
    tests = ["assert len(f(3)) == 3", "assert sorted(f(2)) == [2, 2]", "assert max([1, 2, 3]) == 3"]
    assert judge(executor, program, tests) == [("pass", "split")] * 3


def test_import_of_a_trusted_module_under_its_own_name_changes_nothing():
    names = program_names(
        "import math\nimport collections\nfrom typing import List\ndef f(x):\n    return x\n"
    )
    assert not names.dynamic and not {"math", "collections"} & names.bound
    plan = plan_tests("import math\ndef f(x):\n    return x\n", ["assert math.isclose(f(1.0), 1.0)"])[0]
    assert plan.request["leaves"] == ["f(1.0)"]  # isclose itself stays on the trusted side


def test_cheap_precheck_is_sound_on_every_rebinding():
    for form, program in REBINDINGS.items():
        assert may_touch(program, frozenset(["max"])), form
    assert not may_touch("def f(xs):\n    return max(xs) + len(xs)\n", frozenset(["max", "len"]))


def test_local_variables_named_like_builtins_do_not_rebind_them():
    program = "def f(xs):\n    sum = 0\n    for max in xs:\n        sum += max\n    return sum\n"
    names = program_names(program)
    assert not names.dynamic and not {"sum", "max"} & names.bound


def test_safe_classes_are_plain_custom_classes_only():
    program = textwrap.dedent(
        """
        from dataclasses import dataclass
        class Calculator:
            def add(self, a, b):
                return a + b
        @dataclass
        class Point:
            x: int
        class Sneaky:
            def __new__(cls):
                return "abc"
        class Text(str):
            pass
        """
    )
    assert program_names(program).safe_classes == {"Calculator", "Point"}


def test_methods_of_a_programs_own_class_are_the_programs(executor):
    program = "class Calculator:\n    def add(self, a, b):\n        return a + b\n"
    program += "    def count(self):\n        return 7\n"
    tests = ["assert Calculator().add(2, 3) == 5", "assert Calculator().count() == 7"]
    assert judge(executor, program, tests) == [("pass", "split")] * 2
    sneaky = "class Calculator:\n    def __new__(cls):\n        class S(str):\n"
    sneaky += "            def startswith(self, p):\n                return True\n        return S('zzz')\n"
    assert judge(executor, sneaky, ["assert Calculator().startswith('a')"])[0][0] == "fail"


def test_a_module_the_program_writes_cannot_be_imported(executor):
    program = (
        "open('mine.py', 'w').write('import builtins\\nbuiltins.max = lambda xs: -12345\\n')\n"
        "try:\n    import mine\n    IMPORTED = True\nexcept ImportError:\n    IMPORTED = False\n"
    )
    assert judge(executor, program, ["assert IMPORTED is False", "assert max([1, 2, 3]) == 3"]) == [
        ("pass", "split"),
        ("pass", "split"),
    ]
