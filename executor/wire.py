"""Framing and the plain-data value codec between the trusted worker and the untrusted child.

A frame is a 4-byte big-endian length followed by a body: a UTF-8 JSON object from the child, `marshal` data
(test code precompiled on the trusted side) from the worker. Values cross as tagged JSON built only from
builtin types, so whatever the child sends decodes on the trusted side to plain data that cannot run code (no
custom `__eq__`, no subclasses); the trusted side never unpickles or unmarshals child bytes.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

from executor.collisions import check_hashes

HEADER = struct.Struct(">I")
MAX_FRAME = 16 << 20  # a reply larger than this is a "huge return value"/"huge output" error, never parsed
MAX_DEPTH = 200
MAX_NODES = 2_000_000
BIG_INT_BITS = 62  # ints wider than this cross as hex (int(s, 16) is linear: no str-digit limit, no DoS)


class FrameError(Exception):
    """The peer broke the framing: torn frame, oversized frame or junk bytes."""


class EncodeError(Exception):
    """A value that is not plain data (or too big/deep to send)."""


def write_raw(fd: int, data: bytes) -> None:
    """Send an already-encoded frame body."""
    buf = HEADER.pack(len(data)) + data
    view = memoryview(buf)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exact(fd: int, size: int) -> bytes:
    """Read exactly `size` bytes (blocking); raises EOFError on a short read."""
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise EOFError("channel closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def decode_frame(data: bytes) -> dict[str, Any]:
    """Parse a frame body as a JSON object; anything else is a FrameError."""
    try:
        obj = json.loads(data.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError) as err:
        raise FrameError(f"malformed frame: {err}") from err
    if not isinstance(obj, dict):
        raise FrameError("frame is not an object")
    return obj


# ---- values: encode runs in the child (untrusted), decode runs in the worker (trusted) ----


def encode_value(value: Any) -> Any:
    """Turn a return value into tagged JSON data; raises EncodeError for non-plain types."""
    budget = [MAX_NODES, MAX_FRAME]  # elements, then characters: both bound the reply before it is built
    return _encode(value, 0, budget)


def _plain_type(value: Any) -> type | None:
    """The builtin type a value is carried as, or None when it is not plain data.

    Exact builtin types are carried as they are. Subclasses of them (an int subclass with an always-true
    __eq__, a str subclass whose startswith always says yes, namedtuples, Counter) are carried as the plain
    value of their builtin base, read with the base type's own methods: the trusted side compares and applies
    methods to that plain value only, so overriding them grants no power over the verdict.
    """
    kind = type(value)
    if kind in _EXACT:
        return kind
    for base in kind.__mro__:
        if base in _EXACT:
            return base
    return None


_EXACT = {type(None), bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset}
_BUILTIN_NAMES = {kind.__name__: kind for kind in _EXACT if kind is not type(None)}
MAX_TYPE_NAME = 200


def _encode(value: Any, depth: int, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise EncodeError("return value too large (too many elements)")
    if depth > MAX_DEPTH:
        raise EncodeError("return value nested too deeply (or cyclic)")
    kind = _plain_type(value)
    if kind is None:
        converted = _numpy_to_builtin(value)
        if converted is not None:
            return _converted(value, _encode(converted[0], depth + 1, budget))
        raise EncodeError(f"non-plain type {type(value).__module__}.{type(value).__qualname__}")
    encoded = _encode_plain(value, kind, depth, budget)
    return encoded if type(value) is kind else _converted(value, encoded)


def _converted(value: Any, encoded: Any) -> list[Any]:
    """["x", type name, builtin bases, plain value]: a value carried as its builtin base (see _plain_type)."""
    kind = type(value)
    name = str.__str__(kind.__qualname__) if isinstance(kind.__qualname__, str) else "?"
    bases = [base.__name__ for base in kind.__mro__ if base in _EXACT]
    return ["x", name[:MAX_TYPE_NAME], bases, encoded]


def _encode_plain(value: Any, kind: type, depth: int, budget: list[int]) -> Any:
    if kind in (list, tuple, set, frozenset, dict) and len(value) > budget[0]:
        raise EncodeError("return value too large (too many elements)")
    if value is None or kind is bool:
        return value
    if kind is str:
        return _spend_chars(str.__str__(value), budget)
    if kind is int:
        value = int.__index__(value)
        if value.bit_length() > BIG_INT_BITS:
            return ["I", format(value, "x")]
        return value
    if kind is float:
        return float.__float__(value)
    if kind is complex:
        return ["c", complex.real.__get__(value), complex.imag.__get__(value)]
    if kind is bytes:
        _spend_chars(value, budget, 2)
        return ["b", bytes.hex(value)]
    if kind is list:
        return ["l", [_encode(item, depth + 1, budget) for item in list.__iter__(value)]]
    if kind is tuple:
        return ["t", [_encode(item, depth + 1, budget) for item in tuple.__iter__(value)]]
    if kind is set:
        return ["s", [_encode(item, depth + 1, budget) for item in set.__iter__(value)]]
    if kind is frozenset:
        return ["f", [_encode(item, depth + 1, budget) for item in frozenset.__iter__(value)]]
    items = dict.items(value)
    return ["d", [[_encode(k, depth + 1, budget), _encode(v, depth + 1, budget)] for k, v in items]]


def _spend_chars(text: Any, budget: list[int], per_item: int = 1) -> Any:
    """Charge a string's (or bytes') length to the reply budget: a 100 MB string fails here at once instead
    of being copied into a reply that the size check then throws away."""
    budget[1] -= per_item * len(text)
    if budget[1] < 0:
        raise EncodeError(f"return value too large (over {MAX_FRAME} characters)")
    return text


def _numpy_to_builtin(value: Any) -> tuple[Any] | None:
    """numpy scalars/arrays -> builtin data via tolist(); None when not a numpy value."""
    module = type(value).__module__ or ""
    if module != "numpy" or not hasattr(value, "tolist"):
        return None
    return (value.tolist(),)


class DecodeError(ValueError):
    """Tagged data that does not describe a plain value."""


Conversion = tuple  # (type name, builtin base names, converted at the top, converted inside)


def decode_value(data: Any, depth: int = 0) -> Any:
    """Rebuild plain Python data from tagged JSON (trusted side); raises DecodeError on anything else."""
    return _decode(data, depth, None)


def decode_leaf(data: Any) -> tuple[Any, Conversion | None]:
    """(plain value, conversion report or None): as decode_value, and whether (and as what) the program's
    value was carried as its builtin base -- `type()` and `isinstance()` on it are judged from that."""
    found: list[Any] = []
    value = _decode(data, 0, found)
    if not found:
        return value, None
    top = next((entry for entry in found if entry[0] == 0), None)
    nested = any(entry[0] > 0 for entry in found)
    name, bases = (top[1], top[2]) if top else ("", [])
    return value, (name, bases, top is not None, nested)


def _decode(data: Any, depth: int, found: list[Any] | None) -> Any:
    if depth > MAX_DEPTH + 2:
        raise DecodeError("value nested too deeply")
    if data is None or isinstance(data, bool | int | float | str):
        return data
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        raise DecodeError("bad value encoding")
    tag = data[0]
    try:
        if tag == "x":
            return _decode_converted(data, depth, found)
        if tag == "I":
            return int(data[1], 16)
        if tag == "c":
            return complex(float(data[1]), float(data[2]))
        if tag == "b":
            return bytes.fromhex(data[1])
        if tag in ("l", "t", "s", "f"):
            items = [_decode(item, depth + 1, found) for item in data[1]]
            if tag in ("s", "f"):
                check_hashes(items)  # a colliding set would cost O(n^2) here and in the pool
            return {"l": list, "t": tuple, "s": set, "f": frozenset}[tag](items)
        if tag == "d":
            pairs = [(_decode(k, depth + 1, found), _decode(v, depth + 1, found)) for k, v in data[1]]
            check_hashes(k for k, _ in pairs)
            return dict(pairs)
    except (TypeError, ValueError, IndexError) as err:
        if isinstance(err, DecodeError):
            raise
        raise DecodeError(f"bad value encoding ({type(err).__name__}: {err})") from err
    raise DecodeError(f"unknown value tag {tag!r}")


def _decode_converted(data: list[Any], depth: int, found: list[Any] | None) -> Any:
    """A converted value: its plain value; the claimed bases are kept only where the plain value's own type
    really has them (a list can never claim to be a dict)."""
    if len(data) != 4 or not isinstance(data[1], str) or len(data[1]) > MAX_TYPE_NAME:
        raise DecodeError("bad converted-value encoding")
    if not isinstance(data[2], list) or not all(isinstance(b, str) for b in data[2]):
        raise DecodeError("bad converted-value encoding")
    if isinstance(data[3], list) and data[3] and data[3][0] == "x":
        raise DecodeError("converted value inside a converted value")
    value = _decode(data[3], depth, found)
    if found is not None:
        own = type(value).__mro__
        bases = [b for b in data[2] if b in _BUILTIN_NAMES and _BUILTIN_NAMES[b] in own]
        found.append((depth, data[1], bases))
    return value
