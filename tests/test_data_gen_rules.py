"""The released rules against hand-computed expectations: oracle filter, pass rates, pairs, hard subset."""

import dataclasses
import json

import pytest
from fixtures.data_gen.support import read_rows

from data_gen.row_shards import parse_shard
from data_gen.stages.filter_tests import FilterOptions, run_filter_tests
from data_gen.stages.hard_subset import run_hard_subset
from data_gen.stages.pairs import PairOptions, question_pairs, run_pairs
from data_gen.stages.score import ScoreOptions, run_score
from executor.config import ExecutorConfig

EXECUTOR = ExecutorConfig(workers=2, timeout_s=10.0, memory_mb=512)  # generous: the CI box may be loaded


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_filter_keeps_passed_tests_and_drops_questions_as_released(tmp_path):
    tests = [f"assert double({i}) == {2 * i}" for i in range(6)]
    rows = [
        # passes 5 of 6 -> kept with 5 tests
        {
            "id": "a",
            "question": "q",
            "tests": tests,
            "sol": "def double(x):\n    return 2 * x if x != 5 else 0",
        },
        # passes 4 -> more than 3, but 4 tests < 5: dropped by the second rule
        {
            "id": "b",
            "question": "q",
            "tests": tests,
            "sol": "def double(x):\n    return 2 * x if x < 4 else 0",
        },
        # passes 3 -> dropped by the first rule (oracle passes <= 3)
        {
            "id": "c",
            "question": "q",
            "tests": tests,
            "sol": "def double(x):\n    return 2 * x if x < 3 else 0",
        },
        {"id": "d", "question": "q", "tests": tests, "sol": "def double(x) return"},  # syntax error
    ]
    out = tmp_path / "filtered.jsonl"
    stats = run_filter_tests(
        _write(tmp_path / "in.jsonl", rows),
        out,
        FilterOptions(solution_field="sol"),
        EXECUTOR,
        progress=False,
    )
    assert (stats.written, stats.rejected) == (1, 3)
    (kept,) = read_rows(out)
    assert kept["id"] == "a" and kept["tests"] == tests[:5] and kept["original_tests"] == tests
    assert kept["oracle_passes"] == 5
    reasons = {r["id"]: r["reason"] for r in read_rows(tmp_path / "filtered.rejected.jsonl")}
    assert reasons == {
        "b": "4 tests left < 5",
        "c": "oracle passed 3 <= 3 tests",
        "d": "oracle passed 0 <= 3 tests",
    }


def test_score_pass_rates_and_the_released_quirk(tmp_path):
    kept = [f"assert inc({i}) == {i + 1}" for i in range(5)]
    row = {
        "id": "q1",
        "source": "oss",
        "question": "Increment.",
        "tests": kept,
        "original_tests": [*kept, "assert inc(9) == 0", "assert inc(8) == 0", "assert inc(7) == 0"],
        "model_name": "m",
        "samples": [
            {"completion_id": 0, "completion": "def inc(x):\n    return x + 1"},
            {"completion_id": 1, "completion": "def inc(x):\n    return x + 1 if x < 2 else x"},
            {"completion_id": 2, "completion": "def inc(x) return"},
        ],
    }
    source = _write(tmp_path / "samples.jsonl", [row])
    run_score(source, tmp_path / "true.jsonl", EXECUTOR, progress=False)
    run_score(
        source, tmp_path / "released.jsonl", EXECUTOR, ScoreOptions(released_pass_rate=True), progress=False
    )
    (true_row,) = read_rows(tmp_path / "true.jsonl")
    (released_row,) = read_rows(tmp_path / "released.jsonl")
    assert [i["pass_rate"] for i in true_row["inferences"]] == [1.0, 2 / 5, 0.0]
    assert [i["pass_rate"] for i in released_row["inferences"]] == [5 / 8, 2 / 8, 0.0]
    assert true_row["test_cases"] == kept
    assert true_row["context_messages"] == [{"content": "Increment.", "role": "user"}]
    assert list(true_row) == ["id", "source", "question", "test_cases", "inferences", "context_messages"]
    assert true_row["inferences"][0] == {
        "model_name": "m",
        "completion_id": 0,
        "completion": "def inc(x):\n    return x + 1",
        "pass_rate": 1.0,
    }


# Hand-computed: model A sorted by pass rate is p0 1.0, p4 0.8, p3 0.6, p1 0.5, p5 0.3, p2 0.0.
# j=0 walks k from the end: p2 (min 0: no), p5 (+), p1 (+), p3 (gap exactly 0.4: + released,
# - strict), p4 (no);
# j=1 (p4 0.8): p2 no, p5 (+; max exactly 0.8: - strict), p1 (gap 0.3 no), p3 no; j>=2: max < 0.8.
CANDIDATES = [
    ("p0", 1.0, "A"),
    ("p1", 0.5, "A"),
    ("q0", 1.0, "B"),
    ("p2", 0.0, "A"),
    ("p3", 0.6, "A"),
    ("p4", 0.8, "A"),
    ("q1", 0.4, "B"),
    ("p5", 0.3, "A"),
]


def _names(pairs):
    return [(p.chosen, p.rejected) for p in pairs]


def test_pairs_released_rule_by_hand():
    assert _names(question_pairs(CANDIDATES, PairOptions())) == [
        ("p0", "p5"),
        ("p0", "p1"),
        ("p0", "p3"),
        ("p4", "p5"),
        ("q0", "q1"),
    ]


def test_pairs_options_strict_cap_model_and_cross_model():
    assert _names(question_pairs(CANDIDATES, PairOptions(strict=True))) == [
        ("p0", "p5"),
        ("p0", "p1"),
        ("q0", "q1"),
    ]
    assert _names(question_pairs(CANDIDATES, PairOptions(max_pairs_per_question=2))) == [
        ("p0", "p5"),
        ("p0", "p1"),
    ]
    assert _names(question_pairs(CANDIDATES, PairOptions(model="B"))) == [("q0", "q1")]
    # one pool, sorted (stable): p0, q0, p4, p3, p1, q1, p5, p2
    cross = _names(question_pairs(CANDIDATES, PairOptions(cross_model=True)))
    assert cross == [
        ("p0", "p5"),
        ("p0", "q1"),
        ("p0", "p1"),
        ("p0", "p3"),
        ("q0", "p5"),
        ("q0", "q1"),
        ("q0", "p1"),
        ("q0", "p3"),
        ("p4", "p5"),
        ("p4", "q1"),  # 0.8 - 0.4 is exactly 0.4 in floating point
    ]


def test_pairs_dedupe_on_concatenated_program_text_as_released():
    # ("ab", "c") and ("a", "bc") concatenate to the same text: the release keeps only the first.
    candidates = [("ab", 1.0, "m"), ("a", 0.9, "m"), ("c", 0.3, "m"), ("bc", 0.2, "m")]
    assert _names(question_pairs(candidates, PairOptions())) == [("ab", "bc"), ("ab", "c"), ("a", "c")]


def test_a_rejected_program_passing_no_test_pairs_only_when_allowed():
    candidates = [("right", 1.0, "m"), ("wrong", 0.0, "m"), ("half", 0.5, "m")]
    assert _names(question_pairs(candidates, PairOptions())) == [("right", "half")]  # release: rejected > 0
    allowed = PairOptions(rejected_may_fail_all=True)
    both = [("right", "wrong"), ("right", "half")]  # the release's order: lowest rejected first
    assert _names(question_pairs(candidates, allowed)) == both
    assert _names(question_pairs(candidates, dataclasses.replace(allowed, strict=True))) == both


def _acecode(qid, question, rates_by_model, tests=("assert f() == 1",)):
    inferences = []
    for model, rates in rates_by_model.items():
        for rate in rates:
            inferences.append(
                {
                    "model_name": model,
                    "completion_id": len(inferences),
                    "completion": f"{qid}-{len(inferences)}",
                    "pass_rate": rate,
                }
            )
    return {
        "id": qid,
        "source": "s",
        "question": question,
        "test_cases": list(tests),
        "inferences": inferences,
    }


def test_pairs_stage_writes_released_rows_with_metadata_and_skips_non_ascii(tmp_path):
    rows = [
        _acecode("q1", "Add.", {"m": [1.0, 0.5, 0.0]}),
        _acecode("q2", "Añadir.", {"m": [1.0, 0.5]}),  # non-ASCII: skipped as released
    ]
    out = tmp_path / "pairs.jsonl"
    run_pairs(_write(tmp_path / "acecode.jsonl", rows), out, progress=False)
    (pair,) = read_rows(out)
    assert pair["id"] == "q1-0" and pair["question_id"] == "q1"
    assert pair["chosen"].endswith("```python\nq1-0\n```") and pair["rejected"].endswith(
        "```python\nq1-1\n```"
    )
    assert (pair["chosen_pass_rate"], pair["rejected_pass_rate"]) == (1.0, 0.5)
    assert pair["instruction"].endswith('"""\nAdd.\nassert f() == 1\n"""\n\n```\n') and pair["input"] == ""
    run_pairs(tmp_path / "acecode.jsonl", out, PairOptions(skip_non_ascii=False), progress=False)
    assert [r["id"] for r in read_rows(out)] == ["q1-0", "q2-0"]  # rerun: no duplicate, q2 added


def test_hard_subset_by_hand(tmp_path):
    # means 1, 0, .5, .5, .25 -> median .5; low half Q2..Q5 with std 0, .5, .25, .25 -> median .25
    rows = [
        _acecode("Q1", "q", {"m": [1, 1]}),
        _acecode("Q2", "q", {"m": [0, 0]}),
        _acecode("Q3", "q", {"m": [0, 1]}),
        _acecode("Q4", "q", {"m": [0.25, 0.75]}),
        _acecode("Q5", "q", {"m": [0, 0.5], "other": [1, 1, 1]}),
        _acecode("Q6", "q", {}),  # no pass rates: never selected
    ]
    source = _write(tmp_path / "acecode.jsonl", rows)
    stats = run_hard_subset(source, tmp_path / "hard_m.jsonl", _hard("m"), progress=False)
    assert [r["id"] for r in read_rows(tmp_path / "hard_m.jsonl")] == ["Q3", "Q4", "Q5"]
    assert "mean median 0.5, std median 0.25" in stats.summary()
    assert read_rows(tmp_path / "hard_m.jsonl")[0] == rows[2]  # rows are written unchanged
    # all models: Q5 becomes [0, .5, 1, 1, 1] (mean .7): means 1, 0, .5, .5, .7 -> median .5;
    # low Q2, Q3, Q4 with std 0, .5, .25 -> median .25 -> Q3, Q4
    run_hard_subset(source, tmp_path / "hard_all.jsonl", progress=False)
    assert [r["id"] for r in read_rows(tmp_path / "hard_all.jsonl")] == ["Q3", "Q4"]


def _hard(*models):
    from data_gen.stages.hard_subset import HardOptions

    return HardOptions(list(models))


def test_hard_subset_without_any_rates_is_a_clear_error(tmp_path):
    source = _write(tmp_path / "acecode.jsonl", [_acecode("Q1", "q", {})])
    with pytest.raises(ValueError, match="no question has pass rates"):
        run_hard_subset(source, tmp_path / "hard.jsonl", progress=False)


def test_shards_split_a_stage_into_disjoint_parts_that_make_the_whole(tmp_path):
    rows = [_acecode(f"q{i}", "Add.", {"m": [1.0, 0.5, 0.1 * (i % 3)]}) for i in range(12)]
    source = _write(tmp_path / "acecode.jsonl", rows)
    run_pairs(source, tmp_path / "all.jsonl", progress=False)
    parts = []
    for index in range(3):
        part = tmp_path / f"part{index}.jsonl"
        stats = run_pairs(source, part, shard=parse_shard(f"{index}/3"), progress=False)
        assert stats.other_shards > 0
        parts += read_rows(part)
    whole = read_rows(tmp_path / "all.jsonl")
    assert sorted(r["id"] for r in parts) == sorted(r["id"] for r in whole)
    assert len({r["id"] for r in parts}) == len(parts)
