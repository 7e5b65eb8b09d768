"""Which trainer wrote a run_dir (train-rm, train-sft or train-rl), and its config.

Each trainer records itself in every checkpoint's metadata (`meta["trainer"]`). Run dirs written before that
are told apart by their config.yaml: each trainer dumps its full resolved config there, and each config class
refuses the keys of the others (RL's `policy`/`rollout` sections, SFT's `world`, RM's `data.val_size`, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TRAINERS = ("train-rm", "train-sft", "train-rl")
NAMED = "train-rm, train-sft or train-rl"


class RunKindError(ValueError):
    """A run_dir that no trainer (or none of ours) wrote."""


def config_class(trainer: str) -> type:
    """The config dataclass of `trainer`."""
    if trainer == "train-rm":
        from acecoder_jax.rm.config import RMConfig

        return RMConfig
    if trainer == "train-sft":
        from acecoder_jax.sft.config import SFTConfig

        return SFTConfig
    if trainer == "train-rl":
        from acecoder_jax.rl.config import RLConfig

        return RLConfig
    raise RunKindError(f"unknown trainer {trainer!r}; expected one of {NAMED}")


def run_config_file(run_dir: Path) -> Path:
    """run_dir/config.yaml, which every trainer writes; FileNotFoundError naming run_dir when it is absent."""
    config_file = Path(run_dir) / "config.yaml"
    if not config_file.is_file():
        raise FileNotFoundError(f"{run_dir}: no config.yaml (not a {NAMED} run_dir?)")
    return config_file


def model_source(trainer: str, cfg: Any) -> tuple[str, str | None]:
    """(the model spec the run started from, its configured tokenizer dir or None) of a `trainer` config."""
    if trainer == "train-rl":
        return cfg.policy.model, cfg.policy.tokenizer
    return cfg.model, cfg.data.tokenizer


def detect_run(run_dir: Path, meta: dict[str, Any] | None = None) -> tuple[str, Any]:
    """(trainer, its config loaded from run_dir/config.yaml): as `meta` (a checkpoint's metadata) records,
    else the one trainer whose config schema config.yaml fits."""
    from acecoder_jax.common.config import ConfigError, load_config

    config_file = run_config_file(run_dir)
    recorded = (meta or {}).get("trainer")
    if recorded is not None:
        if recorded not in TRAINERS:
            raise RunKindError(f"{run_dir}: written by {recorded!r}, not one of {NAMED}")
        return recorded, load_config(config_class(recorded), config_file)
    fits, misfits = {}, []
    for trainer in TRAINERS:
        try:
            fits[trainer] = load_config(config_class(trainer), config_file)
        except ConfigError as err:
            reason = str(err).removeprefix(f"{config_file}: ").split("; valid keys")[0]
            misfits.append(f"{trainer}: {reason}")
    if len(fits) == 1:
        return next(iter(fits.items()))
    if not fits:
        raise RunKindError(
            f"{run_dir}: not a {NAMED} run_dir (its config.yaml fits none of their configs: "
            + "; ".join(misfits)
            + ")"
        )
    raise RunKindError(
        f"{run_dir}: config.yaml fits the {' and '.join(fits)} configs alike and no checkpoint records "
        "its trainer: cannot tell which run this is"
    )
