"""pass@k, RM@N / oracle@N from one pool, reranking, and the markdown + PNG report."""

import itertools
from fractions import Fraction
from math import comb

import numpy as np
import pytest

from acecoder_jax.eval.metrics import ProblemOutcome, benchmark_metrics, default_ns, problem_metrics
from acecoder_jax.eval.pass_at_k import expected_best_of_k, pass_at_k
from acecoder_jax.eval.report import markdown_table, plot
from acecoder_jax.eval.rerank import best_index, rerank


@pytest.mark.parametrize(
    ("n", "c", "k"), [(10, 3, 1), (10, 3, 5), (64, 1, 16), (64, 60, 8), (200, 17, 100), (5, 0, 3)]
)
def test_pass_at_k_matches_the_closed_form(n, c, k):
    exact = 1 - Fraction(comb(n - c, k), comb(n, k))
    assert pass_at_k(n, c, k) == pytest.approx(float(exact), abs=1e-12)


def test_pass_at_k_edge_cases():
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(4, 2, 3) == 1.0  # every 3-subset holds a correct one
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_expected_best_of_k_equals_brute_force_over_all_subsets():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(1, 9))
        scores = rng.normal(size=n).round(1).tolist()  # rounding makes ties happen
        correct = rng.integers(0, 2, size=n).tolist()
        for k in range(1, n + 1):
            picks = []
            for subset in itertools.combinations(range(n), k):
                picks.append(correct[min(subset, key=lambda i: (-scores[i], i))])
            assert expected_best_of_k(scores, correct, k) == pytest.approx(np.mean(picks), abs=1e-12)


def test_rerank_picks_the_highest_score():
    assert best_index([0.1, 2.5, -1.0, 2.4]) == 1
    assert best_index([1.0, 3.0, 3.0]) == 1  # first on ties
    assert rerank(["a", "b", "c"], [-3.0, -1.0, -2.0]) == "b"
    with pytest.raises(ValueError):
        rerank(["a"], [1.0, 2.0])


def test_problem_metrics_from_one_pool():
    outcome = ProblemOutcome(
        "he", "t", correct=[False, True, False, False], scores=[0.9, 0.5, 0.1, 0.0], greedy_correct=True
    )
    metrics = problem_metrics(outcome, [1, 2, 4])
    assert metrics["greedy"] == 1.0
    assert metrics["average@4"] == 0.25
    assert metrics["oracle@1"] == pytest.approx(0.25) and metrics["oracle@4"] == 1.0
    assert metrics["rm@4"] == 0.0  # the top-scored sample is wrong
    assert metrics["rm@1"] == pytest.approx(0.25)  # one random sample: the average
    # N=2: the right one (rank 1) is picked when drawn with one of the two lower ones: 2 of 6 pairs.
    assert metrics["rm@2"] == pytest.approx(2 / 6)


def test_benchmark_table_averages_problems_then_benchmarks(tmp_path):
    outcomes = [
        ProblemOutcome("a", "1", [True, True], [1.0, 0.0], True),
        ProblemOutcome("a", "2", [False, False], [1.0, 0.0], False),
        ProblemOutcome("b", "1", [True, False], [0.0, 1.0], False),
    ]
    ns = default_ns(2)
    assert ns == [1, 2] and default_ns(64) == [1, 2, 4, 8, 16, 32, 64]
    table = benchmark_metrics(outcomes, ns)
    assert table["a"]["greedy"] == 50.0 and table["b"]["greedy"] == 0.0
    assert table["average"]["greedy"] == 25.0
    assert table["b"]["rm@2"] == 0.0 and table["b"]["oracle@2"] == 100.0
    text = markdown_table(table)
    lines = text.splitlines()
    assert lines[0] == "| method | a | b | average |"
    assert [line.split(" | ")[0] for line in lines[2:]] == [
        "| greedy",
        "| average@2",
        "| RM@1",
        "| RM@2",
        "| oracle@1",
        "| oracle@2",
    ]
    assert "| greedy | 50.0 | 0.0 | 25.0 |" in lines
    png = tmp_path / "plot.png"
    plot(table, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
