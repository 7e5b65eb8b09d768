"""Orbax checkpoints of a training run: train state, data-iterator position and run metadata, in one step dir.

Saves are async (the device->host copy blocks, the write does not) and committed atomically by orbax (a step
dir is renamed into place only when complete), so a SIGKILL at any moment leaves the last complete checkpoint.
Restores take an abstract tree whose shardings say where each array goes: any mesh works.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orbax.checkpoint as ocp


class CheckpointMismatchError(ValueError):
    """A run_dir whose checkpoint belongs to a different model (or run) than the one being started."""


class RunCheckpointer:
    """A CheckpointManager over `directory` with items state (arrays), data (iterator state), meta (JSON)."""

    def __init__(
        self, directory: str | Path, *, every: int, keep: int | None, async_save: bool = True
    ) -> None:
        self.directory = Path(directory).absolute()
        self.every = max(1, every)
        options = ocp.CheckpointManagerOptions(
            save_interval_steps=1,  # the interval is applied in `save` (orbax would also save the first step)
            max_to_keep=keep,
            enable_async_checkpointing=async_save,
            create=True,
        )
        self.manager = ocp.CheckpointManager(self.directory, options=options)

    def latest_step(self) -> int | None:
        """The newest complete checkpoint's step, or None."""
        return self.manager.latest_step()

    def all_steps(self) -> list[int]:
        """Steps of all complete checkpoints."""
        return list(self.manager.all_steps())

    def save(
        self, step: int, state: Any, data_state: dict[str, Any], meta: dict[str, Any], *, force: bool = False
    ) -> bool:
        """Save if `step` is a multiple of `every` (or `force`); returns whether a save started."""
        if not force and step % self.every:
            return False
        args = ocp.args.Composite(
            state=ocp.args.StandardSave(state),
            data=ocp.args.JsonSave(data_state),
            meta=ocp.args.JsonSave(meta),
        )
        return self.manager.save(step, args=args, force=True)

    def read_meta(self, step: int) -> dict[str, Any]:
        """The metadata item of checkpoint `step` (read directly: no arrays are touched)."""
        path = self.directory / str(step) / "meta" / "metadata"  # where JsonSave puts the item
        if path.is_file():
            return json.loads(path.read_text())
        restored = self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
        return dict(restored["meta"])

    def restore(self, step: int, abstract_state: Any) -> tuple[Any, dict[str, Any], dict[str, Any]]:
        """(state placed per `abstract_state`'s shardings, data-iterator state, metadata) of checkpoint
        `step`."""
        restored = self.manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract_state),
                data=ocp.args.JsonRestore(),
                meta=ocp.args.JsonRestore(),
            ),
        )
        return restored["state"], dict(restored["data"]), dict(restored["meta"])

    def restore_params(self, step: int, abstract_params: Any) -> Any:
        """Only the model parameters of checkpoint `step` (no optimizer state is read), placed per their
        shardings."""
        restored = self.manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.PyTreeRestore(
                    item={"params": abstract_params},
                    restore_args=ocp.checkpoint_utils.construct_restore_args({"params": abstract_params}),
                    partial_restore=True,
                )
            ),
        )
        return restored["state"]["params"]

    def wait(self) -> None:
        """Block until async saves are on disk."""
        self.manager.wait_until_finished()

    def close(self) -> None:
        """Finish pending saves and release the manager."""
        self.manager.wait_until_finished()
        self.manager.close()


def check_latest_compatible(directory: str | Path, current: dict[str, Any], run_dir: Path) -> int | None:
    """The newest checkpoint step in `directory` (None if none) after `check_compatible` against its meta.

    Cheap (no arrays are read): call it before building a model, so a wrong run_dir fails at once.
    """
    checkpointer = RunCheckpointer(directory, every=1, keep=None, async_save=False)  # keep all: only reads
    try:
        latest = checkpointer.latest_step()
        if latest is not None:
            check_compatible(checkpointer.read_meta(latest), current, run_dir)
        return latest
    finally:
        checkpointer.close()


def check_compatible(saved: dict[str, Any], current: dict[str, Any], directory: Path) -> None:
    """Fail clearly when a checkpoint's model (config, param shapes) or data order differs from this run's."""
    for key, what in (("model_config", "model"), ("param_signature", "model"), ("data_plan", "data order")):
        if key in saved and key in current and saved[key] != current[key]:
            diffs = _first_differences(saved[key], current[key])
            raise CheckpointMismatchError(
                f"{directory}: holds a checkpoint with a different {what} ({key} differs: {diffs}); "
                "use a new run_dir or the settings it was written with"
            )


def _first_differences(a: Any, b: Any, limit: int = 3) -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b))
        diffs = [
            f"{k}: checkpoint {a.get(k, '<absent>')!r} vs run {b.get(k, '<absent>')!r}"
            for k in keys
            if a.get(k) != b.get(k)
        ]
        return "; ".join(diffs[:limit]) + (f"; ... ({len(diffs)} in all)" if len(diffs) > limit else "")
    return f"checkpoint {a!r} vs run {b!r}"
