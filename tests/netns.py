"""Network namespaces that tests create (and remove) so that servers and clusters never touch the machine's
interfaces: one with only its loopback, or two joined by a veth pair with addresses only inside them."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

VETH_SUBNET = "10.231.77"  # addresses that exist only inside the two namespaces of `veth_namespaces`


def require_netns() -> None:
    """Skip the calling test unless this process can create network namespaces (root with iproute2)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("creating a network namespace needs root and iproute2")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _remove(name: str) -> list[int]:
    """Kill what still runs in namespace `name`, delete it; the pids that were left."""
    pids = pids_in(name)
    for pid in pids:  # only processes inside a namespace this test made: ours
        subprocess.run(["kill", "-KILL", str(pid)], check=False)
    subprocess.run(["ip", "netns", "del", name], check=False)
    return pids


def pids_in(name: str) -> list[int]:
    """The processes running in namespace `name`."""
    out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def command_line(pid: int) -> str:
    """What process `pid` runs ('' if it is gone)."""
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def stop_all(names: tuple[str, ...], grace_s: float = 15.0) -> list[str]:
    """SIGTERM every process in the namespaces, SIGKILL what is still there after `grace_s` (as `ray stop`
    does, but only inside these namespaces); returns the command lines that needed the SIGKILL."""
    for name in names:
        for pid in pids_in(name):
            subprocess.run(["kill", "-TERM", str(pid)], check=False, capture_output=True)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(pids_in(name) for name in names):
        time.sleep(0.5)
    survivors = [pid for name in names for pid in pids_in(name)]
    lines = [command_line(pid) for pid in survivors]
    for pid in survivors:
        subprocess.run(["kill", "-KILL", str(pid)], check=False, capture_output=True)
    deadline = time.monotonic() + 10.0  # a killed process is listed until it is reaped
    while time.monotonic() < deadline and any(pids_in(name) for name in names):
        time.sleep(0.2)
    return lines


@contextlib.contextmanager
def loopback_namespace(tag: str) -> Iterator[str]:
    """A namespace with only `lo` (up); yields its name; asserts nothing was left running in it."""
    require_netns()
    name = f"acecoder-{tag}-{os.getpid()}"
    _ip("netns", "add", name)
    try:
        _ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        yield name
    finally:
        left = _remove(name)
    assert not left, f"processes left in {name} after the run: {left}"


@contextlib.contextmanager
def veth_namespaces(tag: str) -> Iterator[tuple[tuple[str, str], tuple[str, str]]]:
    """Two namespaces joined by a veth pair: yields ((name_a, ip_a), (name_b, ip_b)).

    Each has its loopback and one end of the pair, addressed in VETH_SUBNET/24; the addresses and the link
    exist only inside the two namespaces, so nothing reaches or is reached from the machine's interfaces.
    """
    require_netns()
    names = (f"acecoder-{tag}-a-{os.getpid()}", f"acecoder-{tag}-b-{os.getpid()}")
    ends = (f"acv{os.getpid() % 100000}a", f"acv{os.getpid() % 100000}b")
    made: list[str] = []
    try:
        for name in names:
            _ip("netns", "add", name)
            made.append(name)
        _ip(
            "link",
            "add",
            ends[0],
            "netns",
            names[0],
            "type",
            "veth",
            "peer",
            "name",
            ends[1],
            "netns",
            names[1],
        )
        addresses = (f"{VETH_SUBNET}.1", f"{VETH_SUBNET}.2")
        for name, end, address in zip(names, ends, addresses, strict=True):
            _ip("-n", name, "link", "set", "lo", "up")
            _ip("-n", name, "addr", "add", f"{address}/24", "dev", end)
            _ip("-n", name, "link", "set", end, "up")
        yield (names[0], addresses[0]), (names[1], addresses[1])
    finally:
        left = [pid for name in made for pid in _remove(name)]  # deleting a namespace removes its veth end
    assert not left, f"processes left in {names} after the run: {left}"
