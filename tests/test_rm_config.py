"""train-rm configuration: the paper recipe files, unknown keys, bad rows and impossible batch layouts."""

from __future__ import annotations

import json

import pytest
from rm_runs import ROOT, tiny_config

from acecoder_jax.cli import main as acecoder
from acecoder_jax.common.config import load_config
from acecoder_jax.rm.config import RMConfig
from acecoder_jax.rm.trainer import RMConfigError, train


def test_paper_recipes_load_with_the_paper_values():
    for name, max_length in (("qwen25_coder_7b", 2048), ("qwen25_coder_32b", 1024)):
        cfg = load_config(RMConfig, ROOT / "configs" / "rm" / f"{name}.yaml")
        assert (cfg.train.lr, cfg.train.warmup_ratio, cfg.train.batch_size, cfg.train.steps) == (
            1e-5,
            0.1,
            128,
            None,
        )
        assert (cfg.data.max_length, cfg.data.val_size, cfg.dtype) == (max_length, 0.005, "bfloat16")
        assert cfg.train.batch_size % cfg.train.micro_batch_size == 0
    tiny = load_config(
        RMConfig, ROOT / "configs" / "rm" / "tiny_cpu.yaml", ["train.lr=2e-5", "mesh.tensor=2"]
    )
    assert tiny.train.lr == 2e-5 and tiny.mesh.tensor == 2 and tiny.model == "tiny"


def test_an_unknown_key_fails_listing_the_valid_keys(capsys):
    assert acecoder(["train-rm", "--config", str(ROOT / "configs/rm/tiny_cpu.yaml"), "train.lrate=1e-4"]) == 2
    err = capsys.readouterr().err
    assert "unknown key(s) train.lrate" in err and "valid keys under train:" in err
    for key in ("batch_size", "micro_batch_size", "lr", "warmup_ratio", "grad_clip", "margin", "remat"):
        assert key in err


def test_a_bad_row_stops_the_run_naming_file_row_and_field(tmp_path, capsys):
    rows = [
        json.loads(line)
        for line in (ROOT / "tests/fixtures/rm_pairs_tiny.jsonl").read_text().splitlines()[:40]
    ]
    del rows[17]["rejected"]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["train-rm", "--config", str(ROOT / "configs/rm/tiny_cpu.yaml"), f"run_dir={tmp_path / 'run'}"]
    assert acecoder([*args, f"data.train={data}", "data.eval=null"]) == 1
    err = capsys.readouterr().err
    assert f"{data}:18: missing field 'rejected'" in err and "data.on_bad_row=skip" in err


def test_batch_sizes_that_do_not_fit_the_mesh_fail_before_any_work(tmp_path):
    with pytest.raises(
        RMConfigError, match=r"micro_batch_size=12 is not a multiple of the data-parallel size 8"
    ):
        train(
            tiny_config(
                tmp_path / "run",
                "train.batch_size=24",
                "train.micro_batch_size=12",
                "mesh.data=8",
                "mesh.fsdp=1",
            )
        )
    with pytest.raises(RMConfigError, match=r"batch_size=16 is not a multiple of train\.micro_batch_size=24"):
        train(tiny_config(tmp_path / "run", "train.micro_batch_size=24"))
