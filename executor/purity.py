"""Which split leaves never refer to the program: those are expected values and must not run beside it.

A leaf such as `"a b".split()`, `divmod(10, 3)` or `[x * x for x in [3, 1]]` names nothing the program
defines. Evaluated in the program's process it hands the program the expected value (it can walk frames to
the leaf and evaluate it), so such leaves are evaluated by a child that never loaded any program.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

# Modules a pure leaf may name; the pure child imports them (a program's own `math` would not be used).
PURE_MODULES = ("math", "string", "itertools", "functools", "collections", "operator", "re", "heapq")
PURE_PRELUDE = "import " + ", ".join(PURE_MODULES) + "\n"
PLACEHOLDER = "None"  # what the program's child evaluates instead of a program-free leaf


def nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of `tree` but its constants (most of a test's nodes, and never a name or a comparison)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if type(node) is not ast.Constant:
            yield node
            stack.extend(ast.iter_child_nodes(node))
