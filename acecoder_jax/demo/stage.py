"""One demo stage: a title, the commands it runs, and the numbers it measured; finished stages are resumed.

A finished stage leaves `out/stages/<key>.json` with its commands, seconds and numbers. A rerun whose commands
are the same skips the stage and reports what was recorded, so an interrupted demo continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
Command = list[str]


def demo_env(devices: int = 1) -> dict[str, str]:
    """The environment every stage runs in: CPU JAX with `devices` host devices, offline Hugging Face."""
    env = dict(os.environ)
    flags = [f for f in env.get("XLA_FLAGS", "").split() if "host_platform_device_count" not in f]
    env["XLA_FLAGS"] = " ".join([*flags, f"--xla_force_host_platform_device_count={devices}"])
    env.setdefault("JAX_PLATFORMS", "cpu")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("HF_HUB_OFFLINE", "1")
    # Tiny models are overhead-bound: one torch thread each (2 threads on a busy 2-core machine: 9x slower).
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def acecoder(*args: str) -> Command:
    """The command line of one `acecoder` subcommand, run in a fresh interpreter."""
    return [sys.executable, "-m", "acecoder_jax.cli", *args]


def run_command(command: Command, log: Path) -> None:
    """Run one command, its output shown and appended to `log`; fail the demo if it fails."""
    shown = " ".join(command[3:]) if command[1:3] == ["-m", "acecoder_jax.cli"] else " ".join(command[1:])
    prefix = "acecoder " if command[1:3] == ["-m", "acecoder_jax.cli"] else "python "
    print(f"$ {prefix}{shown}", flush=True)
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"\n$ {prefix}{shown}\n")
        handle.flush()
        process = subprocess.Popen(
            command, cwd=REPO, env=demo_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            handle.write(line)
        if process.wait() != 0:
            raise SystemExit(f"demo: `{prefix}{shown}` failed (exit {process.returncode}); log: {log}")


@dataclasses.dataclass
class Stage:
    """A demo stage: `commands()` lists what it runs; `measure()` reads its numbers from the files written."""

    key: str
    title: str
    commands: Callable[[], list[Command]]
    measure: Callable[[], dict[str, Any]]
    before: Callable[[], None] | None = None  # work a stage needs that no command does (inputs, a server)
    inputs: tuple[Path, ...] = ()  # files outside the demo's run dir whose content the stage depends on
    stale: tuple[Path, ...] = ()  # outputs removed when `inputs` changed since the recorded run
    around: Callable[[Callable[[], None]], None] | None = None  # wraps the commands (e.g. a running server)


def run_stage(stage: Stage, out: Path, *, force: bool = False) -> dict[str, Any]:
    """Run (or resume) one stage; returns {title, seconds, resumed, commands, numbers}.

    `force`: an earlier stage ran again, so this one's inputs changed and it runs too."""
    marker = out / "stages" / f"{stage.key}.json"
    commands = stage.commands()
    recorded = _read(marker)
    printable = [c[1:] for c in commands]
    fingerprint = _fingerprint(stage.inputs)
    same = recorded is not None and recorded.get("commands") == printable
    if recorded is not None and recorded.get("inputs", fingerprint) != fingerprint:
        for path in stage.stale:
            if path.exists():
                print(f"({path}: its inputs changed since it was built; removed)", flush=True)
                shutil.rmtree(path)
    elif not force and same:
        print(f"(finished in an earlier run, {recorded['seconds']:.1f} s: {marker})", flush=True)
        # The numbers are read again from the stage's files: they are what the summary must show.
        return recorded | {"numbers": stage.measure(), "resumed": True}
    start = time.perf_counter()
    if stage.before is not None:
        stage.before()
    log = out / "logs" / f"{stage.key}.log"
    log.parent.mkdir(parents=True, exist_ok=True)

    def run_all() -> None:
        for command in commands:
            run_command(command, log)

    if stage.around is not None:
        stage.around(run_all)
    else:
        run_all()
    numbers = stage.measure()
    result = {
        "title": stage.title,
        "seconds": time.perf_counter() - start,
        "commands": printable,
        "inputs": _fingerprint(stage.inputs),
        "numbers": numbers,
    }
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result | {"resumed": False}


def _fingerprint(paths: tuple[Path, ...]) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file()}


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
