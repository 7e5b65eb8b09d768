"""Best-of-N reports: a markdown table (methods x benchmarks) and a PNG of pass@1 against N."""

from __future__ import annotations

import re
from pathlib import Path

from .metrics import AVERAGE


def _order(name: str) -> tuple[int, int]:
    match = re.match(r"(\w+)@(\d+)$", name)
    kind, n = (match.group(1), int(match.group(2))) if match else (name, 0)
    return ({"greedy": 0, "average": 1, "rm": 2, "oracle": 3}.get(kind, 4), n)


def markdown_table(table: dict[str, dict[str, float]]) -> str:
    """Rows: greedy, average@M, RM@N, oracle@N; columns: benchmarks, then their average (percent)."""
    columns = list(table)
    names = sorted({name for metrics in table.values() for name in metrics}, key=_order)
    lines = [
        "| method | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for name in names:
        cells = [f"{table[c][name]:.1f}" if name in table[c] else "-" for c in columns]
        label = name.replace("rm@", "RM@")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(table: dict[str, dict[str, float]], path: str | Path, title: str = "best-of-N") -> None:
    """PNG of pass@1 (%) against N: RM@N and oracle@N curves, greedy and average as flat lines."""
    import matplotlib

    matplotlib.use("Agg")  # headless: reports are written on training hosts
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for color, (column, metrics) in enumerate(table.items()):
        # The benchmark average is drawn bold; each benchmark thin, in its own colour.
        width = 2.5 if column == AVERAGE else 1.0
        for kind, style in (("rm", "-o"), ("oracle", "--s")):
            points = sorted((int(k.split("@")[1]), v) for k, v in metrics.items() if k.startswith(kind + "@"))
            if points:
                xs, ys = zip(*points)
                label = f"{column} {kind.replace('rm', 'RM')}@N"
                axis.plot(
                    xs, ys, style, color=f"C{color}", linewidth=width, markersize=3 * width, label=label
                )
        if column == AVERAGE or len(table) == 1:
            for name, value in metrics.items():
                if name == "greedy" or name.startswith("average@"):
                    dots = ":" if name == "greedy" else "-."
                    axis.axhline(value, linestyle=dots, color="gray", label=f"{column} {name}")
    axis.set_xscale("log", base=2)
    ns = sorted({int(k.split("@")[1]) for m in table.values() for k in m if k.startswith(("rm@", "oracle@"))})
    axis.set_xticks(ns, [str(n) for n in ns])
    axis.set_ylim(0, 100)
    axis.set_xlabel("N (samples per problem)")
    axis.set_ylabel("pass@1 (%)")
    axis.set_title(title)
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
