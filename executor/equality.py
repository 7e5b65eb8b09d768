"""Equality of plain data as the trusted side judges it: Python's, with evalplus-like float tolerance.

Small and import-free (beyond math) because the confined child also uses it for hardened whole tests.
"""

from __future__ import annotations

import math
from typing import Any

ABS_TOL, REL_TOL = 1e-6, 1e-7


def values_equal(actual: Any, expected: Any) -> bool:
    """Python equality on plain data with float tolerance."""
    either_float = isinstance(actual, float) or isinstance(expected, float)
    if either_float and _is_real(actual) and _is_real(expected):
        return _floats_close(float(actual), float(expected))
    if type(actual) in (list, tuple) and type(expected) is type(actual):
        return len(actual) == len(expected) and all(values_equal(a, e) for a, e in zip(actual, expected))
    if type(actual) is dict and type(expected) is dict:
        if actual.keys() != expected.keys():
            return False
        return all(values_equal(actual[k], expected[k]) for k in expected)
    return bool(actual == expected)


def _is_real(value: Any) -> bool:
    return type(value) in (int, float, bool)


def _floats_close(a: float, b: float) -> bool:
    if a == b:
        return True
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
        return False
    return abs(a - b) <= ABS_TOL + REL_TOL * abs(b)
