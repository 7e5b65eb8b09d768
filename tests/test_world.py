"""The policy world: deterministic, three splits sharing no (family, params), references pass real tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from acecoder_jax.common.code_extract import extract_code
from acecoder_jax.common.prompts import PAIR_RESPONSE_PREFIX, SAMPLING_PREFILL, sampling_instruction
from acecoder_jax.common.schemas import iter_acecode, iter_seeds
from acecoder_jax.world import FAMILIES, WorldError, build_world, ensure_world
from acecoder_jax.world.cli import main as world_main
from acecoder_jax.world.rows import params_key
from executor import Executor


@pytest.fixture(scope="module")
def world():
    return build_world(0)


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    return ensure_world(tmp_path_factory.mktemp("w") / "world", seed=0)


def test_same_seed_same_world_other_seed_other_phrasing(world):
    assert build_world(0) == world
    other = build_world(1)
    assert [p.question for p in other.train] != [p.question for p in world.train]


def test_splits_share_no_family_params_and_unseen_values_are_seen_in_train(world):
    keys = {
        split: {(p.family, params_key(p)) for p in getattr(world, split)}
        for split in ("train", "fresh", "heldout")
    }
    assert all(len(keys[split]) == len(getattr(world, split)) for split in keys)
    assert not keys["train"] & keys["heldout"] and not keys["train"] & keys["fresh"]
    assert not keys["fresh"] & keys["heldout"]
    for problem in world.fresh + world.heldout:
        for key, value in problem.params.items():
            uses = sum(p.family == problem.family and p.params[key] == value for p in world.train)
            assert uses >= 2, (problem.id, key, value)


def test_the_fresh_split_left_the_heldout_problems_as_they_were(world):
    without_fresh = build_world(0, fresh_fraction=0.0)
    assert without_fresh.fresh == [] and without_fresh.heldout == world.heldout
    assert sorted(p.id for p in without_fresh.train) == sorted(p.id for p in world.train + world.fresh)


def test_sizes_and_every_family_has_heldout_problems(world):
    assert len(FAMILIES) >= 12
    assert 500 <= len(world.train) <= 3000 and len(world.heldout) >= 100 and len(world.fresh) >= 150
    assert {p.family for p in world.heldout} == {p.family for p in world.fresh} == {f.name for f in FAMILIES}
    ids = [p.id for p in world.train + world.fresh + world.heldout]
    assert len(set(ids)) == len(ids)


def test_every_reference_passes_all_its_tests_in_the_executor(world):
    problems = world.train + world.fresh + world.heldout
    jobs = [{"id": p.id, "program": p.reference, "tests": p.tests} for p in problems]
    with Executor(workers=2, timeout_s=5.0) as ex:
        results = ex.run(jobs)
    failed = [(r.id, r.status, r.pass_rate) for r in results if r.status != "ok" or r.pass_rate != 1.0]
    assert not failed
    assert all(r.tests and all(t.mode == "split" for t in r.tests) for r in results)  # judged by the parent


def test_tests_reject_a_program_that_returns_one_constant(world):
    problems = world.heldout[::4]
    jobs = []
    for p in problems:
        first_expected = p.tests[0].split(" == ", 1)[1]
        jobs.append(
            {"id": p.id, "program": f"def {p.fn}(*args):\n    return {first_expected}", "tests": p.tests}
        )
    with Executor(workers=2, timeout_s=5.0) as ex:
        results = ex.run(jobs)
    assert all(0 < r.pass_rate < 1 for r in results)


def test_files_follow_the_data_contracts(world_dir, world):
    train = list(iter_acecode(world_dir / "train.jsonl"))
    heldout = list(iter_acecode(world_dir / "heldout.jsonl"))
    fresh = list(iter_acecode(world_dir / "fresh.jsonl"))
    assert [r.id for r in train] == [p.id for p in world.train]
    assert [r.id for r in fresh] == [p.id for p in world.fresh]
    assert [r.id for r in heldout] == [p.id for p in world.heldout]
    row = json.loads((world_dir / "train.jsonl").read_text().splitlines()[0])
    assert list(row)[:6] == ["id", "source", "question", "test_cases", "inferences", "context_messages"]
    assert row["inferences"] == [] and row["source"] == "world"
    assert row["context_messages"] == [{"content": row["question"], "role": "user"}]
    assert row["reference"] == world.train[0].reference
    seeds = list(iter_seeds(world_dir / "seeds.jsonl"))  # the fresh split: questions SFT never saw
    assert [(s.id, s.program, s.instruction) for s in seeds] == [
        (p.id, p.reference, p.question) for p in world.fresh
    ]
    manifest = json.loads((world_dir / "world.json").read_text())
    counts = (manifest["seed"], manifest["train"], manifest["fresh"], manifest["heldout"])
    assert counts == (0, len(train), len(fresh), len(heldout))


def test_sft_rows_are_the_sampling_prompt_and_the_released_answer_format(world_dir, world):
    rows = [json.loads(line) for line in (world_dir / "sft.jsonl").read_text().splitlines()]
    assert len(rows) == len(world.train)
    for row, problem in zip(rows, world.train):
        user, assistant = row["messages"]
        assert user == {"role": "user", "content": sampling_instruction(problem.question, problem.tests)}
        assert assistant["role"] == "assistant"
        assert assistant["content"] == PAIR_RESPONSE_PREFIX + problem.reference + "\n```"
        # What the sample stage extracts from a reply that continues its prefill is the reference.
        reply = assistant["content"][len(SAMPLING_PREFILL) :]
        assert extract_code(SAMPLING_PREFILL + reply) == problem.reference


def test_ensure_world_reuses_and_refuses_another_seed(world_dir, tmp_path):
    before = (world_dir / "train.jsonl").stat().st_mtime_ns
    assert ensure_world(world_dir, seed=0) == world_dir
    assert (world_dir / "train.jsonl").stat().st_mtime_ns == before
    with pytest.raises(WorldError, match="seed 0"):
        ensure_world(world_dir, seed=1)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("x")
    with pytest.raises(WorldError, match="not empty"):
        ensure_world(tmp_path / "busy")


def test_cli_writes_the_world_and_is_registered(tmp_path, capsys):
    assert world_main(["--out", str(tmp_path / "w"), "--seed", "3"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["seed"] == 3 and printed["train"] > 0
    names = (
        "train.jsonl",
        "fresh.jsonl",
        "heldout.jsonl",
        "seeds.jsonl",
        "sft.jsonl",
        "tokenizer",
        "world.json",
    )
    assert all((tmp_path / "w" / name).exists() for name in names)
    assert world_main(["--out", str(tmp_path / "w"), "--seed", "4"]) == 1
    help_text = subprocess.run(
        [sys.executable, "-m", "acecoder_jax.cli"], capture_output=True, text=True, check=True
    ).stdout
    assert "world" in help_text


def test_world_imports_without_jax_or_torch():
    code = (
        "import sys, acecoder_jax.world, acecoder_jax.world.cli\n"
        "acecoder_jax.world.build_world(0)\n"
        "bad = [m for m in ('jax', 'torch', 'flax') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
