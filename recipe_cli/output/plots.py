"""OUT/training.png: learning curves and schedules, redrawn after every epoch by a process of its own.

Drawing takes about half a second, as long as a late epoch of a small corpus: BackgroundPlot hands each
epoch's figures to a worker process and goes on training; the worker draws the newest figures it has been
given (older ones it has not started are skipped), and close() waits until the last one is drawn.
This module imports only the standard library (and matplotlib when drawing), so the worker starts fast.
"""

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .metrics import MetricsRow

# Points per schedule line; longer traces are thinned evenly.
_MAX_POINTS = 2000
# How long close() waits for the last drawing before giving up on it.
CLOSE_TIMEOUT = 120.0
# Loads this file as a module of its own (not the recipe_cli package, whose import pulls in spaCy) and serves.
WORKER = (
    "import importlib.util as u, sys; sys.path = [p for p in sys.path if p]; "
    "s = u.spec_from_file_location('recipe_plot_worker', sys.argv[1]); m = u.module_from_spec(s); "
    "s.loader.exec_module(m); m.serve(sys.argv[2])"
)


class BackgroundPlot:
    """Redraws a training.png in a worker process, off the training thread.

    redraw() sends the newest rows and trace and returns at once; close() waits for the last drawing to be
    on disk. Where no worker can be started, redraw() draws in this process instead. Not enabled (--no-plot), it
    draws nothing and starts no worker.
    """

    def __init__(self, path: Path, stderr: IO[str] | None = None, *, enabled: bool = True) -> None:
        self.path = Path(path)
        self.stderr = stderr if stderr is not None else sys.stderr
        self.enabled = enabled
        self._proc: subprocess.Popen | None = None
        self._failed = False

    def redraw(self, rows: Sequence["MetricsRow"], trace: Sequence[tuple[int, float, int]]) -> None:
        """Ask for a drawing of these rows and trace; returns without waiting for it."""
        if not self.enabled:
            return
        request = plot_request(rows, trace)
        proc = self._worker()
        if proc is not None and proc.stdin is not None:
            try:
                proc.stdin.write(json.dumps(request) + "\n")
                proc.stdin.flush()
                return
            except OSError:
                self._failed = True
        plot_training(request["rows"], request["trace"], self.path)

    def close(self) -> None:
        """Wait until the last requested drawing is written (the worker then exits)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=CLOSE_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            print(f"{self.path} was not redrawn after the last epoch: drawing took over {CLOSE_TIMEOUT:.0f}s",
                  file=self.stderr, flush=True)  # fmt: skip

    def _worker(self) -> subprocess.Popen | None:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        if self._failed:
            return None
        try:
            self._proc = subprocess.Popen([sys.executable, "-c", WORKER, __file__, str(self.path)],
                                          stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)  # fmt: skip
        except OSError:
            self._failed = True
            return None
        return self._proc

    def __enter__(self) -> "BackgroundPlot":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def plot_request(rows: Sequence["MetricsRow"], trace: Sequence[tuple[int, float, int]]) -> dict[str, Any]:
    """What plot_training needs of the rows, and the trace thinned to the points it draws (for JSON)."""
    step = max(1, len(trace) // _MAX_POINTS)
    return {
        "rows": [{"epoch": row["epoch"], "score": row["score"], "losses": dict(row["losses"])} for row in rows],
        "trace": [list(point) for point in trace[::step]],
    }


def serve(path: str) -> None:
    """The worker: read JSON requests, one a line, from stdin; draw the newest; at the end of input, exit
    once the newest is drawn. Signals are for the training process: it finishes, and ends the input."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    pending: list[str] = []
    ended = False
    ready = threading.Condition()

    def read() -> None:
        nonlocal ended
        for line in sys.stdin:
            with ready:
                pending[:] = [line]
                ready.notify()
        with ready:
            ended = True
            ready.notify()

    threading.Thread(target=read, daemon=True).start()
    while True:
        with ready:
            while not pending and not ended:
                ready.wait()
            if not pending:
                return
            line = pending.pop()
        try:
            request = json.loads(line)
            plot_training(request["rows"], [tuple(p) for p in request["trace"]], Path(path))
        except Exception as e:  # a drawing that fails must not stop the next one, nor print a traceback
            print(f"{path} not redrawn: {type(e).__name__}: {e}", file=sys.stderr, flush=True)


def plot_training(rows: Sequence["MetricsRow"], trace: Sequence[tuple[int, float, int]], path: Path) -> None:
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

    # A name of this process's own: a worker left over from a killed run may still be writing its drawing.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fig.savefig(tmp, format="png", dpi=80)
    os.replace(tmp, path)
