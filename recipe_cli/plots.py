"""OUT/training.png: learning curves and schedules, redrawn after every epoch."""

import os
from collections.abc import Sequence
from pathlib import Path

from .metrics import MetricsRow

PLOT_FILE = "training.png"
# Points per schedule line; longer traces are thinned evenly.
_MAX_POINTS = 2000


def plot_training(rows: Sequence[MetricsRow], trace: Sequence[tuple[int, float, int]], path: Path) -> None:
    """Draw the dev main score per epoch (best marked), the loss of each component per epoch, and
    the dropout and batch-size schedules over the updates; write path as PNG, replacing it atomically.

    rows (Sequence[MetricsRow]): the run's metrics rows so far.
    trace (Sequence[Tuple[int, float, int]]): (step, dropout, batch size) per update.
    path (Path): the PNG to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [row["epoch"] for row in rows]
    fig = Figure(figsize=(11, 7))
    # Fixed spacing: a constrained layout costs more than the drawing itself.
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.08, top=0.95, wspace=0.22, hspace=0.38)
    score_ax, loss_ax, drop_ax, batch_ax = fig.subplots(2, 2).flat

    score_ax.plot(epochs, [row["score"] for row in rows], marker="o", color="tab:blue")
    best = max(rows, key=lambda row: (row["score"], -row["epoch"]))
    score_ax.plot([best["epoch"]], [best["score"]], marker="*", markersize=16, color="tab:orange", linestyle="none",
                  label=f"best: epoch {best['epoch']} ({best['score']:.4f})")  # fmt: skip
    score_ax.set(title="Dev main score (averaged weights)", xlabel="epoch", ylabel="score")
    score_ax.legend(loc="lower right")

    for name in rows[-1]["losses"]:
        loss_ax.plot(epochs, [row["losses"].get(name, float("nan")) for row in rows], marker=".", label=name)
    loss_ax.set(title="Training loss per epoch", xlabel="epoch", ylabel="summed loss")
    loss_ax.legend(loc="upper right")

    step = max(1, len(trace) // _MAX_POINTS)
    points = list(trace[::step])
    steps = [p[0] for p in points]
    drop_ax.plot(steps, [p[1] for p in points], color="tab:red")
    drop_ax.set(
        title="Dropout", xlabel="update", ylabel="dropout rate", ylim=(0, max([p[1] for p in points] + [0.1]) * 1.1)
    )
    batch_ax.plot(steps, [p[2] for p in points], color="tab:green")
    batch_ax.set(title="Batch size", xlabel="update", ylabel="examples per batch")
    for ax in (score_ax, loss_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (score_ax, loss_ax, drop_ax, batch_ax):
        ax.grid(alpha=0.3)

    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", dpi=80)
    os.replace(tmp, path)
