"""Turn each test into a plan: what the untrusted child evaluates, and what the trusted side keeps and judges.

For assert tests the trusted side keeps the assert's "glue" (comparisons, literals, arithmetic, builtins,
methods of the plain types, comprehensions over plain values: glue.py) and sends the child only the
sub-expressions it cannot evaluate itself (calls into the program: the "leaves"). Which names are the
program's is decided from the program's source (program_names.py). Expected values therefore never enter the
child. Tests that are not plain asserts (loops, helper definitions, ...) run whole in the child and are
labelled "whole".
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass, field
from typing import Any

from executor.ast_guard import compile_tree, parse
from executor.glue import SAFE_FUNCS, SAFE_MATH, SAFE_NAMES, NameView, extract, no_args
from executor.program_names import UNTOUCHED, VOCABULARY, ProgramNames, may_touch, program_names
from executor.purity import PLACEHOLDER, nodes

NO_NAMES = NameView()  # a program that rebinds none of the test's names
__all__ = ["SAFE_FUNCS", "SAFE_MATH", "SAFE_NAMES", "TestPlan", "plan_test", "plan_tests", "program_view"]


@dataclass
class TestPlan:
    """How one test is run (mode) and judged."""

    mode: str  # "split" | "whole" | "stdio" | "invalid"
    request: dict[str, Any] = field(default_factory=dict)  # what the child receives
    glue: Any = None  # split: compiled trusted expression over _leaf(i) / _group(g, ...)
    expected_output: str | None = None  # stdio
    error: str | None = None  # invalid
    child_judged: bool = False  # some leaf applies built-in operations to program values in the child
    leaf_sources: list[str] = field(default_factory=list)  # split: every leaf's source, by index
    pure: frozenset[int] = frozenset()  # split: leaves that never name the program (evaluated without it)


@functools.lru_cache(maxsize=1 << 16)
def plan_assert_source(source: str, split: bool = True, view: NameView = NO_NAMES) -> TestPlan:
    """Plan a test given as Python source (one or more asserts, or arbitrary test code); `view` says which
    of the test's names the program may rebind (see plan_tests)."""
    try:
        tree = parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as err:
        return TestPlan("invalid", error=f"test is not valid Python: {type(err).__name__}: {err}"[:1000])
    try:
        asserts = _assert_statements(tree) if split else None
        if asserts:
            return _split(asserts, view)
        return TestPlan("whole", request={"op": "whole", "code": harden_whole(tree)})
    except (RecursionError, MemoryError, ValueError, OverflowError) as err:
        return TestPlan("invalid", error=f"test cannot be planned: {type(err).__name__}: {err}"[:1000])


def harden_whole(tree: ast.Module) -> str:
    """Test code for the child with its asserts' ==, != and `in` routed through plain-data comparison.

    The child still computes the verdict (whole tests are only as trustworthy as the process running them),
    but objects with a custom __eq__/__bool__ or builtin subclasses no longer satisfy an assert.
    """
    tree = _HardenAsserts().visit(tree)
    ast.fix_missing_locations(tree)
    return ast.unparse(tree)


class _HardenAsserts(ast.NodeTransformer):
    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        test = _CompareRewriter().visit(node.test)
        if not isinstance(test, ast.Compare | ast.BoolOp | ast.UnaryOp | ast.Call | ast.Constant):
            test = _call("_acx_truth", test)
        return ast.copy_location(ast.Assert(test=test, msg=node.msg), node)


class _CompareRewriter(ast.NodeTransformer):
    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        node = self.generic_visit(node)
        if len(node.ops) != 1:
            return node
        op, left, right = node.ops[0], node.left, node.comparators[0]
        if isinstance(op, ast.Eq):
            return _call("_acx_eq", left, right)
        if isinstance(op, ast.NotEq):
            return ast.UnaryOp(op=ast.Not(), operand=_call("_acx_eq", left, right))
        if isinstance(op, ast.In):
            return _call("_acx_in", left, right)
        if isinstance(op, ast.NotIn):
            return ast.UnaryOp(op=ast.Not(), operand=_call("_acx_in", left, right))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        return node  # a lambda's body runs elsewhere (e.g. as a key function): leave it as written


def plan_stdio(test_input: str, expected_output: str) -> TestPlan:
    """Plan a stdin/stdout test: the child gets only the input."""
    return TestPlan("stdio", request={"op": "stdio", "input": test_input}, expected_output=expected_output)


def plan_test(test: Any, split: bool = True, names: ProgramNames = UNTOUCHED) -> TestPlan:
    """Plan one test of a job (assert source or {"input", "output"} dict); split=False runs asserts whole.
    `names`: what the program may rebind (program_names.py); the default assumes it rebinds nothing."""
    if isinstance(test, dict):
        return plan_stdio(str(test["input"]), str(test["output"]))
    return plan_assert_source(test, split, _view(test, names) if split else NO_NAMES)


def clear_caches() -> None:
    """Forget every cached plan and program analysis (benchmarks plan from scratch, as a first run would)."""
    plan_assert_source.cache_clear()
    _words.cache_clear()
    program_names.cache_clear()


def plan_tests(program: str, tests: list[Any], split: bool = True) -> list[TestPlan]:
    """Plan every test of a job against what its program may rebind (analysed only when a test needs it)."""
    names = program_view(program, tests, split)
    return [plan_test(t, split, names) for t in tests]


def program_view(program: str, tests: list[Any], split: bool = True) -> ProgramNames:
    """What `program` may rebind, as far as these tests care (the source is parsed only when they do)."""
    if not split:
        return UNTOUCHED
    asked = frozenset().union(*(_words(t) for t in tests if isinstance(t, str)))
    vocabulary = asked & VOCABULARY
    if (vocabulary and may_touch(program, vocabulary)) or (asked and _CLASS.search(program)):
        return program_names(program)
    return UNTOUCHED


_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_CLASS = re.compile(r"\bclass\b")


@functools.lru_cache(maxsize=1 << 16)
def _words(source: str) -> frozenset[str]:
    """Every identifier-like word of a test (a superset of the names it uses)."""
    return frozenset(_WORD.findall(source)) if source.isascii() else frozenset(VOCABULARY)


def _view(source: str, names: ProgramNames) -> NameView:
    """The part of `names` that concerns this test (so plans are cached per test, not per program)."""
    if names is UNTOUCHED:
        return NO_NAMES
    words = _words(source)
    vocabulary = words & VOCABULARY
    dynamic = vocabulary if names.dynamic else frozenset()
    return NameView(frozenset(vocabulary & names.bound), frozenset(dynamic), words & names.safe_classes)


def _assert_statements(tree: ast.Module) -> list[ast.Assert] | None:
    """The asserts to split: a module of asserts only, or HumanEval's `def check(candidate)` + `check(f)`."""
    body = [s for s in tree.body if not _is_docstring(s)]
    if body and all(isinstance(s, ast.Assert) for s in body):
        return body  # type: ignore[return-value]
    return _humaneval_check_asserts(body)


def _humaneval_check_asserts(body: list[ast.stmt]) -> list[ast.Assert] | None:
    checks = [s for s in body if isinstance(s, ast.FunctionDef) and s.name == "check"]
    calls = [s for s in body if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)]
    others = [s for s in body if s not in checks and s not in calls and not _is_metadata(s)]
    if len(checks) != 1 or len(calls) != 1 or others:
        return None
    check, call = checks[0], calls[0].value
    params = check.args
    if len(params.args) != 1 or params.vararg or params.kwarg or params.kwonlyargs or check.decorator_list:
        return None
    if not (isinstance(call.func, ast.Name) and call.func.id == "check" and len(call.args) == 1):
        return None
    if call.keywords or not isinstance(call.args[0], ast.Name):
        return None
    statements = [s for s in check.body if not _is_docstring(s)]
    if not statements or not all(isinstance(s, ast.Assert) for s in statements):
        return None
    param, target = params.args[0].arg, call.args[0].id
    names = [node for statement in statements for node in _names(statement)]
    if _assigns_name(names, param):
        return None
    for node in names:  # the tree was parsed for this plan only: rename in place
        if isinstance(node, ast.Name) and node.id == param:
            node.id = target
    return statements  # type: ignore[return-value]


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)


def _is_metadata(stmt: ast.stmt) -> bool:
    """HumanEval's `METADATA = {...}` (a literal assignment the asserts never use)."""
    if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
        return False
    target = stmt.targets[0]
    return isinstance(target, ast.Name) and target.id == "METADATA" and _is_constant(stmt.value)


def _is_constant(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return False
    return True


def _names(tree: ast.AST) -> list[ast.Name | ast.arg]:
    """Every Name and arg node in `tree`."""
    return [node for node in nodes(tree) if type(node) is ast.Name or type(node) is ast.arg]  # type: ignore[misc]


def _assigns_name(names: list[ast.Name | ast.arg], name: str) -> bool:
    """True when the parameter is rebound anywhere (walrus, comprehension target, lambda argument)."""
    for node in names:
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
            return True
        if isinstance(node, ast.arg) and node.arg == name:
            return True
    return False


def _split(asserts: list[ast.Assert], view: NameView) -> TestPlan:
    """Cut each assert into trusted glue and child leaves; one combined plan for the whole test."""
    cut = extract([_strip_message(a) for a in asserts], view)
    glue_tree = ast.Expression(body=ast.Call(func=_name("_all"), args=[_lazy_list(cut.glue)], keywords=[]))
    ast.fix_missing_locations(glue_tree)
    try:
        glue = compile_tree(glue_tree, "<trusted glue>", "eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        return TestPlan("invalid", error=f"test cannot be planned: {err}")
    pure = frozenset(cut.pure)
    # The program's child gets a placeholder for each program-free leaf: its value (an expected value, e.g.
    # collections.Counter("ab")) is computed by a child that never loaded the program (see pure.py).
    leaves = [PLACEHOLDER if i in pure else leaf for i, leaf in enumerate(cut.leaves)]
    request = {"op": "leaves", "leaves": leaves, "groups": cut.groups}
    return TestPlan(
        "split",
        request=request,
        glue=glue,
        child_judged=cut.child_computes,
        leaf_sources=cut.leaves,
        pure=pure,
    )


def _strip_message(node: ast.Assert) -> ast.Assert:
    return ast.Assert(test=node.test, msg=None)


def _lazy_list(parts: list[ast.expr]) -> ast.expr:
    """[lambda: part, ...] so asserts after a failing one are not evaluated (like Python)."""
    lambdas = [ast.Lambda(args=no_args(), body=part) for part in parts]
    return ast.List(elts=lambdas, ctx=ast.Load())


def _name(identifier: str) -> ast.Name:
    return ast.Name(id=identifier, ctx=ast.Load())


def _call(function: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_name(function), args=list(args), keywords=[])
