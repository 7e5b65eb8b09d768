"""Equality of plain data as the trusted side judges it: Python's, with evalplus-like float tolerance.

Small and import-free (beyond math) because the confined child also uses it for hardened whole tests.
"""

from __future__ import annotations

import math
from typing import Any

ABS_TOL, REL_TOL = 1e-6, 1e-7


def values_equal(actual: Any, expected: Any) -> bool:
    """Python equality on plain data, with float tolerance where both sides are floats."""
    # Tolerance only between two floats: a program returning a float for an int expected value (or the
    # reverse) is judged by Python's exact ==, so an off-by-N float never matches a large int.
    if type(actual) is float and type(expected) is float:
        return _floats_close(actual, expected)
    if type(actual) in (list, tuple) and type(expected) is type(actual):
        return len(actual) == len(expected) and all(values_equal(a, e) for a, e in zip(actual, expected))
    if type(actual) is dict and type(expected) is dict:
        if actual.keys() != expected.keys():
            return False
        return all(values_equal(actual[k], expected[k]) for k in expected)
    return bool(actual == expected)


def _floats_close(a: float, b: float) -> bool:
    if a == b:
        return True
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
        return False
    return abs(a - b) <= ABS_TOL + REL_TOL * abs(b)
