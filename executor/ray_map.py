"""An ordered map over a set of Ray actors that survives actors dying: the driver loop that the executor's
RayExecutor (one NodePool per node) and data_gen's generation replicas share.

Items are taken lazily from an iterable (only enough to keep `per_actor` calls in flight per live actor), each
call goes to the least-loaded live actor, and `(item, result)` pairs are yielded in input order. When a call
fails because its actor died (`RayActorError`, `ActorUnavailableError`), that actor is dropped and the item
is sent again to a live one; an item's result is taken once (the first complete answer), so no item gets two.
Any other failure of a call (the remote method raised) is raised to the caller as Ray raises it.

The caller imports Ray and passes the module in, so this file imports nothing from Ray itself.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Self, TypeVar

T = TypeVar("T")

PER_ACTOR = 2  # calls in flight per actor: one running, one queued, so an actor never idles between calls


class ActorsLost(RuntimeError):
    """Every actor of the map died while items were still left to run."""


class ActorGroup:
    """What RayExecutor and the generation replicas share: connect to the cluster unless already connected
    (then disconnect at close), hold the started actors, kill them at close; a context manager over
    `start()`, which a subclass defines."""

    actors: list[Any]
    _ray: Any
    _owns_ray: bool  # this group connected, so it disconnects (a local cluster stops)

    def start(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self, ray: Any, address: str | None, **init_kwargs: Any) -> None:
        self._ray = ray
        if not ray.is_initialized():
            ray.init(address=address, **init_kwargs)
            self._owns_ray = True

    def close(self) -> None:
        """Kill every actor (with it what it runs: a node's pool, a vLLM engine and its GPUs)."""
        for actor in self.actors:
            self._ray.kill(actor)
        self.actors = []
        if self._owns_ray:
            self._ray.shutdown()
            self._owns_ray = False


def ordered_actor_map(
    ray: Any,
    actors: Sequence[Any],
    call: Callable[[Any, T], Any],
    items: Iterable[T],
    *,
    per_actor: int = PER_ACTOR,
    on_resend: Callable[[T], None] | None = None,
) -> Iterator[tuple[T, Any]]:
    """`(item, ray.get(call(actor, item)))` for every item, in input order, over `actors`.

    `call(actor, item)` submits one remote call and returns its ObjectRef; `on_resend(item)` is told each time
    an item is sent again because its actor died.
    """
    source = iter(items)
    alive = list(actors)
    load = {id(actor): 0 for actor in alive}
    pending: collections.deque[tuple[int, T]] = collections.deque()  # (index, item) to (re)send
    inflight: dict[Any, tuple[int, T, Any]] = {}  # ref -> (index, item, actor)
    done: dict[int, tuple[T, Any]] = {}
    taken = yielded = 0
    exhausted = False
    while True:
        while not exhausted and len(pending) + len(inflight) < per_actor * len(alive):
            item = next(source, _END)
            if item is _END:
                exhausted = True
                break
            pending.append((taken, item))
            taken += 1
        while pending:
            if not alive:
                raise ActorsLost(f"every Ray actor died; {len(pending)} item(s) had no actor left to run on")
            actor = min(alive, key=lambda a: load[id(a)])
            index, item = pending.popleft()
            inflight[call(actor, item)] = (index, item, actor)
            load[id(actor)] += 1
        while yielded in done:
            yield done.pop(yielded)
            yielded += 1
        if exhausted and not inflight and not pending:
            return
        ready, _ = ray.wait(list(inflight), num_returns=1)
        index, item, actor = inflight.pop(ready[0])
        load[id(actor)] -= 1
        try:
            done[index] = (item, ray.get(ready[0]))
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
            if actor in alive:
                alive.remove(actor)
            if on_resend is not None:
                on_resend(item)
            pending.appendleft((index, item))  # re-run on a live actor; this item had no result yet


_END: Any = object()
