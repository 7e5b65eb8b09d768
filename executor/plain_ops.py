"""Methods, attributes and operators of the plain built-in types, applied on the trusted side.

The child returns the plain value of each program call (a `str` subclass arrives as its `str` value); the
trusted glue then applies `f(x).startswith('a')`, `f(x) ^ 3`, `operator.eq(f(x), 3)`, `type(f(x)).__name__`
itself, with the real built-in semantics, so a program cannot answer them with overridden methods. Every
operation whose result can grow beyond its inputs is size-guarded: the values come from the program.
"""

from __future__ import annotations

import builtins
import operator
import re
import time
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from executor.collisions import check_hashes
from executor.equality import values_equal

MAX_ITEMS = 10_000_000  # elements or characters one trusted operation may build
MAX_POW_BITS = 1_000_000
MAX_FORMAT_WIDTH = 100_000
MAX_STEPS = 10_000_000  # loop iterations of one test's trusted comprehensions together
GLUE_SECONDS = 2.0  # trusted time for one test's comprehensions and lambdas

PLAIN_TYPES: tuple[type, ...] = (str, bytes, list, tuple, dict, set, frozenset, int, float, complex, bool)
# Every attribute name of a plain type: a call `x.name(...)` with one of these is planned as a trusted method.
METHOD_NAMES = frozenset(name for kind in PLAIN_TYPES for name in dir(kind))
DATA_ATTRIBUTES = frozenset(["real", "imag", "numerator", "denominator"])
TYPE_ATTRIBUTES = frozenset(["__name__", "__qualname__"])
_DIGITS = re.compile(r"\d+")


class TrustedError(ValueError):
    """A trusted operation that is refused (too large, or not evaluated on the trusted side)."""


def _too_large() -> TrustedError:
    return TrustedError("test expression too large to evaluate")


# ---- size-guarded arithmetic ----


def mul(a: Any, b: Any) -> Any:
    """a * b, refusing sequences longer than MAX_ITEMS."""
    for seq, n in ((a, b), (b, a)):
        sequence = isinstance(seq, str | bytes | list | tuple) and type(n) in (int, bool)
        if sequence and len(seq) * n > MAX_ITEMS:
            raise _too_large()
    return a * b


def power(a: Any, b: Any, modulo: Any = None) -> Any:
    """a ** b (or pow(a, b, m)), refusing integers wider than MAX_POW_BITS."""
    wide = modulo is None and type(a) is int and type(b) is int and b > 0
    if wide and max(a.bit_length(), 1) * b > MAX_POW_BITS:
        raise _too_large()
    return pow(a, b) if modulo is None else pow(a, b, modulo)


def mod(a: Any, b: Any) -> Any:
    """a % b; str/bytes formatting with widths above MAX_FORMAT_WIDTH is refused."""
    if isinstance(a, str | bytes):
        _check_format_text(a.decode("latin-1") if isinstance(a, bytes) else a)
    return a % b


def lshift(a: Any, b: Any) -> Any:
    """a << b, refusing integers wider than MAX_POW_BITS."""
    if type(a) in (int, bool) and type(b) in (int, bool) and b > 0 and a.bit_length() + b > MAX_POW_BITS:
        raise _too_large()
    return a << b


def _check_format_text(text: str) -> None:
    widths = _DIGITS.findall(text) if len(text) <= MAX_FORMAT_WIDTH else ["0" * 7]
    if "*" in text or any(len(n) > 6 or int(n) > MAX_FORMAT_WIDTH for n in widths):
        raise _too_large()


def format_value(value: Any, spec: Any = "") -> str:
    """format(value, spec) with the spec's width and precision bounded."""
    if not isinstance(spec, str):
        raise TypeError("format spec must be a str")
    _check_format_text(spec)
    return format(value, spec)


def fstring(parts: list[Any]) -> str:
    """An f-string: literal str parts and (value, conversion, spec) triples, formatted with guards."""
    out: list[str] = []
    size = 0
    for part in parts:
        if isinstance(part, str):
            text = part
        else:
            value, conversion, spec = part
            if conversion == ord("r"):
                value = repr(value)
            elif conversion == ord("s"):
                value = str(value)
            elif conversion == ord("a"):
                value = ascii(value)
            text = format_value(value, spec)
        size += len(text)
        if size > MAX_ITEMS:
            raise _too_large()
        out.append(text)
    return "".join(out)


def bounded_range(*args: int) -> range:
    """range(...) of at most MAX_ITEMS elements (a program value could ask for 10**12)."""
    result = range(*args)
    if len(result) > MAX_ITEMS:
        raise _too_large()
    return result


class StepBudget:
    """Bounds the work of one test's trusted comprehensions and lambdas: MAX_STEPS steps and GLUE_SECONDS of
    time (a body such as `x in f(1)` over a program value costs O(len) per step, so steps alone are not
    enough; the clock is read at every step, so one step is the most it can overrun)."""

    def __init__(self) -> None:
        self.left = MAX_STEPS
        self.deadline = time.monotonic() + GLUE_SECONDS

    def iterate(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """Iterate, charging one step per element."""
        for item in iterable:
            self.charge()
            yield item

    def step(self, value: Any) -> Any:
        """Charge one step (a lambda body's evaluation) and pass `value` through."""
        self.charge()
        return value

    def charge(self) -> None:
        """One step of trusted work."""
        self.left -= 1
        if self.left < 0:
            raise _too_large()
        if time.monotonic() > self.deadline:
            raise TrustedError(f"test expression takes too long to evaluate (over {GLUE_SECONDS:g} s)")


# ---- methods of the plain types ----


def _str_pad(s: str | bytes, width: Any, *rest: Any) -> None:
    if type(width) in (int, bool) and width > MAX_ITEMS:
        raise _too_large()


def _str_replace(s: str | bytes, old: Any, new: Any, count: Any = -1) -> None:
    if isinstance(old, str | bytes) and isinstance(new, str | bytes) and len(new) > len(old):
        hits = len(s) + 1 if not old else s.count(old)
        if type(count) is int and count >= 0:
            hits = min(hits, count)
        if len(s) + hits * (len(new) - len(old)) > MAX_ITEMS:
            raise _too_large()


def _expandtabs(s: str | bytes, tabsize: Any = 8) -> None:
    if type(tabsize) is int and len(s) * max(tabsize, 1) > MAX_ITEMS:
        raise _too_large()


def _to_bytes(n: int, length: Any = 1, *rest: Any, **kwargs: Any) -> None:
    if type(length) is int and length > MAX_ITEMS:
        raise _too_large()


def _join(s: str | bytes, iterable: Any) -> None:
    if isinstance(iterable, list | tuple) and len(iterable) > 1 and len(s) * len(iterable) > MAX_ITEMS:
        raise _too_large()


def _translate(s: str | bytes, table: Any, *rest: Any) -> None:
    if isinstance(table, dict):
        longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
        if len(s) * longest > MAX_ITEMS:
            raise _too_large()


_CODECS = frozenset(
    ["utf-8", "utf8", "ascii", "latin-1", "latin1", "utf-16", "utf-32", "cp1252", "iso-8859-1"]
)


def _codec(s: str | bytes, encoding: Any = "utf-8", *rest: Any, **kwargs: Any) -> None:
    # Some codecs (punycode, idna) are superlinear in their input, and the input comes from the program.
    name = kwargs.get("encoding", encoding)
    if not (isinstance(name, str) and name.lower().replace("_", "-") in _CODECS):
        raise TrustedError(f"codec {name!r} is not evaluated on the trusted side")


_GUARDS: dict[str, Callable[..., None]] = {
    "ljust": _str_pad,
    "rjust": _str_pad,
    "center": _str_pad,
    "zfill": _str_pad,
    "replace": _str_replace,
    "expandtabs": _expandtabs,
    "to_bytes": _to_bytes,
    "join": _join,
    "translate": _translate,
    "encode": _codec,
    "decode": _codec,
}
_SIZED = {"__mul__": mul, "__rmul__": mul, "__pow__": power, "__rpow__": power, "__mod__": mod}
_SIZED.update({"__lshift__": lshift, "__imul__": mul})
# Present on the plain types but not evaluated here: formatting templates with unbounded widths, and the
# object protocol (pickling, subclass hooks, attribute machinery).
_REFUSED = frozenset(
    [
        "format",
        "format_map",
        "__format__",
        "__reduce__",
        "__reduce_ex__",
        "__getstate__",
        "__init_subclass__",
        "__subclasshook__",
        "__setattr__",
        "__delattr__",
        "__getattribute__",
        "__new__",
        "__init__",
        "__class_getitem__",
        "__sizeof__",
        "__dir__",
        "__rlshift__",
        "__class__",
    ]
)


def call_method(obj: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """obj.name(*args, **kwargs) for a plain value, with the built-in type's own method."""
    kind = type(obj)
    if kind not in PLAIN_TYPES:
        raise TrustedError(f"{kind.__name__} value has no trusted method {name!r} (only plain data)")
    if name in _REFUSED or not hasattr(kind, name):
        raise AttributeError(f"{kind.__name__!r} object has no attribute {name!r} (on the trusted side)")
    sized = _SIZED.get(name)
    if sized is not None and not kwargs and len(args) == 1:
        return sized(obj, args[0]) if name not in ("__rmul__", "__rpow__") else sized(args[0], obj)
    if name in ("__pow__", "__rpow__", "__lshift__", "__rlshift__"):
        raise TrustedError(f"{name} is evaluated only with one argument on the trusted side")
    guard = _GUARDS.get(name)
    if guard is not None:
        guard(obj, *args, **kwargs)
    result = getattr(kind, name)(obj, *args, **kwargs)
    if isinstance(result, set | frozenset | dict):
        check_hashes(result.keys() if isinstance(result, dict) else result)
    return result


def get_attribute(obj: Any, name: str) -> Any:
    """obj.name for the data attributes of numbers and the names of types."""
    if type(obj) in PLAIN_TYPES and name in DATA_ATTRIBUTES and hasattr(obj, name):
        return getattr(obj, name)
    if isinstance(obj, type) and name in TYPE_ATTRIBUTES:
        return getattr(obj, name)
    raise TrustedError(f"attribute {name!r} of a {type(obj).__name__} is not evaluated on the trusted side")


# ---- the operator module, on plain data ----

_OPERATOR_PLAIN = [
    "lt",
    "le",
    "gt",
    "ge",
    "add",
    "sub",
    "truediv",
    "floordiv",
    "neg",
    "pos",
    "abs",
    "not_",
    "truth",
    "contains",
    "countOf",
    "indexOf",
    "getitem",
    "and_",
    "or_",
    "xor",
    "invert",
    "inv",
    "rshift",
    "is_",
    "is_not",
    "index",
    "concat",
]
OPERATOR_NAMES = frozenset([*_OPERATOR_PLAIN, "eq", "ne", "mul", "pow", "mod", "lshift"])


def trusted_operator() -> types.SimpleNamespace:
    """The `operator` functions the glue may call: == with the trusted float tolerance, guarded sizes."""
    namespace = types.SimpleNamespace(**{name: getattr(operator, name) for name in _OPERATOR_PLAIN})
    namespace.eq = values_equal
    namespace.ne = lambda a, b: not bool(a == b)
    namespace.mul, namespace.pow, namespace.mod, namespace.lshift = mul, power, mod, lshift
    return namespace


BUILTIN_FUNCTIONS: dict[str, Any] = {
    name: getattr(builtins, name)
    for name in [
        "abs",
        "len",
        "sorted",
        "list",
        "tuple",
        "sum",
        "min",
        "max",
        "round",
        "int",
        "float",
        "str",
        "bool",
        "any",
        "all",
        "reversed",
        "complex",
        "repr",
        "ascii",
        "hex",
        "oct",
        "bin",
        "chr",
        "ord",
        "divmod",
        "hash",
        "callable",
        "enumerate",
        "zip",
        "map",
        "filter",
        "iter",
        "next",
        "bytes",
    ]
}


def one_arg_iter(iterable: Any) -> Iterator[Any]:
    """iter(x); the two-argument form (callable, sentinel) can loop forever."""
    return iter(iterable)


def bounded_bytes(*args: Any) -> bytes:
    """bytes(...), refusing bytes(n) for n above MAX_ITEMS."""
    if args and type(args[0]) in (int, bool) and args[0] > MAX_ITEMS:
        raise _too_large()
    return bytes(*args)


def linear_sum(iterable: Iterable[Any], start: Any = 0) -> Any:
    """sum(); concatenating sequences is done in linear time (sum's own loop is quadratic for lists)."""
    if isinstance(start, list | tuple):
        items = list(start)
        for part in iterable:
            if type(part) is not type(start):
                raise TypeError(f"can only concatenate {type(start).__name__} (not {type(part).__name__})")
            items.extend(part)
            if len(items) > MAX_ITEMS:
                raise _too_large()
        return type(start)(items)
    return sum(iterable, start)


BUILTIN_FUNCTIONS.update(pow=power, format=format_value, range=bounded_range, iter=one_arg_iter)
BUILTIN_FUNCTIONS.update(bytes=bounded_bytes, sum=linear_sum)
