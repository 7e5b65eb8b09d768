"""Run outputs: metrics.jsonl (one JSON object per logged step), TensorBoard events, plots/*.png.

On resume the metrics file is cut back to the restored step (torn last line repaired first) so that, once the
run finishes, the file equals an uninterrupted run's; TensorBoard purges the events past that step too.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from executor.jsonl import iter_jsonl, repair_torn_tail


class MetricsWriter:
    """Append metric rows to run_dir/metrics.jsonl and TensorBoard; draw plots on demand."""

    def __init__(self, run_dir: str | Path, *, resume_step: int, enabled: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / "metrics.jsonl"
        self.enabled = enabled
        self._tb = None
        if not enabled:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        truncate_metrics(self.path, resume_step)
        self._file = self.path.open("a", encoding="utf-8")
        from tensorboardX import SummaryWriter  # only the writing process needs it

        self._tb = SummaryWriter(
            str(self.run_dir / "tensorboard"), purge_step=resume_step + 1 if resume_step else None
        )

    def write(self, row: dict[str, Any]) -> None:
        """Append one row (must hold `step`); eval rows carry `"split": "eval"`."""
        if not self.enabled:
            return
        self._file.write(json.dumps(row, sort_keys=False) + "\n")
        self._file.flush()
        split = row.get("split", "train")
        for key, value in row.items():
            if _is_metric(key, value) and math.isfinite(value):
                self._tb.add_scalar(f"{split}/{key}", value, row["step"])

    def plot(self, keys: tuple[str, ...] | None = None) -> list[Path]:
        """Draw plots/<key>.png (train and eval curves) from metrics.jsonl; returns the files written.

        `keys` default: every numeric metric in the file (whatever the trainer logs).
        """
        if not self.enabled or not self.path.exists():
            return []
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = [row for _, row in iter_jsonl(self.path)]
        if keys is None:
            keys = tuple(dict.fromkeys(k for r in rows for k, v in r.items() if _is_metric(k, v)))
        out_dir = self.run_dir / "plots"
        out_dir.mkdir(exist_ok=True)
        written = []
        for key in keys:
            fig, ax = plt.subplots(figsize=(6, 3.5))
            drew = False
            for split in ("train", "eval"):
                points = [(r["step"], r[key]) for r in rows if r.get("split", "train") == split and key in r]
                if points:
                    xs, ys = zip(*points)
                    ax.plot(xs, ys, marker="o" if split == "eval" else None, label=split)
                    drew = True
            if drew:
                ax.set_xlabel("step")
                ax.set_ylabel(key)
                ax.legend()
                ax.grid(alpha=0.3)
                fig.tight_layout()
                path = out_dir / f"{key}.png"
                fig.savefig(path, dpi=100)
                written.append(path)
            plt.close(fig)
        return written

    def close(self) -> None:
        """Flush and close the outputs."""
        if self.enabled:
            self._file.close()
            self._tb.close()


def _is_metric(key: str, value: Any) -> bool:
    return key not in ("step", "split") and isinstance(value, int | float) and not isinstance(value, bool)


def truncate_metrics(path: Path, last_step: int) -> None:
    """Keep only rows with step <= last_step (after repairing a torn last line)."""
    if not path.exists():
        return
    repair_torn_tail(path)
    kept = [row for _, row in iter_jsonl(path) if row.get("step", 0) <= last_step]
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps(row) + "\n" for row in kept), encoding="utf-8")
    tmp.replace(path)


def read_metrics(path: str | Path, split: str = "train") -> list[dict[str, Any]]:
    """Rows of one split from a metrics.jsonl."""
    return [row for _, row in iter_jsonl(path) if row.get("split", "train") == split]
