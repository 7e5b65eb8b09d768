"""synth-tests and sample with `--ray`: the replica plan (vllm GPU groups), the shared ordered actor map,
the streaming loop with batches in flight, and (in a loopback-only network namespace) a real Ray cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.data_gen.support import FIXTURES, read_rows
from netns import loopback_namespace

from data_gen.backends.base import GenerationConfig
from data_gen.ray_generation import ReplicaPlan, replica_plan
from data_gen.stages.filter_tests import FilterOptions, run_filter_tests
from data_gen.stages.streaming import OK, REJECTED, run_stage
from executor.config import ExecutorConfig
from executor.ray_map import ActorsLost, ordered_actor_map

ROOT = Path(__file__).resolve().parent.parent


def _node(gpus: int = 0, cpus: int = 8, alive: bool = True) -> dict:
    return {"Alive": alive, "Resources": {"CPU": float(cpus), **({"GPU": float(gpus)} if gpus else {})}}


def test_vllm_plan_is_one_replica_per_gpu_group():
    vllm = GenerationConfig(backend="vllm", model="m", tensor_parallel=2)
    cases = [
        ([_node(8)], 4),
        ([_node(4), _node(4)], 4),
        ([_node(4), _node(3), _node(1), _node(8, alive=False)], 3),
    ]
    for nodes, count in cases:
        assert replica_plan(vllm, nodes) == ReplicaPlan(count, {"num_gpus": 2})
    assert replica_plan(GenerationConfig(backend="vllm", model="m"), [_node(8)]).count == 8
    three = GenerationConfig(backend="vllm", model="m", tensor_parallel=2, replicas=3)
    assert replica_plan(three, [_node(8)]).count == 3
    with pytest.raises(
        ValueError, match=r"tensor_parallel=2: each replica needs 2 GPU\(s\) on one node.*\[0, 0\]"
    ):
        replica_plan(vllm, [_node(0), _node(0)])
    with pytest.raises(ValueError, match="--replicas 5 asked for, but the cluster's GPUs hold only 4"):
        replica_plan(GenerationConfig(backend="vllm", model="m", tensor_parallel=2, replicas=5), [_node(8)])


def test_cpu_backends_get_one_replica_per_node_or_the_count_asked_for():
    for backend in ("openai", "replay", "transformers"):
        plan = replica_plan(GenerationConfig(backend=backend, device="cpu"), [_node(cpus=4), _node(cpus=4)])
        assert plan.count == 2 and plan.options == {"num_cpus": 1, "scheduling_strategy": "SPREAD"}
    assert replica_plan(GenerationConfig(replicas=6), [_node(cpus=4), _node(cpus=4)]).count == 6
    with pytest.raises(ValueError, match="9 replica"):
        replica_plan(GenerationConfig(replicas=9), [_node(cpus=4), _node(cpus=4)])
    cuda = replica_plan(GenerationConfig(backend="transformers", device="cuda"), [_node(2), _node(1)])
    assert (cuda.count, cuda.options) == (3, {"num_gpus": 1})


class _Died(Exception):
    pass


def _fake_ray(dead: set[int]):
    """Just enough of `ray` for ordered_actor_map: refs finish last-sent first; a dead actor's refs raise."""

    def wait(pending, num_returns):
        return [pending[-1]], pending[:-1]

    def get(ref):
        actor, item = ref
        if actor in dead:
            raise _Died(actor)
        return item * 10

    exceptions = types.SimpleNamespace(RayActorError=_Died, ActorUnavailableError=_Died)
    return types.SimpleNamespace(wait=wait, get=get, exceptions=exceptions)


def test_ordered_actor_map_yields_in_order_once_and_resends_a_dead_actors_items():
    ray = _fake_ray(dead={1})
    resent: list[int] = []
    calls: list[tuple[int, int]] = []

    def call(actor, item):
        calls.append((actor, item))
        return (actor, item)

    out = list(ordered_actor_map(ray, [0, 1, 2], call, iter(range(20)), on_resend=resent.append))
    assert out == [(i, i * 10) for i in range(20)]
    on_dead = [item for actor, item in calls if actor == 1]
    assert on_dead and sorted(resent) == on_dead, "each item sent to the dead actor is re-sent, once"
    assert all((0, item) in calls or (2, item) in calls for item in on_dead), "...to a live actor"
    with pytest.raises(ActorsLost):
        list(ordered_actor_map(_fake_ray(dead={0, 1}), [0, 1], call, iter(range(5))))


def test_run_stage_with_batches_in_flight_writes_what_the_local_loop_writes(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": f"r{i}", "x": i}) + "\n" for i in range(23)))

    def process(batch):
        return [[(OK if row["x"] % 4 else REJECTED, {**row, "y": row["x"] * 2})] for _, row in batch]

    def all_ahead(batches: Iterator) -> Iterator:  # the most look-ahead a pool could take
        every = list(batches)
        yield from ((batch, process(batch)) for batch in every)

    def run(output: Path, **how) -> tuple[str, str]:
        run_stage(name="t", input_path=source, output_path=output, batch_size=3, progress=False, **how)
        return output.read_text(), output.with_name(output.stem + ".rejected.jsonl").read_text()

    local = run(tmp_path / "local.jsonl", process=process)
    assert run(tmp_path / "many.jsonl", process_many=all_ahead) == local
    torn = tmp_path / "many.jsonl"
    torn.write_text(local[0][: local[0].index("r9") + 3])  # mid-line: a torn write
    assert run(torn, process_many=all_ahead) == local
    with pytest.raises(TypeError, match="exactly one"):
        run(tmp_path / "x.jsonl", process=process, process_many=all_ahead)


def test_local_runs_never_import_ray(tmp_path):
    argv = ["--input", str(FIXTURES / "seeds.jsonl"), "--output", str(tmp_path / "o.jsonl"), "--no-progress"]
    argv += ["--backend", "replay", "--replay-file", str(FIXTURES / "synth_replies.jsonl")]
    script = (
        f"import sys\nfrom data_gen import cli\ncode = cli.synth_tests({argv!r})\n"
        "assert code == 0 and 'ray' not in sys.modules, sorted(m for m in sys.modules if 'ray' in m)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(read_rows(tmp_path / "o.jsonl")) == 5


def test_filter_tests_refuses_ray_on_the_oracle(tmp_path):
    oracle = GenerationConfig(backend="replay", ray="auto")
    with pytest.raises(ValueError, match="oracle model runs in this process"):
        run_filter_tests(
            tmp_path / "in.jsonl", tmp_path / "out.jsonl", FilterOptions(), ExecutorConfig(), oracle
        )


@pytest.fixture
def netns() -> Iterator[str]:
    with loopback_namespace("dgray") as name:
        yield name


@pytest.mark.slow
def test_synth_and_sample_on_a_ray_cluster_match_local_resume_and_survive_a_killed_replica(netns, tmp_path):
    pytest.importorskip("ray")
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            netns,
            sys.executable,
            str(ROOT / "tests" / "data_gen_ray_driver.py"),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=400,
        start_new_session=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    for stage in ("synth-tests", "sample"):
        assert report[f"{stage}_matches_local"], f"{stage} --ray writes the local run's output and sidecar"
        assert report[f"{stage}_resumed_matches_local"], f"{stage} --ray resumed after a torn write"
    assert report["error_exit"] == 1
    assert report["error_line"].startswith("acecoder synth-tests: error: replay backend: "), report[
        "error_line"
    ]
    assert "has no reply for" in report["error_line"]
    assert report["replicas"] == 2 and report["lines_at_kill"] < 60, "a replica was killed mid-run"
    assert report["kill_ids_in_order"], "one row per input, in input order"
    assert report["kill_matches_local"]
    assert any("re-sent after a replica died" in note for note in report["kill_notes"]), report["kill_notes"]
