"""The tiny RM run reproduces the metrics it had before the trainer moved onto train/.

The pinned rows were written on one machine; XLA's CPU kernels differ with the CPU's vector ISA (AVX2 vs
AVX-512), so on another machine the same program differs in the last bits of its reductions. Everything
discrete (steps, splits, learning rates, accuracies) must match exactly and every loss-side float to 1e-4
relative (a real change of the program, e.g. a wrong normalisation, moves them by percents). The chosen and
rejected rewards are compared through their margin only: the Bradley-Terry loss ignores a shift shared by
both, so that shift follows Adam-amplified rounding (measured: 5.8e-4 on an AMD EPYC while margins agree to
9e-8).
"""

from __future__ import annotations

import numpy as np
import pytest
from rm_golden import golden_run, read_golden

SHIFT_ONLY = frozenset({"chosen_reward", "rejected_reward"})


@pytest.mark.slow
def test_tiny_rm_run_reproduces_its_pinned_metrics(tmp_path):
    got, want = golden_run(tmp_path / "run"), read_golden()
    assert [(r["step"], r.get("split", "train")) for r in got] == [
        (r["step"], r.get("split", "train")) for r in want
    ]
    for got_row, want_row in zip(got, want):
        assert got_row.keys() == want_row.keys()
        for key, value in want_row.items():
            if key in SHIFT_ONLY:
                continue
            if isinstance(value, float) and key not in ("lr", "accuracy"):
                np.testing.assert_allclose(got_row[key], value, rtol=1e-4, atol=1e-9, err_msg=key)
            else:
                assert got_row[key] == value, key
