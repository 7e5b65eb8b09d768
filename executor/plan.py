"""Turn each test into a plan: what the untrusted child evaluates, and what the trusted side keeps and judges.

For assert tests the trusted side keeps the assert's "glue" (comparisons, literals, arithmetic, a few pure
builtins such as len/sorted/abs/math.isclose) and sends the child only the sub-expressions it cannot evaluate
itself (calls into the program: the "leaves"). Expected values therefore never enter the child. Tests that are
not plain asserts (loops, helper definitions, ...) run whole in the child and are labelled "whole".
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field
from typing import Any

from executor.purity import PLACEHOLDER, is_program_free, nodes, scan

SAFE_FUNCS = frozenset(
    [
        "abs",
        "len",
        "sorted",
        "set",
        "frozenset",
        "list",
        "tuple",
        "dict",
        "sum",
        "min",
        "max",
        "round",
        "int",
        "float",
        "str",
        "bool",
        "any",
        "all",
        "type",
        "isinstance",
        "reversed",
        "complex",
        "repr",
    ]
)
SAFE_NAMES = frozenset(
    ["int", "float", "str", "bool", "list", "tuple", "dict", "set", "frozenset", "bytes", "complex", "type"]
)
SAFE_MATH = frozenset(
    ["isclose", "isnan", "isinf", "isfinite", "sqrt", "floor", "ceil", "fabs", "pi", "e", "inf", "nan", "tau"]
)
_GLUE_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.BitAnd, ast.BitOr)
_HASHING_CALLS = {"set": "_set", "frozenset": "_frozenset", "dict": "_dict"}
_NESTED_SCOPES = (ast.Lambda, ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.DictComp, ast.Starred)


@dataclass
class TestPlan:
    """How one test is run (mode) and judged."""

    mode: str  # "split" | "whole" | "stdio" | "invalid"
    request: dict[str, Any] = field(default_factory=dict)  # what the child receives
    glue: Any = None  # split: compiled trusted expression over _leaf(i) / _group(g, ...)
    expected_output: str | None = None  # stdio
    error: str | None = None  # invalid
    child_judged: bool = False  # split, but some leaf computes a verdict in the child (e.g. all(... == ...))
    leaf_sources: list[str] = field(default_factory=list)  # split: every leaf's source, by index
    pure: frozenset[int] = frozenset()  # split: leaves that never name the program (evaluated without it)


@functools.lru_cache(maxsize=1 << 16)
def plan_assert_source(source: str, split: bool = True) -> TestPlan:
    """Plan a test given as Python source (one or more asserts, or arbitrary test code)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        return TestPlan("invalid", error=f"test is not valid Python: {type(err).__name__}: {err}")
    asserts = _assert_statements(tree) if split else None
    if asserts:
        return _split(asserts)
    return TestPlan("whole", request={"op": "whole", "code": harden_whole(tree)})


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


def plan_test(test: Any, split: bool = True) -> TestPlan:
    """Plan one test of a job (assert source or {"input", "output"} dict); split=False runs asserts whole."""
    if isinstance(test, dict):
        return plan_stdio(str(test["input"]), str(test["output"]))
    return plan_assert_source(test, split)


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


def _split(asserts: list[ast.Assert]) -> TestPlan:
    """Cut each assert into trusted glue and child leaves; one combined plan for the whole test."""
    extractor = _LeafExtractor()
    glue_parts = [extractor.visit(_strip_message(a).test) for a in asserts]
    glue_tree = ast.Expression(body=ast.Call(func=_name("_all"), args=[_lazy_list(glue_parts)], keywords=[]))
    ast.fix_missing_locations(glue_tree)
    try:
        glue = compile(glue_tree, "<trusted glue>", "eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        return TestPlan("invalid", error=f"test cannot be planned: {err}")
    pure = frozenset(extractor.pure)
    # The program's child gets a placeholder for each program-free leaf: its value (an expected value, e.g.
    # "a b".split()) is computed by a child that never loaded the program (see pure.py).
    leaves = [PLACEHOLDER if i in pure else leaf for i, leaf in enumerate(extractor.leaves)]
    request = {"op": "leaves", "leaves": leaves, "groups": extractor.groups}
    judged = extractor.judged
    return TestPlan(
        "split", request=request, glue=glue, child_judged=judged, leaf_sources=extractor.leaves, pure=pure
    )


def _strip_message(node: ast.Assert) -> ast.Assert:
    return ast.Assert(test=node.test, msg=None)


def _lazy_list(parts: list[ast.expr]) -> ast.expr:
    """[lambda: part, ...] so asserts after a failing one are not evaluated (like Python)."""
    lambdas = [ast.Lambda(args=_no_args(), body=part) for part in parts]
    return ast.List(elts=lambdas, ctx=ast.Load())


def _no_args() -> ast.arguments:
    return ast.arguments(
        posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]
    )


def _name(identifier: str) -> ast.Name:
    return ast.Name(id=identifier, ctx=ast.Load())


def _call(function: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_name(function), args=list(args), keywords=[])


_FLAT_LITERALS = (ast.List, ast.Tuple, ast.Set)


class _LeafExtractor(ast.NodeTransformer):
    """Rewrite an assert expression into trusted glue; everything else becomes `_leaf(i)`."""

    def __init__(self) -> None:
        self.leaves: list[str] = []
        self.groups: list[tuple[str, list[int]]] = []
        self.pure: set[int] = set()
        self._non_glue: dict[int, tuple[ast.AST, bool]] = {}
        self.judged = False  # a leaf the child evaluates compares values itself

    def leaf(self, node: ast.expr) -> ast.expr:
        program_free, compares = scan(node)
        if program_free:
            self.pure.add(len(self.leaves))
        else:
            self.judged = self.judged or compares
        self.leaves.append(ast.unparse(node))
        return _call("_leaf", ast.Constant(len(self.leaves) - 1))

    def visit(self, node: ast.AST) -> ast.AST:
        if isinstance(node, ast.Constant) or (
            isinstance(node, _FLAT_LITERALS) and all(type(e) is ast.Constant for e in node.elts)
        ):
            return node  # literal expected values are glue as they stand (and are most of a test's nodes)
        if isinstance(node, ast.expr) and not self._is_glue(node):
            return self.leaf(node)
        if isinstance(node, ast.expr) and self._whole_expected(node):
            return self.leaf(node)  # e.g. list(range(3)): one program-free leaf, not glue over range(3)
        return super().visit(node)

    def _whole_expected(self, node: ast.expr) -> bool:
        """A glue node that names no program but contains a non-glue part: evaluate it whole, purely."""
        if isinstance(node, ast.Compare | ast.BoolOp | ast.IfExp):
            return False
        return self._has_non_glue(node) and is_program_free(node)

    def _has_non_glue(self, node: ast.AST) -> bool:
        """Whether `node` or anything below it is not glue; memoized, so planning stays linear in the size
        of the assert (asked for every glue node on the way down)."""
        known = self._non_glue.get(id(node))
        if known is not None and known[0] is node:  # the node is kept alive here: its id cannot be reused
            return known[1]
        found = (isinstance(node, ast.expr) and not self._is_glue(node)) or any(
            self._has_non_glue(child) for child in ast.iter_child_nodes(node)
        )
        self._non_glue[id(node)] = (node, found)
        return found

    def _is_glue(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Constant | ast.BoolOp | ast.Compare | ast.IfExp | ast.Slice):
            return True
        if isinstance(node, ast.UnaryOp):
            return not isinstance(node.op, ast.Invert)
        if isinstance(node, ast.BinOp):
            return isinstance(node.op, _GLUE_BINOPS)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return not any(isinstance(e, ast.Starred) for e in node.elts)
        if isinstance(node, ast.Dict):
            return None not in node.keys
        if isinstance(node, ast.Subscript):
            return True
        if isinstance(node, ast.Name):
            return node.id in SAFE_NAMES
        if isinstance(node, ast.Attribute):
            return _is_math(node) and node.attr in ("pi", "e", "inf", "nan", "tau")
        if isinstance(node, ast.Call):
            return self._is_glue_call(node)
        return False

    @staticmethod
    def _is_glue_call(node: ast.Call) -> bool:
        func = node.func
        known = (isinstance(func, ast.Name) and func.id in SAFE_FUNCS) or (
            isinstance(func, ast.Attribute) and _is_math(func) and func.attr in SAFE_MATH
        )
        if not known:
            return False
        arguments = [*node.args, *(k.value for k in node.keywords)]
        if any(k.arg is None for k in node.keywords):
            return False
        # all(f(x) for x in ...) binds names the trusted side cannot see: the whole call is a leaf.
        return not any(isinstance(a, _NESTED_SCOPES) for a in arguments)

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        operands = [node.left, *node.comparators]
        all_leaves = all(not self._is_glue(o) for o in operands)
        first = len(self.leaves)
        new = self.generic_visit(node)
        if len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
            new = _call("_eq", new.left, new.comparators[0])
        elif len(node.ops) == 1 and isinstance(node.ops[0], ast.NotEq):
            new = ast.UnaryOp(op=ast.Not(), operand=_call("_same", new.left, new.comparators[0]))
        if not all_leaves or any(i in self.pure for i in range(first, len(self.leaves))):
            return new  # a program-free operand is an expected value: it must never be judged in the child
        # Every operand is a program value: if one is not plain data the child judges (Python semantics).
        indices = list(range(first, len(self.leaves)))
        placeholders = ast.Compare(
            left=_name(f"_v{indices[0]}"), ops=node.ops, comparators=[_name(f"_v{i}") for i in indices[1:]]
        )
        self.groups.append((ast.unparse(placeholders), indices))
        thunk = ast.Lambda(args=_no_args(), body=new)
        return _call("_group", ast.Constant(len(self.groups) - 1), thunk)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        # Only reached for whitelisted calls: keep the function reference, plan the arguments.
        if isinstance(node.func, ast.Name) and node.func.id in _HASHING_CALLS:
            node.func = _name(_HASHING_CALLS[node.func.id])  # hash-flood-checked (collisions.py)
        node.args = [self.visit(a) for a in node.args]
        for keyword in node.keywords:
            keyword.value = self.visit(keyword.value)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        return node  # only math constants get here

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        new = self.generic_visit(node)
        # Size-guarded arithmetic: test literals like [0] * 10**9 must not exhaust the trusted process.
        guarded = {ast.Mult: "_mul", ast.Pow: "_pow", ast.Mod: "_mod"}.get(type(node.op))
        if guarded:
            return _call(guarded, new.left, new.right)
        return new


def _is_math(node: ast.Attribute) -> bool:
    return isinstance(node.value, ast.Name) and node.value.id == "math"
