"""Run inside a network namespace by tests/test_data_gen_ray.py: synth-tests and sample with `--ray` on a
two-node Ray cluster on that namespace's loopback, against the same stages run locally.

Checks: the Ray runs write byte-identical outputs and sidecars; a resumed Ray run (output cut mid-file, with
a torn last line) ends with the same files; a run whose replica is killed (ray.kill) mid-run still writes one
row per input, in order, and the same file. Prints one JSON object: what the test asserts on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import sys
import threading
import time
from pathlib import Path

import ray
from ray.cluster_utils import Cluster

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fixtures.data_gen.support import ScriptedOpenAIServer, complete_lines  # noqa: E402

from data_gen import cli  # noqa: E402
from data_gen.backends.base import GenerationConfig  # noqa: E402
from data_gen.stages.sample import run_sample  # noqa: E402

SEEDS = 40
QUESTIONS = 60


def write_inputs(folder: Path) -> dict[str, Path]:
    """Seeds and their replayed synthesis replies (every 5th unusable: rejected); questions and samples."""
    seeds, synth, questions, samples = [], [], [], []
    for i in range(SEEDS):
        program = f"def add_{i}(x):\n    return x + {i}\n"
        seeds.append({"id": f"s{i}", "source": "oss", "instruction": f"Add {i}.", "program": program})
        tests = [f"assert add_{i}({k}) == {k + i}" for k in range(6)]
        reply = "no JSON here" if i % 5 == 4 else json.dumps({"question": f"Return x + {i}.", "tests": tests})
        synth.append({"match": f"def add_{i}(", "reply": reply})
    for i in range(QUESTIONS):
        tests = [f"assert add_{i}({k}) == {k + i}" for k in range(3)]
        questions.append({"id": f"q{i}", "source": "oss", "question": f"Return x + {i}.", "tests": tests})
        replies = [f"\ndef add_{i}(x):\n    return x + {i}\n```", f"\ndef add_{i}(x):\n    return {i}\n```"]
        samples.append({"match": f"Return x + {i}.", "replies": replies})
    paths = {}
    tables = {"seeds": seeds, "synth_replies": synth, "questions": questions, "sample_replies": samples}
    for name, rows in tables.items():
        paths[name] = folder / f"{name}.jsonl"
        paths[name].write_text("".join(json.dumps(row) + "\n" for row in rows))
    return paths


def files(output: Path) -> tuple[bytes, bytes]:
    """An output and its `.rejected.jsonl` sidecar, as bytes."""
    sidecar = output.with_name(output.name.replace(".jsonl", ".rejected.jsonl"))
    return output.read_bytes(), sidecar.read_bytes() if sidecar.exists() else b""


def tear(output: Path, keep: int) -> None:
    """Keep `keep` complete lines and half of the next (a torn write), as a killed run leaves the file."""
    lines = output.read_bytes().splitlines(keepends=True)
    output.write_bytes(b"".join(lines[:keep]) + lines[keep][: len(lines[keep]) // 2])


def stage_runs(stage: str, args: list[str], folder: Path, address: str) -> dict[str, bool]:
    """Local vs --ray, then a torn --ray output resumed with --ray: same files each time."""
    command = getattr(cli, stage.replace("-", "_"))
    local, on_ray = folder / f"{stage}.local.jsonl", folder / f"{stage}.ray.jsonl"
    assert command([*args, "--output", str(local)]) == 0
    assert command([*args, "--output", str(on_ray), "--ray", address]) == 0
    same = files(local) == files(on_ray)
    tear(on_ray, keep=7)
    assert command([*args, "--output", str(on_ray), "--ray", address]) == 0
    return {f"{stage}_matches_local": same, f"{stage}_resumed_matches_local": files(local) == files(on_ray)}


def backend_error(paths: dict[str, Path], folder: Path, address: str) -> dict[str, object]:
    """A replica's GenerationError (no recorded reply) ends `--ray` with exit 1 and the backend's own line."""
    args = ["--input", str(paths["seeds"]), "--output", str(folder / "bad.jsonl"), "--no-progress"]
    args += ["--backend", "replay", "--replay-file", str(paths["sample_replies"]), "--ray", address]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli.synth_tests(args)
    last = err.getvalue().strip().splitlines()[-1]
    return {"error_exit": code, "error_line": last}


def kill_run(folder: Path, paths: dict[str, Path], address: str) -> dict[str, object]:
    """sample over the OpenAI backend (a slow local server); one of two replicas is killed mid-run."""
    os.environ["OPENAI_API_KEY"] = "sk-test"
    script = [("Return x + ", [{"content": "\ndef f(x):\n    return x\n```"}])]
    with ScriptedOpenAIServer(script, api_key="sk-test", delay_s=0.05) as server:
        generation = GenerationConfig(
            backend="openai", model="m", base_url=server.url, concurrency=1, batch_size=2, max_retries=0
        )
        local, on_ray = folder / "kill.local.jsonl", folder / "kill.ray.jsonl"
        run_sample(paths["questions"], local, generation, progress=False)
        ray.init(address=address)  # this driver's connection: the pool uses it, and the killer finds replicas
        seen: dict[str, object] = {}

        def kill_one() -> None:
            while complete_lines(on_ray) < 3:
                time.sleep(0.01)
            names = sorted(n for n in ray.util.list_named_actors() if n.startswith("acecoder-sample-"))
            ray.kill(ray.get_actor(names[-1]))
            seen.update(replicas=len(names), lines_at_kill=complete_lines(on_ray))

        killer = threading.Thread(target=kill_one, daemon=True)
        killer.start()
        stats = run_sample(
            paths["questions"],
            on_ray,
            dataclasses.replace(generation, ray=address, replicas=2),
            progress=False,
        )
        killer.join(timeout=30)
        ray.shutdown()
    ids = [json.loads(line)["id"] for line in on_ray.read_text().splitlines()]
    return {
        **seen,
        "kill_ids_in_order": ids == [f"q{i}" for i in range(QUESTIONS)],
        "kill_matches_local": files(local) == files(on_ray),
        "kill_notes": stats.notes,
    }


def main(scratch: str) -> None:
    """Every check; see the module docstring."""
    folder = Path(scratch)
    paths = write_inputs(folder)
    timings: dict[str, float] = {}
    started = time.monotonic()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    timings["cluster"] = time.monotonic() - started
    report: dict[str, object] = {}
    common = ["--no-progress", "--backend", "replay", "--batch-size", "3"]
    synth = ["--input", str(paths["seeds"]), "--replay-file", str(paths["synth_replies"]), *common]
    report.update(stage_runs("synth-tests", synth, folder, cluster.address))
    timings["synth"] = time.monotonic() - started - sum(timings.values())
    sample = ["--input", str(paths["questions"]), "--replay-file", str(paths["sample_replies"]), "--n", "3"]
    report.update(stage_runs("sample", [*sample, *common], folder, cluster.address))
    timings["sample"] = time.monotonic() - started - sum(timings.values())
    report.update(backend_error(paths, folder, cluster.address))
    report.update(kill_run(folder, paths, cluster.address))
    timings["kill"] = time.monotonic() - started - sum(timings.values())
    cluster.shutdown()
    report["seconds"] = {k: round(v, 1) for k, v in timings.items()}
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
