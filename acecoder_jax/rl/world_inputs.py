"""Inputs an RL config on the policy world builds when they are missing: the world files and the SFT policy.

`world.dir` is generated (deterministically from `world.seed`) when absent and reused when present; when
`policy.model` is not a checkpoint directory yet and `world.sft_config` names the SFT config that writes it,
that SFT run happens first (it resumes if it was interrupted). So configs/rl/world_cpu.yaml runs as is on a
fresh clone.
"""

from __future__ import annotations

from pathlib import Path

from acecoder_jax.common.config import ConfigError
from acecoder_jax.rl.config import RLConfig


def ensure_rl_inputs(cfg: RLConfig) -> None:
    """Build the world and the starting policy of `cfg` when they are missing (see the module docstring)."""
    if cfg.world.dir:
        from acecoder_jax.world import ensure_world

        ensure_world(cfg.world.dir, cfg.world.seed)
    policy = Path(cfg.policy.model) if cfg.policy.model else None
    if policy is None or policy.is_dir() or not cfg.world.sft_config:
        return
    from acecoder_jax.common.config import load_config
    from acecoder_jax.sft.config import SFTConfig
    from acecoder_jax.sft.trainer import train as train_sft

    print(f"{policy}: missing; training it with {cfg.world.sft_config}", flush=True)
    summary = train_sft(load_config(SFTConfig, cfg.world.sft_config))
    if not policy.is_dir():
        raise ConfigError(
            f"{cfg.world.sft_config} finished ({summary.get('policy_dir')}) but policy.model {policy} "
            "does not exist: point policy.model at the policy directory that SFT config writes"
        )


def main(argv: list[str] | None = None) -> int:
    """`python -m acecoder_jax.rl.world_inputs CONFIG [key=value ...]`: build the inputs of an RL config and
    stop (what a multi-host job needs done once, in one process, before it starts)."""
    import sys

    from acecoder_jax.common.config import load_config

    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m acecoder_jax.rl.world_inputs CONFIG [key=value ...]", file=sys.stderr)
        return 2
    ensure_rl_inputs(load_config(RLConfig, args[0], args[1:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
