"""The untrusted side: a confined child loads one program and answers the worker's requests, one reply each.

Nothing here is trusted. Split tests ask only for the values of expressions ("leaves") and the trusted side
compares them; whole tests run test code here and are reported as such; stdio tests return captured stdout.
"""

from __future__ import annotations

import json
import marshal
import os
import resource
import sys
from typing import Any

from executor.equality import values_equal
from executor.sandbox import CHANNEL_FDS, sweep_own_uid
from executor.stdio import input_on_fd0, make_streams, output_text
from executor.wire import MAX_FRAME, EncodeError, decode_value, encode_value, read_exact, write_raw

# Requests come from the trusted worker only, which sends at most MAX_BATCH_TESTS tests at once (worker.py);
# this bound only catches a torn header. Replies are held to MAX_FRAME.
MAX_REQUEST = 1 << 30


def describe(err: BaseException) -> dict[str, str]:
    """A short, safe description of an exception raised by untrusted code."""
    try:
        name = type(err).__name__[:200]
        text = str(err)[:500]
        missing = ""
        if isinstance(err, ModuleNotFoundError):
            missing = str(getattr(err, "name", None) or text)[:200]
    except BaseException:  # str() of a hostile exception may itself raise
        name, text, missing = "Exception", "<unprintable exception>", "?"
    kind = "memory" if isinstance(err, MemoryError) else "exception"
    if isinstance(err, ModuleNotFoundError):
        text = f"missing dependency {missing!r}: {text}"
    elif isinstance(err, SystemExit):
        text = f"program called exit({text})"
    elif isinstance(err, RecursionError):
        kind = "exception"
    return {"kind": kind, "error": f"{name}: {text}" if text else name}


_REPLY_JSON = json.JSONEncoder(separators=(",", ":"))  # built once (json.dumps builds one per call here)


class Session:
    """State of one child: the program's namespace and compiled code."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd, self.write_fd = read_fd, write_fd
        self.namespace: dict[str, Any] = {}
        self.code: Any = None
        self.box = os.getcwd()  # confinement left us in the box (stdio input goes there, see stdio.py)

    def serve(self) -> None:
        """Answer requests until the channel closes: one reply frame per request (a batch: one per step)."""
        while True:
            try:
                header = read_exact(self.read_fd, 4)
            except EOFError:
                os._exit(0)
            size = int.from_bytes(header, "big")
            if size > MAX_REQUEST:
                os._exit(71)
            request = marshal.loads(read_exact(self.read_fd, size))  # from the trusted worker only
            if request["op"] == "run":
                self.run_batch(request)
            else:
                self.answer(request["n"], request)

    def run_batch(self, request: dict[str, Any]) -> None:
        """Load the program, then run every test, replying after each step (the worker times each step)."""
        if request.get("sweep"):  # the worker saw leftovers of an earlier program of this uid
            sweep_own_uid()
        cpu = int(request.get("cpu", 0))
        if cpu > 0:
            hard = resource.getrlimit(resource.RLIMIT_CPU)[1]  # set by the zygote: a child can only lower it
            if hard != resource.RLIM_INFINITY:
                cpu = min(cpu, hard - 1)
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        nonces = request["nonces"]
        load = {"op": "load", "program": request["program"], "run": request["run"]}
        if self.answer(nonces[0], load).get("ok"):
            for nonce, test in zip(nonces[1:], request["tests"]):
                self.answer(nonce, test)
        # Done: exit now (threads included) so the worker's kill-and-reap finds a process already exiting.
        os._exit(0)

    def answer(self, nonce: int, request: dict[str, Any]) -> dict[str, Any]:
        """Run one step and send its reply frame; returns the reply."""
        reply: dict[str, Any] = {"n": nonce}
        try:
            reply.update(getattr(self, "op_" + request["op"])(request))
        except BaseException as err:
            reply.update(describe(err))
        try:
            data = _REPLY_JSON.encode(reply).encode("utf-8", "surrogatepass")
        except BaseException as err:
            data = json.dumps({"n": nonce, **describe(err)}).encode()
        if len(data) > MAX_FRAME:
            error = f"reply too large ({len(data)} bytes > {MAX_FRAME}): huge return value or output"
            data = json.dumps({"n": nonce, "kind": "exception", "error": error}).encode()
        write_raw(self.write_fd, data)
        return reply

    def op_load(self, request: dict[str, Any]) -> dict[str, Any]:
        """Compile the program; run it unless it is a stdin/stdout script."""
        try:
            self.code = compile(request["program"], "<program>", "exec")
        except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
            out = describe(err)
            out["kind"] = "memory" if isinstance(err, MemoryError) else "syntax"
            return out
        if request.get("run", True):
            self.namespace = {"__name__": "solution", "__builtins__": __builtins__}
            sys.setrecursionlimit(request.get("recursion_limit", 10000))
            exec(self.code, self.namespace)
        return {"ok": True}

    def op_leaves(self, request: dict[str, Any]) -> dict[str, Any]:
        """Evaluate each expression in the program's namespace and return plain data (or what went wrong)."""
        values: list[Any] = []
        opaque: dict[int, Any] = {}
        for index, source in enumerate(request["leaves"]):
            try:
                value = eval(_code(source, "eval"), self.namespace)
            except BaseException as err:
                return {"values": values, "failed": index, **describe(err)}
            try:
                values.append(["v", encode_value(value)])
            except EncodeError as err:
                opaque[index] = value
                values.append(["o", str(err)])
            except RecursionError:
                opaque[index] = value
                values.append(["o", "value nested too deeply"])
        groups = {}
        for group_index, (source, indices) in enumerate(request.get("groups", [])):
            if any(i in opaque for i in indices):
                # Both sides are program values and one is not plain data: Python semantics, judged here.
                scope = {f"_v{i}": (opaque[i] if i in opaque else _decode_local(values[i])) for i in indices}
                try:
                    groups[str(group_index)] = bool(eval(source, self.namespace, scope))
                except BaseException as err:
                    return {"values": values, "failed": indices[0], **describe(err)}
        return {"values": values, "groups": groups}

    def op_whole(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run test code in the program's namespace; passing means it raised nothing."""
        self.namespace.update(_acx_eq=plain_equal, _acx_in=plain_in, _acx_truth=plain_truth)
        exec(_code(request["code"], "exec"), self.namespace)
        return {"ok": True}

    def op_stdio(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run the program as __main__ with the given stdin (also on fd 0); return its stdout."""
        stdin, stdout, captured = make_streams(request["input"])
        input_on_fd0(request["input"], self.box)
        old = sys.stdin, sys.stdout
        sys.stdin, sys.stdout = stdin, stdout
        error = None
        try:
            exec(self.code, {"__name__": "__main__", "__builtins__": __builtins__})
            stdout.flush()
        except SystemExit as err:
            if err.code not in (None, 0):
                error = describe(err)
        except BaseException as err:
            error = describe(err)
        finally:
            sys.stdin, sys.stdout = old
        if error:
            return error
        return {"stdout": output_text(captured)}

    def op_probe(self, request: dict[str, Any]) -> dict[str, Any]:
        """Try forbidden things and report which were blocked (for --check-sandbox)."""
        from executor.probe import run_probes

        return {"probes": run_probes(request)}


def _plain(value: Any) -> tuple[bool, Any]:
    try:
        return True, decode_value(encode_value(value))
    except (EncodeError, RecursionError):
        return False, value


def plain_equal(left: Any, right: Any) -> bool:
    """== for whole tests: plain data compares as data; a non-plain value never equals plain data."""
    left_ok, left_value = _plain(left)
    right_ok, right_value = _plain(right)
    if left_ok and right_ok:
        return values_equal(left_value, right_value)
    if left_ok or right_ok:
        return False
    return bool(left == right)  # both are program objects: Python semantics


def plain_in(item: Any, container: Any) -> bool:
    """`in` for whole tests, element comparison as in plain_equal."""
    ok, value = _plain(container)
    if not ok:
        return bool(item in container)
    if isinstance(value, list | tuple | set | frozenset):
        return any(plain_equal(item, element) for element in value)
    item_ok, item_value = _plain(item)
    return item_ok and bool(item_value in value)


def plain_truth(value: Any) -> bool:
    """Truthiness for whole tests: only plain data can be true."""
    ok, plain = _plain(value)
    return ok and bool(plain)


def _code(test: Any, mode: str) -> Any:
    """Test code arrives precompiled by the trusted side (see precompile.py), or as source to compile here."""
    return compile(test, "<test>", mode) if isinstance(test, str) else test


def _decode_local(entry: list[Any]) -> Any:
    return decode_value(entry[1])


def main(fds: tuple[int, int] = CHANNEL_FDS) -> None:
    """Serve requests on the channel; never returns."""
    try:
        Session(*fds).serve()
    finally:
        os._exit(0)
