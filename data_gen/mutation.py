"""AST mutants of a reference solution, for measuring whether a question's tests discriminate.

Operators (one site changed per mutant): arithmetic swaps (+ <-> -, * -> +, / and // -> *, % -> //, ** -> *),
comparison boundary/negation swaps (< <-> <=, > <-> >=, == <-> !=, in <-> not in, is <-> is not),
and <-> or, dropping `not`, integer constants n -> n + 1, True <-> False, `return x` -> `return None`,
and negating `if`/`while` conditions. Sites are numbered in a fixed walk order, so mutants are deterministic.
Some mutants are equivalent to the original (no test can kill them); the score is a lower bound on strength.
"""

from __future__ import annotations

import ast
import copy
import dataclasses

from executor.ast_guard import parse

_BINOP_SWAPS: dict[type, type] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Add,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
}
_CMPOP_SWAPS: dict[type, type] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}


@dataclasses.dataclass(frozen=True)
class Mutant:
    """One mutated program and what was changed."""

    description: str
    program: str


class _Mutator(ast.NodeTransformer):
    """Counts mutation sites in walk order; applies the one numbered `target` (or none when target < 0)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.description = ""

    def _site(self, description: str) -> bool:
        hit = self.count == self.target
        if hit:
            self.description = description
        self.count += 1
        return hit

    def _where(self, node: ast.AST) -> str:
        return f"line {getattr(node, 'lineno', '?')}"

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        swap = _BINOP_SWAPS.get(type(node.op))
        if swap and self._site(f"{self._where(node)}: {type(node.op).__name__} -> {swap.__name__}"):
            node.op = swap()
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        for index, op in enumerate(node.ops):
            swap = _CMPOP_SWAPS.get(type(op))
            if swap and self._site(f"{self._where(node)}: {type(op).__name__} -> {swap.__name__}"):
                node.ops[index] = swap()
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        swap = ast.Or if isinstance(node.op, ast.And) else ast.And
        if self._site(f"{self._where(node)}: {type(node.op).__name__} -> {swap.__name__}"):
            node.op = swap()
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and self._site(f"{self._where(node)}: drop not"):
            return node.operand
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, bool):
            if self._site(f"{self._where(node)}: {node.value} -> {not node.value}"):
                return ast.copy_location(ast.Constant(not node.value), node)
        elif isinstance(node.value, int) and self._site(
            f"{self._where(node)}: {node.value} -> {node.value + 1}"
        ):
            return ast.copy_location(ast.Constant(node.value + 1), node)
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        self.generic_visit(node)
        returns_value = node.value is not None and not (
            isinstance(node.value, ast.Constant) and node.value.value is None
        )
        if returns_value and self._site(f"{self._where(node)}: return None"):
            node.value = ast.Constant(None)
        return node

    def _negate_test(self, node: ast.If | ast.While) -> ast.AST:
        self.generic_visit(node)
        kind = type(node).__name__.lower()
        if self._site(f"{self._where(node)}: negate {kind} condition"):
            node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)
        return node

    visit_If = _negate_test
    visit_While = _negate_test


def count_sites(program: str) -> int:
    """How many single-site mutations the program admits (0 for a program that does not parse)."""
    try:
        tree = parse(program)
    except (SyntaxError, ValueError):
        return 0
    mutator = _Mutator(-1)
    mutator.visit(tree)
    return mutator.count


def mutants(program: str, max_mutants: int = 20) -> list[Mutant]:
    """Up to `max_mutants` mutants, spread evenly over the program's mutation sites."""
    try:
        tree = parse(program)
    except (SyntaxError, ValueError):
        return []
    total = count_sites(program)
    if total == 0 or max_mutants <= 0:
        return []
    if total <= max_mutants:
        targets = list(range(total))
    else:
        targets = sorted({(i * total) // max_mutants for i in range(max_mutants)})
    original = ast.unparse(tree)
    out = []
    for target in targets:
        mutator = _Mutator(target)
        mutated = ast.fix_missing_locations(mutator.visit(copy.deepcopy(tree)))
        text = ast.unparse(mutated)
        if text != original:
            out.append(Mutant(mutator.description, text))
    return out
