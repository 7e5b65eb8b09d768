"""Red team, round 2, class 2: no verdict is computed in the child while the test is labelled `split`.

The child returns the plain value of each program call (a builtin subclass arrives as its builtin value);
methods, operators, `operator.*`, `type()`/`isinstance()`, f-strings and comprehensions over those values are
applied on the trusted side with the real built-in semantics. Where the trusted side cannot do that, the test
is labelled `whole`.
"""

from __future__ import annotations

import textwrap

import pytest

from executor import Executor, Job
from executor.plain_ops import TrustedError, call_method
from executor.wire import decode_leaf, encode_value


@pytest.fixture(scope="module", params=["own-uid", "pid-namespace"])
def executor(request):
    drop = request.param == "own-uid"
    with Executor(workers=2, timeout_s=2.0, memory_mb=512, load_timeout_s=3.0, drop_privileges=drop) as ex:
        yield ex


def judge(executor: Executor, program: str, tests: list[str]) -> list[tuple[str, str]]:
    """(outcome, mode) per test of one job."""
    (result,) = executor.run([Job("job", textwrap.dedent(program), tests)])
    assert result.status == "ok", result.to_dict()
    return [(t.outcome, t.mode) for t in result.tests]


LIAR_STR = """
class S(str):
    def startswith(self, *a): return True
    def endswith(self, *a): return True
    def isdigit(self): return True
    def lower(self): return "abc"
    def upper(self): return "ABC"
    def count(self, *a): return 2
    def find(self, *a): return 0
    def split(self, *a): return ["a", "b"]
    def strip(self, *a): return "abc"
    def __contains__(self, item): return True
    def __len__(self): return 3
    def __str__(self): return "abc"
    def __format__(self, spec): return "abc"
    def __getitem__(self, i): return "a"
    __hash__ = str.__hash__
def f(x):
    return S("zzzz")
def many(x):
    return [S("zzzz"), S("yyyy")]
"""
STR_TESTS = [
    "assert f('abc').startswith('a')",
    "assert f('abc').endswith('c')",
    "assert f('1').isdigit()",
    "assert f('ABC').lower() == 'abc'",
    "assert f('abc').upper() == 'ABC'",
    "assert f('aab').count('a') == 2",
    "assert f('abc').find('a') == 0",
    "assert f('a,b').split(',') == ['a', 'b']",
    "assert f(' abc ').strip() == 'abc'",
    "assert 'a' in f('abc')",
    "assert len(f('abc')) == 3",
    "assert str(f('abc')) == 'abc'",
    "assert f'{f(1)}' == 'abc'",
    "assert f('abc')[0] == 'a'",
    "assert all(s.startswith('a') for s in many(1))",
    "assert [s.upper() for s in many(1)] == ['ABC', 'ABC']",
    "assert sorted(many(1), key=lambda s: s.lower()) == ['abc', 'abc']",
]


@pytest.mark.parametrize("test", STR_TESTS)
def test_overridden_str_methods_do_not_decide_a_split_verdict(executor, test):
    assert judge(executor, LIAR_STR, [test]) == [("fail", "split")]


LIAR_INT = """
class I(int):
    def __and__(self, o): return 1
    def __rand__(self, o): return 1
    def __or__(self, o): return 7
    def __xor__(self, o): return 0
    def __rxor__(self, o): return 0
    def __lshift__(self, o): return 6
    def __rshift__(self, o): return 1
    def __invert__(self): return -4
    def __neg__(self): return -3
    def __eq__(self, o): return True
    def __bool__(self): return True
    def __index__(self): return 3
    def __format__(self, spec): return "3"
    def __str__(self): return "3"
    def __repr__(self): return "3"
    def bit_length(self): return 2
    def __round__(self, *a): return 3
    def __abs__(self): return 3
    __hash__ = int.__hash__
def f(x):
    return I(100)
"""
INT_TESTS = [
    "assert f(1) & 1 == 1",
    "assert f(1) | 4 == 7",
    "assert f(1) ^ 3 == 0",
    "assert 3 ^ f(1) == 0",
    "assert f(1) << 1 == 6",
    "assert f(1) >> 1 == 1",
    "assert ~f(1) == -4",
    "assert -f(1) == -3",
    "assert f(1).bit_length() == 2",
    "assert round(f(1)) == 3",
    "assert abs(f(1)) == 3",
    "assert hex(f(1)) == '0x3'",
    "assert str(f(1)) == '3'",
    "assert f'{f(1)}' == '3'",
    "assert operator.eq(f(1), 3)",
    "assert operator.xor(f(1), 3) == 0",
    "assert operator.truth(f(1) - 100)",
    "assert f(1).__eq__(3)",
    "assert f(1).real == 3",
    "assert divmod(f(1), 2) == (1, 1)",
]


@pytest.mark.parametrize("test", INT_TESTS)
def test_overridden_int_operators_do_not_decide_a_split_verdict(executor, test):
    assert judge(executor, LIAR_INT, [test]) == [("fail", "split")]


LIAR_CONTAINERS = """
class L(list):
    def index(self, *a): return 0
    def count(self, *a): return 5
    def __getitem__(self, i): return 99
    def __iter__(self): return iter([99])
    def __len__(self): return 1
class D(dict):
    def get(self, *a): return 1
    def keys(self): return ["a"]
    def items(self): return [("a", 1)]
    def __getitem__(self, k): return 1
    def __contains__(self, k): return True
def lst(x):
    return L([7, 8])
def dct(x):
    return D(b=2)
"""
CONTAINER_TESTS = [
    "assert lst(1).index(7) == 1",
    "assert lst(1).count(8) == 5",
    "assert lst(1)[0] == 99",
    "assert len(lst(1)) == 1",
    "assert list(lst(1)) == [99]",
    "assert [x for x in lst(1)] == [99]",
    "assert dct(1).get('a') == 1",
    "assert list(dct(1).keys()) == ['a']",
    "assert 'a' in dct(1)",
    "assert sorted(dct(1).items()) == [('a', 1)]",
]


@pytest.mark.parametrize("test", CONTAINER_TESTS)
def test_overridden_container_methods_do_not_decide_a_split_verdict(executor, test):
    assert judge(executor, LIAR_CONTAINERS, [test]) == [("fail", "split")]


def test_subscripts_use_the_plain_value(executor):
    # As plain data the index is 100 and the dict has no "a": the overridden __index__/__getitem__ count for
    # nothing (an error, never a pass).
    tests = ["assert [1, 2, 3, 4][f(1)] == 4"]
    assert judge(executor, LIAR_INT, tests) == [("error", "split")]
    assert judge(executor, LIAR_CONTAINERS, ["assert dct(1)['a'] == 1"]) == [("error", "split")]


def test_type_names_are_the_real_ones(executor):
    program = """
    class int:  # a class named like the builtin, not an int
        pass
    class MyInt(__builtins__['int'] if isinstance(__builtins__, dict) else __builtins__.int):
        pass
    def fake(x):
        return int()
    def sub(x):
        return MyInt(3)
    def real(x):
        return 3
    """
    tests = [
        "assert type(fake(1)).__name__ == 'int'",
        "assert type(sub(1)) == type(3)",
        "assert type(sub(1)) is type(3)",
        "assert sub(1).__class__ is type(3)",
        "assert type(real(1)).__name__ == 'int' and type(real(1)) is type(0)",
        "assert type(sub(1)).__name__ == 'MyInt'",
        "assert isinstance(sub(1), (str, type(0)))",
    ]
    outcomes = judge(executor, program, tests)
    assert [o for o, _ in outcomes] == ["fail", "fail", "fail", "fail", "pass", "pass", "pass"], outcomes


def test_library_values_keep_their_type_for_type_checks(executor):
    program = """
    import collections
    import numpy as np
    Point = collections.namedtuple("Point", "x y")
    def point(x):
        return Point(1, 2)
    def counter(x):
        return collections.Counter("aab")
    def i64(x):
        return np.int64(3)
    def f64(x):
        return np.float64(0.5)
    """
    tests = [
        "assert point(1) == (1, 2) and isinstance(point(1), tuple)",
        "assert type(point(1)).__name__ == 'Point'",
        "assert type(point(1)) != tuple",
        "assert counter(1) == {'a': 2, 'b': 1} and type(counter(1)).__name__ == 'Counter'",
        "assert counter(1).most_common(1) == [('a', 2)]",
        "assert i64(1) == 3 and not isinstance(i64(1), int)",  # as in Python: numpy.int64 is no int
        "assert isinstance(f64(1), float) and f64(1) == 0.5",
        "assert point(1).x == 1",
    ]
    assert judge(executor, program, tests) == [("pass", "split")] * len(tests)


def test_honest_programs_pass_the_same_forms(executor):
    program = """
    def f(x):
        return x
    def words(x):
        return x.split()
    """
    tests = [
        "assert f('abc').startswith('a') and f('abc').endswith('c')",
        "assert f('ABC').lower() == 'abc' and f('a,b').split(',') == ['a', 'b']",
        "assert f(3) ^ 3 == 0 and ~f(3) == -4 and f(3) << 1 == 6 and f(3).bit_length() == 2",
        "assert operator.eq(f(3), 3) and operator.contains(f([1]), 1)",
        "assert type(f(3)).__name__ == 'int' and f(3).__class__ is int",
        "assert f'{f(3):>4}' == '   3' and f'{f(0.5)!r}' == '0.5'",
        "assert all(w.islower() for w in words('a b c'))",
        "assert sorted(words('b a c'), key=lambda w: w) == ['a', 'b', 'c']",
        "assert {k: v * 2 for k, v in f({'a': 1}).items()} == {'a': 2}",
        "assert f([3, 1]).index(1) == 1 and f({'a': 1}).get('a') == 1",
        "assert all(f([1, 2, 3])[i] <= f([1, 2, 3])[i + 1] for i in range(2))",
        "assert f(2.5).is_integer() is False and f(3).real == 3 and f(1j).imag == 1.0",
        "assert str.join(',', f(['a', 'b'])) == 'a,b'",
    ]
    assert judge(executor, program, tests) == [("pass", "split")] * len(tests)


def test_verdicts_the_child_computes_are_labelled_whole(executor):
    program = LIAR_INT + "def g(x):\n    return x\n"
    tests = [
        "assert sum(f(x) for x in range(3)) == 300",  # builtin sum over program values in the child
        "assert all(g(i) == i for i in range(3))",
        "assert any(g(i) > 1 for i in range(3))",
    ]
    outcomes = judge(executor, program, tests)
    assert [m for _, m in outcomes] == ["whole", "whole", "whole"]
    assert [o for o, _ in outcomes] == ["pass", "pass", "pass"]  # the verdicts themselves are Python's


def test_trusted_operations_on_program_values_are_size_guarded(executor):
    program = "def f(x):\n    return x\n"
    tests = [
        "assert f('a').ljust(10**12) == ''",
        "assert f('a' * 1000).replace('a', 'b' * 100000) == ''",
        "assert f(1) << 10**12 == 0",
        "assert f('\\t' * 1000).expandtabs(10**9) == ''",
        "assert len(list(range(f(10**12)))) == 0",
        "assert bytes(f(10**12)) == b''",
        "assert f'{f(1):>{10**9}}' == ''",
        "assert f(3).to_bytes(10**12, 'big') == b''",
        "assert sum(f([[1]] * 100000), []) == [1] * 100000",  # linear, not quadratic
        "assert len([(a, b) for a in f(list(range(10000))) for b in f(list(range(10000)))]) == 0",
        "assert all(x in f(list(range(200000))) for x in f(list(range(200000))))",  # quadratic: timed out
        "assert sorted(f(list(range(200000))), key=lambda x: x in f(list(range(200000)))) == []",
    ]
    outcomes = judge(executor, program, tests)
    assert [o for o, _ in outcomes[:-4]] == ["error"] * (len(tests) - 4), outcomes
    assert outcomes[-4] == ("pass", "split") and [o for o, _ in outcomes[-3:]] == ["error"] * 3


def test_builtin_subclass_values_cross_as_their_plain_value():
    class Sneaky(str):
        def __str__(self) -> str:
            return "forged"

    value, conversion = decode_leaf(encode_value([Sneaky("real"), 1]))
    assert value == ["real", 1] and type(value[0]) is str
    assert conversion == ("", [], False, True)
    value, conversion = decode_leaf(encode_value(Sneaky("x")))
    assert value == "x" and conversion[0].endswith("Sneaky") and conversion[1] == ["str"] and conversion[2]
    forged = ["x", "Fake", ["dict", "list"], ["l", [1]]]  # a list cannot claim to be a dict
    assert decode_leaf(forged) == ([1], ("Fake", ["list"], True, False))


def test_trusted_methods_refuse_what_is_not_plain_data():
    with pytest.raises(TrustedError):
        call_method(object(), "startswith", "a")
    with pytest.raises(AttributeError):
        call_method("abc", "format_map", {})
    assert call_method("abc", "startswith", "a") is True
