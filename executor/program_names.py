"""Which names a program may rebind: the trusted side evaluates a builtin or module name itself only when it
can prove, from the program's source, that the program leaves that name alone.

A test such as `assert max([1, 2, 3]) == 3` means the program's `max` when the program defines one (a task
whose entry point is named like a builtin), and the builtin otherwise. The planner asks `ProgramNames`
which names of its trusted vocabulary (builtins, the pure modules, `operator`) the program may bind, and sends
calls of those names to the program's child. The analysis is conservative: every binding form Python has
(def, class, assignment and augmented/annotated assignment, for/with/except/match targets, walrus, import,
del, `global` declarations anywhere) counts, and a program that can bind names in ways source analysis cannot
follow (exec/eval/compile, globals()/vars()/locals(), setattr/delattr, the builtins module, frames,
`__dict__`/`__globals__`, star imports, introspective modules such as importlib, inspect, gc, ctypes or
pickle) is treated as rebinding every name.

A name this analysis misses (a route not listed above) is still judged with its builtin meaning, so the
verdict is the one the same program without that rebinding gets; it never judges a wrong answer right.
"""

from __future__ import annotations

import ast
import builtins
import functools
import re
from dataclasses import dataclass

from executor.ast_guard import parse
from executor.purity import PURE_MODULES

# Modules the trusted side evaluates by name (glue and program-free leaves).
TRUSTED_MODULES = frozenset(PURE_MODULES)
# Every name the trusted side could resolve without the program.
VOCABULARY = frozenset(name for name in dir(builtins) if not name.startswith("_")) | TRUSTED_MODULES

# Names whose use lets a program bind names (or reach namespaces) that no binding statement shows.
_DYNAMIC_NAMES = frozenset(
    [
        "exec",
        "eval",
        "compile",
        "globals",
        "locals",
        "vars",
        "setattr",
        "delattr",
        "breakpoint",
        "__import__",
        "__builtins__",
        "__loader__",
        "__spec__",
        "builtins",
        "get_type_hints",
        "singledispatch",
        "singledispatchmethod",
        "attrgetter",
        "methodcaller",
    ]
)
# Attributes that reach frames, namespaces, the import system or string evaluation.
_DYNAMIC_ATTRIBUTES = frozenset(
    [
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "f_code",
        "tb_frame",
        "gi_frame",
        "cr_frame",
        "ag_frame",
        "gi_code",
        "cr_code",
        "settrace",
        "setprofile",
        "_getframe",
        "modules",
        "meta_path",
        "path_hooks",
        "path_importer_cache",
        "get_type_hints",
        "_eval_type",
        "_evaluate",
        "attrgetter",
        "methodcaller",
        "singledispatch",
        "singledispatchmethod",
        "read_pickle",
        "load",
        "loads",
    ]
)
# Dunder attributes ordinary programs use and that reach no namespace.
_SAFE_DUNDERS = frozenset(
    [
        "__init__",
        "__name__",
        "__qualname__",
        "__doc__",
        "__class__",
        "__module__",
        "__len__",
        "__repr__",
        "__str__",
        "__hash__",
        "__eq__",
        "__ne__",
        "__lt__",
        "__le__",
        "__gt__",
        "__ge__",
        "__iter__",
        "__next__",
        "__contains__",
        "__getitem__",
        "__setitem__",
        "__delitem__",
        "__call__",
        "__enter__",
        "__exit__",
        "__bool__",
        "__add__",
        "__sub__",
        "__mul__",
        "__truediv__",
        "__floordiv__",
        "__mod__",
        "__neg__",
        "__abs__",
        "__lshift__",
        "__rshift__",
        "__and__",
        "__or__",
        "__xor__",
        "__slots__",
        "__version__",
        "__annotations__",
        "__post_init__",
    ]
)
# Modules that evaluate code, reach frames or namespaces, or unpickle: importing one makes a program dynamic.
_DYNAMIC_MODULES = frozenset(
    [
        "builtins",
        "importlib",
        "imp",
        "inspect",
        "gc",
        "ctypes",
        "_ctypes",
        "code",
        "codeop",
        "runpy",
        "pkgutil",
        "pickle",
        "_pickle",
        "cPickle",
        "dill",
        "cloudpickle",
        "joblib",
        "shelve",
        "copyreg",
        "marshal",
        "types",
        "timeit",
        "doctest",
        "pdb",
        "bdb",
        "cProfile",
        "profile",
        "trace",
        "unittest",
        "pydoc",
        "site",
        "zipimport",
        "traceback",
        "__main__",
        "sys",  # `import sys` is fine (dangerous attributes are caught above); `from sys import` is checked
    ]
)
_SYS_SAFE_IMPORTS = frozenset(
    ["setrecursionlimit", "getrecursionlimit", "maxsize", "stdin", "stdout", "stderr", "argv", "exit"]
)
# Decorators that return the class they are given (so `C()` is an instance of C).
_CLASS_DECORATORS = frozenset(["dataclasses.dataclass", "functools.total_ordering"])


@dataclass(frozen=True)
class ProgramNames:
    """What a program may bind at module level, as far as its source shows."""

    dynamic: bool = False  # it can bind names source analysis cannot follow: treat every name as rebound
    bound: frozenset[str] = frozenset()  # names it binds to something other than their trusted meaning
    safe_classes: frozenset[str] = frozenset()  # classes whose instances are plain custom objects (C())

    def shadows(self, name: str) -> bool:
        """Whether `name` may not mean its builtin/module meaning while the tests run."""
        return self.dynamic or name in self.bound


UNTOUCHED = ProgramNames()
DYNAMIC = ProgramNames(dynamic=True)

_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_STAR_IMPORT = re.compile(r"\bimport[\s\\]*\*")


@functools.lru_cache(maxsize=4096)
def program_names(program: str) -> ProgramNames:
    """The names `program` may bind (source analysis; a program that does not parse binds nothing)."""
    try:
        tree = parse(program)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return UNTOUCHED  # it fails to load: no test runs against it
    collector = _Bindings()
    try:
        collector.visit(tree)
    except RecursionError:
        return DYNAMIC
    if collector.dynamic:
        return DYNAMIC
    return ProgramNames(False, frozenset(collector.bound), frozenset(collector.safe_classes()))


def may_touch(program: str, names: frozenset[str]) -> bool:
    """Cheap pre-check: False only when `program` certainly binds none of `names` and is not dynamic.

    A sound over-approximation on ASCII source: a name can only be bound where it appears as a word other
    than in a plain call `name(`, or after `def`/`class`; dynamic features need one of their marker words.
    """
    if not program.isascii() or _STAR_IMPORT.search(program):
        return True  # identifiers are NFKC-normalised: a fullwidth spelling binds the ASCII name
    for match in _WORD.finditer(program):
        word = match.group()
        if word in _DYNAMIC_NAMES or word in _DYNAMIC_ATTRIBUTES or word in _DYNAMIC_MODULES:
            return True
        if word.startswith("__") and word.endswith("__") and word not in _SAFE_DUNDERS:
            return True
        if word in names and not _is_plain_call(program, match):
            return True
    return False


def _is_plain_call(program: str, match: re.Match[str]) -> bool:
    """`name(` not preceded by `def`, `class`, `.`: a call, which binds nothing."""
    end = match.end()
    while end < len(program) and program[end] in " \t":
        end += 1
    if end >= len(program) or program[end] != "(":
        return False
    before = program[: match.start()].rstrip(" \t\\\n")
    return not (before.endswith(".") or re.search(r"\b(def|class)$", before))


class _Bindings(ast.NodeVisitor):
    """Collects module-level bindings and dynamic features in one walk."""

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.dynamic = False
        self._depth = 0  # > 0 inside a function, lambda or class body (their bindings are local)
        self._class_nodes: dict[str, list[ast.ClassDef]] = {}
        self._other_bindings: set[str] = set()  # bound by something other than a module-level class
        self._imports: dict[str, str] = {}  # name -> what a module-level import bound it to

    # ---- binding forms ----

    def _bind(self, name: str, *, local_ok: bool = True) -> None:
        if self._depth == 0 or not local_ok:
            self.bound.add(name)
            self._other_bindings.add(name)

    def _bind_target(self, target: ast.AST) -> None:
        if isinstance(target, ast.Name):
            self._bind(target.id)
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self._bind_target(element)
        elif isinstance(target, ast.Starred):
            self._bind_target(target.value)
        elif isinstance(target, ast.Attribute | ast.Subscript):
            root = target.value
            if isinstance(root, ast.Name) and root.id in TRUSTED_MODULES:
                self.bound.add(root.id)  # `math.isclose = ...` changes what math.isclose means
            self.visit(target)
            return
        self.visit(target)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in _DYNAMIC_NAMES:
            self.dynamic = True

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if attr in _DYNAMIC_ATTRIBUTES or (
            attr.startswith("__") and attr.endswith("__") and attr not in _SAFE_DUNDERS
        ):
            self.dynamic = True
        if attr == "path" and isinstance(node.value, ast.Name) and self._imports.get(node.value.id) == "sys":
            self.dynamic = True  # sys.path edits make a file the program wrote importable
        self.visit(node.value)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "getattr":
            name = node.args[1] if len(node.args) > 1 else None
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                self.dynamic = True  # a computed attribute name can spell any of the above
            elif name.value in _DYNAMIC_ATTRIBUTES or name.value.startswith("__"):
                self.dynamic = True
            for argument in [*node.args, *(k.value for k in node.keywords)]:
                self.visit(argument)
            return
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self._bind_target(target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        self._bind_target(node.target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self.visit(node.annotation)
        self._bind_target(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        # A walrus in a comprehension binds in the enclosing scope: at module level that is the module.
        if isinstance(node.target, ast.Name):
            self._bind(node.target.id)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self._bind_target(node.target)
        for statement in [*node.body, *node.orelse]:
            self.visit(statement)

    visit_AsyncFor = visit_For

    def visit_withitem(self, node: ast.withitem) -> None:
        self.visit(node.context_expr)
        if node.optional_vars is not None:
            self._bind_target(node.optional_vars)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self._bind(node.name)
        for statement in node.body:
            self.visit(statement)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._bind_target(target)

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            self._bind(name, local_ok=False)  # assignments to it anywhere rebind the module's name

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self._bind(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self._bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self._bind(node.rest)
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            top = alias.name.split(".")[0]
            if top in _DYNAMIC_MODULES and top != "sys":
                self.dynamic = True
            name = alias.asname or top
            target = alias.name if alias.asname else top
            if self._depth == 0:
                self._imports[name] = target
            if name == target and name in TRUSTED_MODULES:
                continue  # `import math` binds math to math: nothing changes
            self._bind(name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        top = module.split(".")[0]
        if node.level == 0 and top in _DYNAMIC_MODULES and top != "sys":
            self.dynamic = True
        for alias in node.names:
            if alias.name == "*":
                self.dynamic = True  # binds names this analysis cannot list
                continue
            if alias.name in _DYNAMIC_NAMES or alias.name in _DYNAMIC_ATTRIBUTES:
                self.dynamic = True
            if top == "sys" and alias.name not in _SYS_SAFE_IMPORTS:
                self.dynamic = True
            name = alias.asname or alias.name
            if self._depth == 0:
                self._imports[name] = f"{module}.{alias.name}"
            self._bind(name)

    # ---- scopes ----

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self.visit(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        self._bind(node.name)
        self._depth += 1
        for statement in node.body:
            self.visit(statement)
        self._depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.visit(node.args)
        self._depth += 1
        self.visit(node.body)
        self._depth -= 1

    def visit_arguments(self, node: ast.arguments) -> None:
        for default in [*node.defaults, *(d for d in node.kw_defaults if d is not None)]:
            self.visit(default)
        for argument in [*node.posonlyargs, *node.args, *node.kwonlyargs, node.vararg, node.kwarg]:
            if argument is not None and argument.annotation is not None:
                self.visit(argument.annotation)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expression in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(expression)
        if self._depth == 0:
            self.bound.add(node.name)
            self._class_nodes.setdefault(node.name, []).append(node)
        self._depth += 1
        for statement in node.body:
            self.visit(statement)
        self._depth -= 1

    def _comprehension_scope(self, node: ast.AST) -> None:
        # Targets are local to the comprehension; the walrus inside still binds outside (visit_NamedExpr).
        for generator in node.generators:  # type: ignore[attr-defined]
            self.visit(generator.iter)
            self.visit(generator.target)  # visited for dynamic features, not bound at module level
            for condition in generator.ifs:
                self.visit(condition)
        for part in ("elt", "key", "value"):
            child = getattr(node, part, None)
            if child is not None:
                self.visit(child)

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension_scope

    # ---- classes whose instances are plain custom objects ----

    def safe_classes(self) -> set[str]:
        """Module-level classes bound once, without __new__, metaclass, builtin bases or unknown decorators:
        `C(...)` is then an instance of C, whose methods are the program's."""
        safe: set[str] = set()
        for name, defs in self._class_nodes.items():
            if len(defs) != 1 or name in self._other_bindings:
                continue
            node = defs[0]
            if node.keywords or not all(self._class_decorator(d) for d in node.decorator_list):
                continue
            if _defines(node, "__new__"):
                continue
            bases_ok = all(
                (isinstance(b, ast.Name) and (b.id == "object" or b.id in safe)) for b in node.bases
            )
            if bases_ok:
                safe.add(name)  # bases must be defined earlier (source order), as Python requires
        return safe

    def _class_decorator(self, node: ast.expr) -> bool:
        target = node.func if isinstance(node, ast.Call) else node
        if isinstance(target, ast.Name):
            return self._imports.get(target.id) in _CLASS_DECORATORS
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            module = self._imports.get(target.value.id)
            return f"{module}.{target.attr}" in _CLASS_DECORATORS
        return False


def _defines(node: ast.ClassDef, name: str) -> bool:
    """Whether the class body binds `name` (a method or an assignment)."""
    for statement in node.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef) and statement.name == name:
            return True
        if isinstance(statement, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in statement.targets
        ):
            return True
    return False
