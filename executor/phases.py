"""Order of a job's tests in the child: split and stdio tests first, whole tests last in a fresh child.

A whole test's code carries its expected values into the sandbox (it runs there). Sent in the same batch as
the split tests, a program could read it at load time and answer the split tests with those values. So the
split phase's child never receives whole-test code, and whole tests run in a child loaded afterwards.
"""

from __future__ import annotations

from typing import Any


def whole_last(tests: list[dict[str, Any]]) -> tuple[list[int], int]:
    """(order: original indices, non-whole first; boundary: how many tests precede the whole ones)."""
    first = [i for i, t in enumerate(tests) if t.get("op") != "whole"]
    last = [i for i, t in enumerate(tests) if t.get("op") == "whole"]
    return first + last, len(first)


def restore(order: list[int], results: list[Any]) -> list[Any]:
    """Put results computed in `order` back into the tests' original order."""
    out: list[Any] = [None] * len(order)
    for position, index in enumerate(order):
        out[index] = results[position]
    return out
