"""The typed config loader: YAML + dotted overrides, unknown keys and bad values rejected clearly."""

from dataclasses import dataclass, field
from typing import Literal

import pytest

from acecoder_jax.common.config import ConfigError, dump_yaml, load_config


@dataclass
class Optim:
    lr: float = 1e-5
    warmup_ratio: float = 0.1
    schedule: Literal["cosine", "linear"] = "cosine"


@dataclass
class Run:
    run_dir: str = "runs/x"
    steps: int | None = None
    remat: bool = False
    sizes: tuple[int, ...] = (1, 2)
    tags: list[str] = field(default_factory=list)
    optim: Optim = field(default_factory=Optim)


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("run_dir: a\noptim:\n  lr: 2e-5\n  schedule: linear\nsizes: [4, 8]\n")
    cfg = load_config(Run, path, ["optim.warmup_ratio=0.03", "steps=7", "remat=true", "tags=[x, y]"])
    assert cfg == Run("a", 7, True, (4, 8), ["x", "y"], Optim(2e-5, 0.03, "linear"))
    dump_yaml(cfg, tmp_path / "out.yaml")
    assert load_config(Run, tmp_path / "out.yaml") == cfg


def test_unknown_key_lists_valid_keys(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  learning_rate: 1\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: unknown key\(s\) optim\.learning_rate.*lr, schedule"):
        load_config(Run, path)
    with pytest.raises(ConfigError, match=r"override 'bogus=1': unknown key\(s\) bogus; valid keys: optim"):
        load_config(Run, None, ["bogus=1"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("steps=abc", "steps: expected an integer"),
        ("optim.lr=fast", "optim.lr: expected a number"),
        ("optim.schedule=step", r"optim.schedule: 'step' is not one of \['cosine', 'linear'\]"),
        ("remat=2", "remat: expected true/false"),
        ("optim=3", "optim: expected a section|optim must be a mapping"),
        ("noequals", "expected key=value"),
    ],
)
def test_bad_values_are_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(Run, None, [override])


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(Run, tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"run_dir: \xff\xfe\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not UTF-8"):
        load_config(Run, bad)
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: expected a mapping"):
        load_config(Run, bad)


def test_includes_merge_under_the_including_file(tmp_path):
    (tmp_path / "optim").mkdir()
    (tmp_path / "optim" / "fast.yaml").write_text("lr: 3e-4\nschedule: linear\n")
    (tmp_path / "base.yaml").write_text("run_dir: base\nsteps: 5\noptim:\n  warmup_ratio: 0.2\n")
    path = tmp_path / "c.yaml"
    path.write_text("include: base.yaml\nsteps: 9\noptim:\n  include: optim/fast.yaml\n  lr: 1e-3\n")
    cfg = load_config(Run, path)
    assert cfg == Run("base", 9, optim=Optim(1e-3, 0.2, "linear"))


def test_bad_includes_are_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("include: missing.yaml\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: include 'missing\.yaml': no such file"):
        load_config(Run, path)
    path.write_text("include: c.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(Run, path)
