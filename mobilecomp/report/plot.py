"""The Pareto plot: latency on one device against parity or accuracy, marker area = model size, front highlighted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError


RUNTIME_MARKERS = {"onnxruntime": "o", "litert": "s", "executorch": "^"}  # formats.FORMATS' runtimes


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both axes (lower x, higher y), by x."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def pick_column(rows, columns: list[str], device: str | None) -> str | None:
    """The column for the x axis: the one named (a column, or a device whose fewest-thread column
    is taken), else the column with the most rows."""
    if not columns:
        return None
    if device:
        if device in columns:
            return device
        matching = sorted((c for c in columns if c.rsplit(" ", 1)[0] == device),
                          key=lambda c: int(c.rsplit(" ", 1)[1].rstrip("T")))
        if not matching:
            raise ConfigError(f"--device-for-pareto '{device}' has no rows (columns: {', '.join(columns)})")
        return matching[0]
    return max(columns, key=lambda c: sum(1 for r in rows if c in r.cells))


def pareto_plot(rows, columns: list[str], path: Path, device: str | None, y: str) -> dict[str, Any]:
    """Write the PNG; rows without a latency in the column or without the y value are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if y not in ("parity", "accuracy"):
        raise ConfigError(f"--y '{y}' is unknown (known: parity, accuracy)")
    column = pick_column(rows, columns, device)
    attr = "cos_min" if y == "parity" else "accuracy"
    usable = [r for r in rows if column and column in r.cells and getattr(r, attr) is not None
              and not r.variant.startswith("passage-")]  # a DeFormer passage graph is not a model of its own
    fig, ax = plt.subplots(figsize=(9, 6))
    front: list[int] = []
    if usable:
        points = [(r.cells[column]["p50_ms"], getattr(r, attr)) for r in usable]
        front = pareto_front(points)
        sizes = [max(20.0, (r.size_mb or 1.0) * 2.0) for r in usable]
        colours = ["tab:red" if i in front else "tab:blue" for i in range(len(usable))]
        runtimes = sorted({r.runtime or "" for r in usable})
        for hollow in (False, True):  # trained: filled; untrained (random weights): hollow
            for runtime in runtimes:  # one marker shape per runtime: the plot reads per runtime
                idx = [i for i, r in enumerate(usable) if bool(r.label) == hollow and (r.runtime or "") == runtime]
                if idx:
                    ax.scatter([points[i][0] for i in idx], [points[i][1] for i in idx], s=[sizes[i] for i in idx],
                               facecolors="none" if hollow else [colours[i] for i in idx],
                               edgecolors=[colours[i] for i in idx], alpha=0.7, linewidths=1.5,
                               marker=RUNTIME_MARKERS.get(runtime, "o"))
        if len(runtimes) > 1:
            for runtime in runtimes:
                ax.scatter([], [], marker=RUNTIME_MARKERS.get(runtime, "o"), facecolors="none",
                           edgecolors="black", label=runtime or "runtime not recorded")
        fx = [points[i] for i in front]
        ax.step([p[0] for p in fx], [p[1] for p in fx], where="post", color="tab:red", lw=1.2,
                label="Pareto front")
        for r, (px, py) in zip(usable, points):
            ax.annotate(f"{r.model}:{r.artefact}", (px, py), fontsize=6, xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.legend(loc="lower right", fontsize=8)
    else:
        ax.text(0.5, 0.5, f"no rows with latency on {column} and {y}", ha="center", transform=ax.transAxes)
    ax.set_xlabel(f"latency p50, ms ({column}, batch 1)")
    ax.set_ylabel("parity cos_min vs source" if y == "parity" else "task accuracy, %")
    ax.set_title("Which small BERT is best? (hollow = untrained; area = size MB)")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return {"file": str(path), "column": column, "y": y, "points": len(usable),
            "front": [f"{usable[i].model}:{usable[i].artefact}" for i in front]}
