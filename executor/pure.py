"""Values of program-free leaves, computed in the pool by a dedicated worker whose children never load a
program, and cached: the same tests recur across programs (RL samples of one problem), so each distinct
leaf is evaluated once. The program's own child only ever sees a placeholder (see purity.py).
"""

from __future__ import annotations

import threading
from typing import Any

from executor.plan import TestPlan
from executor.precompile import child_request
from executor.purity import PURE_PRELUDE

MAX_CACHED = 1 << 16
PureEntry = tuple  # ("v", value) | ("o", why) | ("e", outcome, error)


class PureValues:
    """Evaluates and caches program-free leaves (trusted pool side); thread-safe."""

    def __init__(self, new_handle: Any, timeout_s: float, load_timeout_s: float) -> None:
        self._new_handle = new_handle  # () -> WorkerHandle; started on first use
        self._handle: Any = None
        self._timeout_s, self._load_timeout_s = timeout_s, load_timeout_s
        self._cache: dict[str, PureEntry] = {}
        self._lock = threading.Lock()

    def lookup(self, plans: list[TestPlan]) -> dict[str, PureEntry]:
        """{leaf source: entry} for every program-free leaf of these plans (evaluating missing ones)."""
        wanted = {p.leaf_sources[i] for p in plans if p.mode == "split" for i in p.pure}
        if not wanted:
            return {}
        with self._lock:
            missing = sorted(s for s in wanted if s not in self._cache)
            fresh = self._evaluate(missing) if missing else {}
            if len(self._cache) + len(fresh) > MAX_CACHED:
                self._cache.clear()
            self._cache.update(fresh)
            return {s: self._cache.get(s) or fresh[s] for s in wanted}

    def _evaluate(self, sources: list[str]) -> dict[str, PureEntry]:
        """One job on the pure worker: an empty program, one test per leaf (a failure hits only its leaf)."""
        from executor.pool import WorkerDied  # circular at import time

        tests = [child_request({"op": "leaves", "leaves": [s], "groups": []}) for s in sources]
        message = {
            "op": "job",
            "id": "pure-leaves",
            "program": PURE_PRELUDE,
            "tests": tests,
            "timeout_s": self._timeout_s,
            "load_timeout_s": self._load_timeout_s,
            "stdio": False,
        }
        budget = (len(tests) + 1) * (self._timeout_s + self._load_timeout_s + 1.0) + 30.0
        try:
            if self._handle is None:
                self._handle = self._new_handle()
            reply = self._handle.call(message, budget)
        except WorkerDied as err:
            self.close()
            return {s: ("e", "error", f"could not evaluate the expected value: {err}") for s in sources}
        if reply.get("status") != "ok":
            error = f"could not evaluate the expected values: {reply.get('load_error')}"
            return {s: ("e", "error", error) for s in sources}
        return {s: _entry(t) for s, t in zip(sources, reply["tests"])}

    def handles(self) -> list[Any]:
        """The pure worker's handle once started (for tests and idle-child reports)."""
        return [self._handle] if self._handle is not None else []

    def close(self) -> None:
        """Stop the pure worker (a later lookup starts a new one)."""
        if self._handle is not None:
            handle, self._handle = self._handle, None
            handle.close()


def _entry(test: dict[str, Any]) -> PureEntry:
    """One leaf's outcome from the worker's raw per-test reply."""
    reply = test.get("reply")
    if reply is None:
        return ("e", str(test.get("outcome", "error")), str(test.get("error")))
    if reply.get("failed") is not None or not reply.get("values"):
        outcome = "memory" if reply.get("kind") == "memory" else "error"
        return ("e", outcome, str(reply.get("error", "expected value raised")))
    return tuple(reply["values"][0])
