"""Sandbox uid slots: a uid is never given to a new worker while the worker that had it is alive.

A child sweeps leftovers of its uid with kill(-1) and the worker sweeps with kill(-1) as that uid, so two
live workers sharing a uid could kill each other's programs (red-team #19: a wrapping counter did that after
256 worker restarts). A slot returns to the pool of free ones only once its worker has been reaped; any
leftover process of a dead worker's uid is swept by the next owner's first child.
"""

from __future__ import annotations

import threading

SLOTS = 256


class UidSlots:
    """Allocate and release worker uid slots (0..SLOTS-1); thread-safe."""

    def __init__(self) -> None:
        self._live: set[int] = set()
        self._next = 0
        self._lock = threading.Lock()

    def acquire(self) -> int:
        """A slot no live worker holds (least recently used first); RuntimeError when all are live."""
        with self._lock:
            for step in range(SLOTS):
                slot = (self._next + step) % SLOTS
                if slot not in self._live:
                    self._live.add(slot)
                    self._next = slot + 1
                    return slot
        raise RuntimeError(f"more than {SLOTS} live executor workers in one process")

    def release(self, slot: int) -> None:
        """The worker holding `slot` has been reaped: the slot may be reused."""
        with self._lock:
            self._live.discard(slot)


SLOTS_IN_USE = UidSlots()
