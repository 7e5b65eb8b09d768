"""Thread-safe parsing and AST compilation.

CPython 3.11-3.12 keep the depth counter of the AST converters (C tree <-> Python `ast` objects) in
interpreter-wide state. Two threads converting at once (the executor plans tests in a thread per worker while
the caller parses programs for a cache key) corrupt each other's count and one of them fails with
"SystemError: AST constructor recursion depth mismatch". Every conversion in this process goes through here.
"""

from __future__ import annotations

import ast
import threading
from types import CodeType

__all__ = ["compile_tree", "parse"]

_CONVERSION = threading.Lock()


def parse(source: str, mode: str = "exec") -> ast.AST:
    """`ast.parse(source, mode=mode)`, never concurrently with another conversion."""
    with _CONVERSION:
        return ast.parse(source, mode=mode)


def compile_tree(tree: ast.AST, filename: str, mode: str) -> CodeType:
    """`compile(tree, filename, mode)` for an `ast` tree, never concurrently with another conversion."""
    with _CONVERSION:
        return compile(tree, filename, mode)
