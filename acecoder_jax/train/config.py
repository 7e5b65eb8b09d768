"""Config sections every trainer shares (checkpoint, log cadence); the mesh section is sharding.MeshConfig."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CheckpointConfig:
    """Orbax checkpoints in run_dir/checkpoints."""

    every: int = 500
    keep: int = 3
    async_save: bool = True


@dataclass
class LogConfig:
    """Metrics cadence and outputs."""

    every: int = 10
    progress: bool = True  # one terminal line with tokens/s and MFU
