"""Which split leaves never refer to the program: those are expected values and must not run beside it.

A leaf such as `"a b".split()`, `divmod(10, 3)` or `[x * x for x in [3, 1]]` names nothing the program
defines. Evaluated in the program's process it hands the program the expected value (it can walk frames to
the leaf and evaluate it), so such leaves are evaluated by a child that never loaded any program.
"""

from __future__ import annotations

import ast
import builtins

# Modules a pure leaf may name; the pure child imports them (a program's own `math` would not be used).
PURE_MODULES = ("math", "string", "itertools", "functools", "collections", "operator", "re", "heapq")
PURE_PRELUDE = "import " + ", ".join(PURE_MODULES) + "\n"
PLACEHOLDER = "None"  # what the program's child evaluates instead of a program-free leaf
_FREE_OK = frozenset(name for name in dir(builtins) if not name.startswith("_")) | frozenset(PURE_MODULES)


def is_program_free(node: ast.expr) -> bool:
    """True when every free name in `node` is a builtin or an allowed module (no program reference)."""
    bound = _bound_names(node)
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id not in bound and sub.id not in _FREE_OK:
            return False
    return True


def _bound_names(node: ast.expr) -> set[str]:
    """Names bound inside the leaf (comprehension targets, lambda parameters, walrus targets)."""
    bound: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and not isinstance(sub.ctx, ast.Load):
            bound.add(sub.id)
        elif isinstance(sub, ast.arg):
            bound.add(sub.arg)
    return bound
