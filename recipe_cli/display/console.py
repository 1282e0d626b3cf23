"""Terminal output: colour only on a terminal (and never with NO_COLOR), and the per-epoch table."""

import os
import sys
from collections.abc import Callable
from typing import IO, Any

from spacy.language import Language
from spacy.util import registry
from wasabi import color, row


def use_color(stream: IO[str]) -> bool:
    """Colour for a terminal only, and never when NO_COLOR is set (https://no-color.org)."""
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


class Console:
    """Plain lines to an output stream, coloured only where use_color allows."""

    def __init__(self, stream: IO[str] | None = None, *, quiet: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.quiet = quiet
        self.color = use_color(self.stream)

    def paint(self, text: str, fg: str | None = None, bold: bool = False) -> str:
        return color(text, fg=fg, bold=bold) if self.color else text

    def line(self, text: str = "", fg: str | None = None, bold: bool = False) -> None:
        if not self.quiet:
            print(self.paint(text, fg=fg, bold=bold), file=self.stream, flush=True)

    def info(self, title: str, detail: str = "") -> None:
        self.line(f"{self.paint('ℹ' if self.color else '-', fg='blue')} {title}" + (f": {detail}" if detail else ""))

    def good(self, title: str, detail: str = "") -> None:
        self.line(f"{self.paint('✔' if self.color else '+', fg='green')} {title}" + (f": {detail}" if detail else ""))

    def fail(self, message: str) -> None:
        """An error line; printed even when quiet."""
        print(f"{self.paint('✘' if self.color else 'error:', fg='red')} {message}", file=self.stream, flush=True)

    def warn(self, title: str, detail: str = "") -> None:
        self.line(f"{self.paint('⚠' if self.color else '!', fg='yellow')} {title}" + (f": {detail}" if detail else ""))


LogStep = Callable[[dict[str, Any] | None], None]


@registry.loggers("recipe.ConsoleLogger.v1")
def console_logger() -> Callable[[Language, IO, IO], tuple[LogStep, Callable[[], None]]]:
    """One table row per epoch: epoch, steps, batch size, dropout, losses, dev scores, time.

    Fed the same info dict as spaCy's loggers, plus batch_size, dropout and best.
    """

    def setup(nlp: Language, stdout: IO = sys.stdout, stderr: IO = sys.stderr) -> tuple[LogStep, Callable[[], None]]:
        console = Console(stdout)
        weights = nlp.config["training"]["score_weights"]
        score_cols = [key for key, weight in weights.items() if weight is not None]
        frozen = set(nlp.config["training"]["frozen_components"])
        loss_cols = [name for name, proc in nlp.pipeline if getattr(proc, "is_trainable", False) and name not in frozen]
        header = ["E", "Steps", "Batch", "Drop"] + [f"Loss {n.upper()}" for n in loss_cols]
        header += [key.upper() for key in score_cols] + ["SCORE", "Time"]
        widths = [max(len(h), 6) for h in header]
        widths[0] = 4
        aligns = ["r"] * len(header)
        printed_header = False

        def log_step(info: dict[str, Any] | None) -> None:
            nonlocal printed_header
            if info is None:
                return
            if not printed_header:
                console.line(row(header, widths=widths, aligns=aligns), bold=True)  # type: ignore[arg-type]
                console.line(row(["-" * w for w in widths], widths=widths))
                printed_header = True
            losses = [f"{info['losses'].get(n, 0.0):.2f}" for n in loss_cols]
            scores = [_fmt(info["other_scores"].get(key)) for key in score_cols]
            cells = [info["epoch"], info["step"], info.get("batch_size", ""), f"{info.get('dropout', 0):.2f}"]
            cells += losses + scores + [_fmt(info["score"]), f"{info.get('epoch_seconds', info['seconds']):.0f}s"]
            text = row(cells, widths=widths, aligns=aligns)  # type: ignore[arg-type]
            best = info.get("best", False)
            console.line(text + (" *" if best else ""), fg="green" if best else None)

        def finalize() -> None:
            pass

        return log_step, finalize

    return setup


def _fmt(value: Any) -> str:
    """Scores as spaCy's console logger shows them: 0.8567 → '85.67'."""
    if isinstance(value, (int, float)):
        return f"{value * 100:.2f}"
    return "" if value is None else str(value)
