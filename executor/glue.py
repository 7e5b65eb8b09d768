"""Cut an assert expression into trusted glue and child leaves.

The glue is what the trusted side evaluates itself over plain values: comparisons, literals, arithmetic and
bit operators, subscripts, f-strings, comprehensions and lambdas over plain values, the builtins of
`plain_ops.BUILTIN_FUNCTIONS`, `math` and `operator` functions, and the methods and data attributes of the
plain built-in types (`f(x).startswith('a')` is `str.startswith` applied here to the plain value of `f(x)`).
Everything else is a leaf: a sub-expression the program's child evaluates and returns as plain data.

Names are judged from the program (program_names.py). A name its source visibly binds (`def max`, `class
math`, `import numpy as math`) is the program's: its calls go to the child -- except on the expected side of
a comparison whose other side calls the program, where the test's own meaning is kept (a program cannot
choose its expected values). A program that can rebind names unseen (exec, globals(), ...) gets its own
version of a builtin where the call is the thing under test (`max([1, 2, 3]) == 3`: it names no program value
and is no expected side); builtins applied to its results (`len(f(x))`) keep their meaning. A leaf whose
value the child would compute by applying built-in operations to program values (`sum(f(x) for ...)`,
`all(f(x) == y ...)`) makes the test `whole`: its verdict is then only as trustworthy as the child.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from executor.plain_ops import (
    BUILTIN_FUNCTIONS,
    DATA_ATTRIBUTES,
    METHOD_NAMES,
    OPERATOR_NAMES,
    TYPE_ATTRIBUTES,
)
from executor.program_names import VOCABULARY

SAFE_FUNCS = frozenset(BUILTIN_FUNCTIONS) | frozenset(["set", "frozenset", "dict", "type", "isinstance"])
SAFE_NAMES = frozenset(
    ["int", "float", "str", "bool", "list", "tuple", "dict", "set", "frozenset", "bytes", "complex", "type"]
)
SAFE_MATH = frozenset(
    ["isclose", "isnan", "isinf", "isfinite", "sqrt", "floor", "ceil", "fabs", "pi", "e", "inf", "nan", "tau"]
)
_MATH_CONSTANTS = frozenset(["pi", "e", "inf", "nan", "tau"])
_HASHING_CALLS = {"set": "_set", "frozenset": "_frozenset", "dict": "_dict"}
_GUARDED_BINOPS = {ast.Mult: "_mul", ast.Pow: "_pow", ast.Mod: "_mod", ast.LShift: "_lshift"}
_SCOPES = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_FLAT_LITERALS = (ast.List, ast.Tuple, ast.Set)


@dataclass(frozen=True)
class NameView:
    """What the planner needs to know of the program for one test's names."""

    bound: frozenset[str] = frozenset()  # vocabulary names the program's source visibly binds
    dynamic: frozenset[str] = frozenset()  # vocabulary names a dynamic program may have rebound unseen
    safe_classes: frozenset[str] = frozenset()  # classes whose instances are plain custom objects


@dataclass
class Extraction:
    """The result of cutting one test's asserts."""

    glue: list[ast.expr] = field(default_factory=list)
    leaves: list[str] = field(default_factory=list)
    groups: list[tuple[str, list[int]]] = field(default_factory=list)
    pure: set[int] = field(default_factory=set)
    child_computes: bool = False  # some leaf applies built-in operations to program values in the child


def extract(asserts: list[ast.Assert], view: NameView) -> Extraction:
    """Rewrite each assert's test into glue over `_leaf(i)`; the leaves and groups the child evaluates."""
    extractor = _LeafExtractor(view)
    glue = []
    for statement in asserts:
        extractor._operand = True  # a bare assert tests its expression directly
        glue.append(extractor.visit(statement.test))
    return Extraction(glue, extractor.leaves, extractor.groups, extractor.pure, extractor.child_computes)


def _name(identifier: str) -> ast.Name:
    return ast.Name(id=identifier, ctx=ast.Load())


def _call(function: str, *args: ast.expr, keywords: list[ast.keyword] | None = None) -> ast.Call:
    return ast.Call(func=_name(function), args=list(args), keywords=keywords or [])


def no_args() -> ast.arguments:
    """An empty lambda argument list."""
    return ast.arguments(
        posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]
    )


def _chain_root(node: ast.expr) -> ast.expr:
    """The object an attribute chain `a.b.c` starts from."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node


def _binds(node: ast.AST) -> set[str]:
    """Names a node binds for its own subtree: a scope's targets or parameters, a walrus target."""
    if isinstance(node, _SCOPES):
        return _targets(node)
    if isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
        return {node.target.id}
    return set()


def _targets(node: ast.AST) -> set[str]:
    """Names a comprehension target or lambda binds."""
    if isinstance(node, ast.Lambda):
        arguments = node.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        return {a.arg for a in [*every, arguments.vararg, arguments.kwarg] if a is not None}
    names: set[str] = set()
    for generator in node.generators:  # type: ignore[attr-defined]
        names.update(n.id for n in ast.walk(generator.target) if isinstance(n, ast.Name))
    return names


def _operands(node: ast.AST) -> list[ast.AST]:
    """The parts of a glue node that are evaluated as values (a glue call's function name and a method's or
    module constant's attribute are part of the glue itself)."""
    if isinstance(node, ast.Call):
        func = node.func
        module = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
        module = module and func.value.id in ("math", "operator")  # type: ignore[union-attr]
        head = [func.value] if isinstance(func, ast.Attribute) and not module else []
        return [*head, *node.args, *(k.value for k in node.keywords)]
    if isinstance(node, ast.Attribute):
        return [] if isinstance(node.value, ast.Name) and node.value.id == "math" else [node.value]
    return list(ast.iter_child_nodes(node))


class _LeafExtractor(ast.NodeTransformer):
    """Rewrites an assert expression into trusted glue; everything else becomes `_leaf(i)`."""

    def __init__(self, view: NameView) -> None:
        self.view = view
        self.leaves: list[str] = []
        self.groups: list[tuple[str, list[int]]] = []
        self.pure: set[int] = set()
        self.child_computes = False
        self._scopes: list[set[str]] = []  # names bound by enclosing glue comprehensions and lambdas
        self._expected = False  # inside an operand compared against a program value
        self._operand = True  # the next node visited is compared or tested directly (see _under_test)
        self._non_glue: dict[int, tuple[ast.AST, bool]] = {}
        self._names: dict[int, tuple[ast.AST, frozenset[str]]] = {}

    # ---- names ----

    def free_names(self, node: ast.AST) -> frozenset[str]:
        """Names `node` reads that it does not bind itself (comprehension targets, lambda parameters,
        walrus targets); memoized bottom-up, so every node of a test is walked once."""
        known = self._names.get(id(node))
        if known is not None and known[0] is node:
            return known[1]
        kind = type(node)
        if kind is ast.Constant:
            free: frozenset[str] = frozenset()
        elif kind is ast.Name:
            free = frozenset([node.id]) if isinstance(node.ctx, ast.Load) else frozenset()  # type: ignore[attr-defined]
        elif kind is ast.List or kind is ast.Tuple or kind is ast.Set:
            parts = [self.free_names(e) for e in node.elts if type(e) is not ast.Constant]  # type: ignore
            free = frozenset().union(*parts)  # literal expected values are most of a test's nodes
        else:
            free = frozenset().union(*(self.free_names(child) for child in ast.iter_child_nodes(node)))
            bound = _binds(node)
            if bound:
                free = free - bound
        self._names[id(node)] = (node, free)
        return free

    def _trusted(self, name: str) -> bool:
        """A vocabulary name the program cannot have rebound."""
        return name in VOCABULARY and name not in self.view.bound

    def _bound_here(self, name: str) -> bool:
        return any(name in scope for scope in self._scopes)

    def _program_free(self, node: ast.AST, *, test_meaning: bool = False) -> bool:
        """Names nothing of the program (with `test_meaning`, rebound vocabulary names count as theirs)."""
        names = self.free_names(node)
        if test_meaning:
            return names <= VOCABULARY
        return all(self._trusted(n) for n in names)

    def _names_program(self, node: ast.AST) -> bool:
        """Reads a name that is certainly the program's (outside the vocabulary)."""
        return any(n not in VOCABULARY and not self._bound_here(n) for n in self.free_names(node))

    # ---- leaves ----

    def leaf(self, node: ast.expr, *, program: bool = False) -> ast.expr:
        index = len(self.leaves)
        if program:
            pass  # the program's own version of a builtin it may have rebound (see _under_test)
        elif self._program_free(node) or (self._expected and self._program_free(node, test_meaning=True)):
            self.pure.add(index)  # an expected value: computed without the program (pure.py)
        elif not self._output_ok(node):
            self.child_computes = True
        self.leaves.append(ast.unparse(node))
        return _call("_leaf", ast.Constant(index))

    def visit(self, node: ast.AST) -> ast.AST:
        operand, self._operand = self._operand, False
        if operand and isinstance(node, ast.Call) and self._under_test(node):
            return self.leaf(node, program=True)
        if isinstance(node, ast.BoolOp) or (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)):
            return self._visit_tested(node)
        if isinstance(node, ast.Constant) or (
            isinstance(node, _FLAT_LITERALS) and all(type(e) is ast.Constant for e in node.elts)
        ):
            return node  # literal expected values are glue as they stand (and are most of a test's nodes)
        if isinstance(node, ast.expr) and not self._is_glue(node):
            return self.leaf(node)
        if isinstance(node, ast.expr) and self._whole_expected(node):
            return self.leaf(node)  # e.g. an itertools expression: one program-free leaf, evaluated whole
        return super().visit(node)

    def _visit_tested(self, node: ast.BoolOp | ast.UnaryOp) -> ast.AST:
        """`a and b`, `not a`: their operands are tested directly, like a bare assert's."""
        if isinstance(node, ast.BoolOp):
            values = []
            for value in node.values:
                self._operand = True
                values.append(self.visit(value))
            return ast.BoolOp(op=node.op, values=values)
        self._operand = True
        return ast.UnaryOp(op=node.op, operand=self.visit(node.operand))

    def _under_test(self, node: ast.Call) -> bool:
        """`max([1, 2, 3])` where a dynamic program (exec, globals(), ...) may have rebound `max`: the call
        names only builtins and is not an expected side, so it is the thing under test: the program's."""
        func = node.func
        if self._expected or not isinstance(func, ast.Name) or func.id not in self.view.dynamic:
            return False
        return self._program_free(node, test_meaning=True) and not self._scope_names(node)

    def _whole_expected(self, node: ast.expr) -> bool:
        """A glue node that names no program but contains a non-glue part: evaluate it whole, purely."""
        if isinstance(node, ast.Compare | ast.BoolOp | ast.IfExp):
            return False
        free = self._program_free(node, test_meaning=self._expected)
        return free and self._has_non_glue(node) and not self._scope_names(node)

    def _scope_names(self, node: ast.AST) -> bool:
        """Reads a name bound by an enclosing glue scope (then it cannot be evaluated on its own)."""
        return bool(self._scopes) and any(self._bound_here(n) for n in self.free_names(node))

    def _has_non_glue(self, node: ast.AST) -> bool:
        """Whether `node` or anything below it is not glue; memoized (asked for every glue node on the way
        down, so planning stays linear in the size of the assert). A scope is judged as a whole."""
        known = self._non_glue.get(id(node))
        if known is not None and known[0] is node:  # the node is kept alive here: its id cannot be reused
            return known[1]
        if isinstance(node, ast.expr) and not self._is_glue(node):
            found = True
        elif isinstance(node, _SCOPES):
            found = False  # glue as a whole (checked by _is_glue with its names bound)
        else:
            found = any(self._has_non_glue(child) for child in _operands(node))
        self._non_glue[id(node)] = (node, found)
        return found

    # ---- what is glue ----

    def _is_glue(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Constant | ast.BoolOp | ast.Compare | ast.IfExp | ast.Slice | ast.UnaryOp):
            return True
        if isinstance(node, ast.BinOp | ast.Subscript | ast.JoinedStr):
            return True
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return not any(isinstance(e, ast.Starred) for e in node.elts)
        if isinstance(node, ast.Dict):
            return None not in node.keys
        if isinstance(node, ast.Name):
            return self._bound_here(node.id) or (node.id in SAFE_NAMES and self._trusted(node.id))
        if isinstance(node, ast.Attribute):
            return self._is_glue_attribute(node)
        if isinstance(node, ast.Call):
            return self._is_glue_call(node)
        if isinstance(node, _SCOPES):
            return self._scope_is_glue(node)
        return False

    def _is_glue_attribute(self, node: ast.Attribute) -> bool:
        if self._is_module(node.value, "math"):
            return node.attr in _MATH_CONSTANTS
        if node.attr in DATA_ATTRIBUTES | TYPE_ATTRIBUTES or node.attr == "__class__":
            return not self._program_object(node.value)
        return False

    def _is_glue_call(self, node: ast.Call) -> bool:
        if any(k.arg is None for k in node.keywords) or any(isinstance(a, ast.Starred) for a in node.args):
            return False
        arguments = [*node.args, *(k.value for k in node.keywords)]
        if any(isinstance(a, _SCOPES) and not self._is_glue(a) for a in arguments):
            return False  # all(f(x) == y for ...): the call is evaluated with its generator, in the child
        func = node.func
        if isinstance(func, ast.Name):
            return func.id in SAFE_FUNCS and self._trusted(func.id)
        if not isinstance(func, ast.Attribute):
            return False
        if self._is_module(func.value, "math"):
            return func.attr in SAFE_MATH
        if self._is_module(func.value, "operator"):
            return func.attr in OPERATOR_NAMES
        # x.method(...) with a method of the plain types: applied here to the plain value of x.
        return func.attr in METHOD_NAMES and not self._program_object(func.value)

    def _is_module(self, node: ast.expr, module: str) -> bool:
        return isinstance(node, ast.Name) and node.id == module and self._trusted(module)

    def _program_object(self, receiver: ast.expr) -> bool:
        """A receiver whose methods are not the plain types': an attribute chain from a program (or library)
        name (`os.path`, `obj.items`), or an instance of one of the program's plain classes (`C(...)`)."""
        root = _chain_root(receiver)
        if isinstance(root, ast.Name):
            return not (self._bound_here(root.id) or (root.id in SAFE_NAMES and self._trusted(root.id)))
        return self._class_instance(receiver)

    def _class_instance(self, receiver: ast.expr) -> bool:
        """`C(...)` (or `C(...).m(...)`) for a plain class C of the program: its methods are the program's."""
        while isinstance(receiver, ast.Call | ast.Attribute):
            receiver = receiver.func if isinstance(receiver, ast.Call) else receiver.value
            if isinstance(receiver, ast.Name):
                return receiver.id in self.view.safe_classes
        return False

    def _scope_is_glue(self, node: ast.expr) -> bool:
        """A comprehension or lambda is glue when every non-glue part inside is independent of its names."""
        self._scopes.append(_targets(node))
        try:
            return all(self._independent(child) for child in ast.iter_child_nodes(node))
        finally:
            self._scopes.pop()

    def _independent(self, node: ast.AST) -> bool:
        if isinstance(node, ast.expr):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                return True  # a target
            if not self._is_glue(node):
                return not self._scope_names(node) and not isinstance(node, ast.Await | ast.Yield)
            if isinstance(node, _SCOPES):
                return True  # checked as a whole by _is_glue
            return all(self._independent(child) for child in _operands(node))
        return all(self._independent(child) for child in ast.iter_child_nodes(node))

    # ---- rewriting glue ----

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        operands = [node.left, *node.comparators]
        all_leaves = all(not self._is_glue(o) for o in operands)
        programmed = [self._names_program(o) for o in operands]
        first = len(self.leaves)
        outer = self._expected
        new_operands = []
        for operand, is_program in zip(operands, programmed):
            # Compared against a program value, an operand that names no program is an expected value.
            self._expected = outer or (any(programmed) and not is_program)
            self._operand = True
            new_operands.append(self.visit(operand))
        self._expected = outer
        new = ast.Compare(left=new_operands[0], ops=node.ops, comparators=new_operands[1:])
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
        thunk = ast.Lambda(args=no_args(), body=new)
        return _call("_group", ast.Constant(len(self.groups) - 1), thunk)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("type", "isinstance") and len(node.args) >= 1:
            return self._type_check(node)
        if isinstance(func, ast.Name) and func.id in _HASHING_CALLS:
            node.func = _name(_HASHING_CALLS[func.id])  # hash-flood-checked (collisions.py)
        args = [self.visit(a) for a in node.args]
        keywords = [ast.keyword(arg=k.arg, value=self.visit(k.value)) for k in node.keywords]
        modules = isinstance(func, ast.Attribute) and (
            self._is_module(func.value, "math") or self._is_module(func.value, "operator")
        )
        if isinstance(func, ast.Attribute) and not modules:
            receiver = self.visit(func.value)
            return _call("_method", receiver, ast.Constant(func.attr), *args, keywords=keywords)
        return ast.Call(func=node.func, args=args, keywords=keywords)

    def _type_check(self, node: ast.Call) -> ast.AST:
        """type(x) / isinstance(x, T): exact for plain values, told apart for converted subclass values."""
        first = len(self.leaves)
        value = self.visit(node.args[0])
        indices = ast.Tuple(elts=[ast.Constant(i) for i in range(first, len(self.leaves))], ctx=ast.Load())
        exact = ast.Constant(isinstance(value, ast.Call) and getattr(value.func, "id", "") == "_leaf")
        rest = [self.visit(a) for a in node.args[1:]]
        helper = "_type" if node.func.id == "type" else "_isinstance"  # type: ignore[attr-defined]
        return _call(helper, value, *rest, indices, exact)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if self._is_module(node.value, "math"):
            return node
        if node.attr == "__class__":
            return self._type_check(ast.Call(func=_name("type"), args=[node.value], keywords=[]))
        return _call("_attr", self.visit(node.value), ast.Constant(node.attr))

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        new = self.generic_visit(node)
        # Size-guarded arithmetic: test literals like [0] * 10**9 must not exhaust the trusted process.
        guarded = _GUARDED_BINOPS.get(type(node.op))
        if guarded:
            return _call(guarded, new.left, new.right)  # type: ignore[attr-defined]
        return new

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        parts: list[ast.expr] = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                spec = self.visit(value.format_spec) if value.format_spec is not None else ast.Constant("")
                triple = [self.visit(value.value), ast.Constant(value.conversion), spec]
                parts.append(ast.Tuple(elts=triple, ctx=ast.Load()))
            else:
                parts.append(value)
        return _call("_fstring", ast.List(elts=parts, ctx=ast.Load()))

    def _visit_scope(self, node: ast.AST) -> ast.AST:
        self._scopes.append(_targets(node))
        try:
            if isinstance(node, ast.Lambda):
                node.args = self.visit(node.args)  # type: ignore[assignment]
                node.body = _call("_step", self.visit(node.body))  # charged: sort keys run per element
                return node
            for generator in node.generators:  # type: ignore[attr-defined]
                generator.iter = _call("_iter", self.visit(generator.iter))
                generator.ifs = [self.visit(condition) for condition in generator.ifs]
            for part in ("elt", "key", "value"):
                if hasattr(node, part):
                    setattr(node, part, self.visit(getattr(node, part)))
            return node
        finally:
            self._scopes.pop()

    visit_Lambda = visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _visit_scope

    # ---- what a leaf computes in the child ----

    def _depends(self, node: ast.AST) -> bool:
        return not self._program_free(node)

    def _output_ok(self, node: ast.AST) -> bool:
        """The child returns the program's own results: built-in operations are applied in the child only
        to values that name nothing of the program (its calls' arguments and the program's own code aside)."""
        if not self._depends(node) or isinstance(node, ast.Name | ast.Constant | ast.Lambda):
            return True
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                return not (func.id in VOCABULARY and func.id not in self.view.bound)
            if isinstance(func, ast.Attribute):
                if func.attr in METHOD_NAMES:  # a plain type's method, unless called on a program class
                    return self._class_instance(func.value)
                return not self._trusted_chain(func.value)
            return False
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return all(self._output_ok(e) for e in node.elts)
        if isinstance(node, ast.Starred | ast.NamedExpr):
            return self._output_ok(node.value)
        if isinstance(node, ast.Dict):
            parts = [*node.values, *(k for k in node.keys if k is not None)]
            return all(self._output_ok(p) for p in parts)
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            outputs = [getattr(node, p) for p in ("elt", "key", "value") if hasattr(node, p)]
            conditions = [c for g in node.generators for c in g.ifs]
            return all(self._output_ok(o) for o in outputs) and not any(self._depends(c) for c in conditions)
        if isinstance(node, ast.Attribute):
            return node.attr not in DATA_ATTRIBUTES | TYPE_ATTRIBUTES and node.attr != "__class__"
        return False

    def _trusted_chain(self, receiver: ast.expr) -> bool:
        """An attribute chain from a name the program cannot have rebound (a builtin module or type)."""
        root = _chain_root(receiver)
        return isinstance(root, ast.Name) and root.id in VOCABULARY and root.id not in self.view.bound
