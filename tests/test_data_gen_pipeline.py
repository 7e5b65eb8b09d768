"""`acecoder pipeline` on the tiny CPU config: every stage and per-stage caching; data_gen never loads jax."""

import json
import subprocess
import sys

import pytest
from fixtures.data_gen.support import REPO, read_rows

from acecoder_jax.common.config import load_config
from data_gen import cli
from data_gen.config import PipelineConfig
from data_gen.stages.runner import PipelineError, run_pipeline

TINY = REPO / "configs" / "data" / "tiny_cpu.yaml"


def test_tiny_pipeline_runs_every_stage_then_caches(tmp_path, capsys):
    overrides = [
        f"output_dir={tmp_path}",
        "progress=false",
        "sample.generation.max_tokens=6",
        "sample.generation.n=2",
    ]
    assert cli.pipeline(["--config", str(TINY), *overrides]) == 0
    err = capsys.readouterr().err
    for stage in ("synth_tests", "filter_tests", "sample", "score", "pairs", "hard_subset", "test_strength"):
        assert f"\n{stage:<15} ran " in err  # the time breakdown lists every stage
    assert [r["id"] for r in read_rows(tmp_path / "synth.jsonl")] == [
        "evol_0",
        "stack_1",
        "oss_2",
        "stack_4",
        "oss_5",
    ]
    assert read_rows(tmp_path / "synth.rejected.jsonl")[0]["id"] == "evol_3"  # the garbage reply
    filtered = {r["id"]: r for r in read_rows(tmp_path / "filtered.jsonl")}
    assert sorted(filtered) == ["evol_0", "oss_2", "oss_5", "stack_1"]
    assert len(filtered["evol_0"]["tests"]) == 6  # the wrong `add_numbers(2, 2) == 5` test was dropped
    assert len(filtered["stack_1"]["tests"]) == 8  # the truncated reply was repaired, torn 9th test gone
    (dropped,) = read_rows(tmp_path / "filtered.rejected.jsonl")
    assert dropped["id"] == "stack_4" and dropped["reason"] == "oracle passed 3 <= 3 tests"
    acecode = read_rows(tmp_path / "acecode.jsonl")
    assert [len(r["inferences"]) for r in acecode] == [2, 2, 2, 2]
    assert all(0.0 <= i["pass_rate"] <= 1.0 for r in acecode for i in r["inferences"])
    strength = {r["id"]: r for r in read_rows(tmp_path / "test_strength.jsonl")}
    assert set(strength) == set(filtered) and all(r["mutants"] > 0 for r in strength.values())
    assert (tmp_path / "contamination.jsonl.report.md").read_text().startswith("# Contamination report")

    assert cli.pipeline(["--config", str(TINY), *overrides]) == 0
    assert capsys.readouterr().err.count(": cached (") == 8
    # changed settings under existing outputs: refuse, naming the file, instead of mixing rows
    assert cli.pipeline(["--config", str(TINY), *overrides, "pairs.strict=true"]) == 2
    assert f"{tmp_path / 'pairs.jsonl'} was made with other settings" in capsys.readouterr().err


def test_pipeline_config_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="unknown stage"):
        load_config(PipelineConfig, TINY, ["stages=[synth_tests, nope]"])
    with pytest.raises(ValueError, match="unknown key"):
        load_config(PipelineConfig, TINY, ["sample.generation.temprature=1"])
    config = load_config(PipelineConfig, TINY, [f"output_dir={tmp_path}", "stages=[score]"])
    with pytest.raises(PipelineError, match=r"needs .*samples\.jsonl, which does not exist"):
        run_pipeline(config, log=lambda _: None)


def test_paper_config_holds_the_paper_settings():
    config = load_config(PipelineConfig, REPO / "configs" / "data" / "paper.yaml")
    synth, oracle, sampler = config.synth.generation, config.filter.oracle, config.sample.generation
    assert (synth.model, synth.temperature, synth.max_tokens) == ("gpt-4o-mini", 0.7, 8192)
    assert (oracle.model, oracle.temperature) == ("Qwen/Qwen2.5-Coder-32B-Instruct", 0.0)
    assert (sampler.model, sampler.n, sampler.temperature, sampler.top_p, sampler.max_tokens) == (
        "Qwen/Qwen2.5-Coder-7B-Instruct",
        16,
        0.7,
        1.0,
        1024,
    )
    assert (config.filter.max_oracle_passes_skipped, config.filter.min_tests) == (3, 5)
    assert (config.pairs.min_chosen, config.pairs.min_gap, config.pairs.strict) == (0.8, 0.4, False)


def test_data_gen_never_imports_jax(tmp_path):
    row = {
        "id": "q",
        "question": "Q",
        "test_cases": ["assert f() == 1"],
        "inferences": [
            {"model_name": "m", "completion_id": 0, "completion": "a", "pass_rate": 1.0},
            {"model_name": "m", "completion_id": 1, "completion": "b", "pass_rate": 0.5},
        ],
    }
    source = tmp_path / "acecode.jsonl"
    source.write_text(json.dumps(row) + "\n")
    code = (
        "import sys\n"
        "import data_gen.cli as cli\n"
        f"args = ['--input', {str(source)!r}, '--no-progress', '--output']\n"
        f"assert cli.pairs([*args, {str(tmp_path / 'p.jsonl')!r}]) == 0\n"
        f"assert cli.hard_subset([*args, {str(tmp_path / 'h.jsonl')!r}]) == 0\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'jaxlib', 'flax', 'torch'))\n"
        "print(heavy)\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert len(read_rows(tmp_path / "p.jsonl")) == 1
