"""The tiny RM run reproduces, bit for bit, the metrics it had before the trainer moved onto train/."""

from __future__ import annotations

import pytest
from rm_golden import golden_run, read_golden


@pytest.mark.slow
def test_tiny_rm_run_reproduces_its_pinned_metrics_exactly(tmp_path):
    got, want = golden_run(tmp_path / "run"), read_golden()
    assert [(r["step"], r.get("split", "train")) for r in got] == [
        (r["step"], r.get("split", "train")) for r in want
    ]
    for got_row, want_row in zip(got, want):
        assert got_row == want_row  # floats compared exactly: same program, same reductions, same order
