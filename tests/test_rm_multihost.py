"""Multi-host for real: the tiny run as 2 processes x 4 CPU devices equals 1 process x 8 devices, and
checkpoints move between the two (each process feeding only its own rows)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from multihost import PROCESSES, run_processes
from rm_runs import ROOT, reference_run, tiny_config

from acecoder_jax.rm.trainer import train
from acecoder_jax.train.metrics import read_metrics

MESH = ("mesh.data=8", "mesh.fsdp=1", "mesh.tensor=1")  # the data axis spans both processes' devices


def _two_processes(run_dir: Path) -> None:
    run_processes(ROOT / "tests" / "trainer_multihost.py", ["rm", str(run_dir), *MESH], PROCESSES)


def _series(run_dir: Path, key: str) -> list[float]:
    return [row[key] for row in read_metrics(run_dir / "metrics.jsonl")]


def _assert_same_losses(got: Path, want: Path) -> None:
    assert [r["step"] for r in read_metrics(got / "metrics.jsonl")] == list(range(1, 7))
    for key in ("loss", "grad_norm", "margin"):
        # Only the order of fp32 reductions (gloo all-reduce vs in-process) may differ.
        np.testing.assert_allclose(_series(got, key), _series(want, key), rtol=2e-5, atol=1e-6, err_msg=key)
    assert _series(got, "accuracy") == _series(want, "accuracy")
    assert _series(got, "lr") == _series(want, "lr")


def _keep_checkpoints_up_to(run_dir: Path, step: int) -> None:
    """As if the run had been killed after checkpoint `step`."""
    for path in (run_dir / "checkpoints").iterdir():
        if path.name.isdigit() and int(path.name) > step:
            shutil.rmtree(path)


@pytest.mark.slow
def test_two_processes_match_one_and_checkpoints_restore_across_process_counts(tmp_path):
    reference = reference_run((8, 1, 1))
    two = tmp_path / "two"
    _two_processes(two)
    _assert_same_losses(two, reference)

    # written by 2 processes, resumed by 1
    _keep_checkpoints_up_to(two, 2)
    summary = train(tiny_config(two, *MESH))
    assert summary["finished"]
    _assert_same_losses(two, reference)

    # written by 1 process, resumed by 2
    one = tmp_path / "one"
    shutil.copytree(reference, one)
    _keep_checkpoints_up_to(one, 4)
    _two_processes(one)
    _assert_same_losses(one, reference)
