"""Open expensive resources (a model, an executor pool) only when a stage has work, and close them after."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Lazy(Generic[T]):
    """`get()` builds the resource on first use and enters it in `stack` (closed when the stack closes)."""

    def __init__(self, factory: Callable[[], T], stack: contextlib.ExitStack) -> None:
        self._factory = factory
        self._stack = stack
        self._value: T | None = None

    def get(self) -> T:
        """The resource, built now if needed."""
        if self._value is None:
            value: Any = self._factory()
            self._value = self._stack.enter_context(value) if hasattr(value, "__enter__") else value
        return self._value

    @property
    def built(self) -> bool:
        """Whether get() was ever called."""
        return self._value is not None
