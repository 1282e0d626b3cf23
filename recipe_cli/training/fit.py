"""fit(): the epochs of a run, each evaluated and saved with its training state (EpochBook), from a fresh start or a
resume; the loop, patience and interruption stay here."""

import io
import random
import signal
import time
from contextlib import closing
from pathlib import Path
from typing import IO, Any

from spacy.language import Language

from ..display.console import Console, use_color
from ..display.progress import EpochProgress
from ..errors import Errors, RunInterrupted
from ..output.failures import error_log
from ..output.layout import DIR_MODEL_BEST, DIR_MODEL_LAST, PLOT_FILE
from ..output.metrics import MetricsRow, training_speed
from ..output.plots import BackgroundPlot
from ..output.state import TrainingState, restore_rngs
from .epochs import EpochBook
from .interrupt import Interruption
from .loop import train_epochs
from .schedules import Counted
from .training_data import TrainingData


def fit(
    nlp: Language,
    T: dict[str, Any],
    data: TrainingData,
    output_path: Path,
    *,
    stdout: IO[str],
    stderr: IO[str],
    quiet: bool,
    keep_epochs: int,
    state: TrainingState | None = None,
    plot: bool = True,
) -> Path:
    """Run the epochs and checkpoint each one; with a saved state, go on from where it was.

    T is the resolved [training] block; its optimizer, schedules and batcher are fresh, and a
    state (with restore_state already applied to nlp and the optimizer) moves them to its position.
    """
    optimizer = T["optimizer"]
    rng = random.Random(T["seed"])
    rehearsal_rng = data.rehearsal.rng if data.rehearsal is not None else None
    first_epoch, step, words = 1, 0, 0
    if state is not None:
        go_on_from(state, T, rng, rehearsal_rng)
        first_epoch, step, words = state.epoch + 1, state.step, state.words
    console = Console(stdout, quiet=quiet)
    # --quiet silences the console table too; other loggers (MLflow, W&B...) log as usual.
    log_step, finalize = T["logger"](nlp, stdout if not quiet else io.StringIO(), stderr)
    progress = EpochProgress(data.n_train, stderr, show=not quiet and use_color(stderr))
    if state is not None:
        progress.trace = [tuple(point) for point in state.trace]
    start = time.perf_counter()
    epoch = first_epoch
    # A failure inside spaCy or thinc: one line naming its stage, the traceback in OUT/error.log.
    # training.png is drawn by a worker process; leaving this block waits for its last drawing.
    interrupted = Interruption()
    try:
        with (
            interrupted,
            error_log(output_path),
            closing(progress),
            BackgroundPlot(output_path / PLOT_FILE, stderr, enabled=plot) as drawing,
        ):
            book = EpochBook(nlp, T, data, output_path, rng=rng, keep_epochs=keep_epochs, drawing=drawing,
                             log_step=log_step, started=start, state=state)  # fmt: skip
            epochs = train_epochs(
                nlp,
                optimizer,
                data.train,
                batcher=T["batcher"],
                dropouts=T["dropout"],
                rng=rng,
                shuffle_buffer=data.shuffle_buffer,
                max_epochs=T["max_epochs"],
                max_steps=T["max_steps"],
                first_epoch=first_epoch,
                step=step,
                words=words,
                accumulate_gradient=T["accumulate_gradient"],
                exclude=T["frozen_components"],
                annotating_components=T["annotating_components"],
                before_update=T["before_update"],
                after_update=progress,
                should_stop=interrupted,
                rehearse=data.rehearsal,
            )
            for info in epochs:
                # Everything from here to the next epoch's updates is this epoch's bookkeeping (checkpoint_seconds).
                updates_ended = time.perf_counter()
                progress.close()
                epoch = info.epoch
                if info.interrupted:
                    book.save_interrupted(info)
                    break
                rngs = book.record(info, progress.trace, updates_ended)
                # The next epoch starts from the generator states saved with this one.
                restore_rngs(rngs, rng, rehearsal_rng)
                patience = T["patience"]
                if patience and info.epoch - book.best_epoch >= patience:
                    console.info(f"Stopping: no better dev score for {patience} epochs")
                    break
            progress.close()
            finalize()
            drawing.close()
            if interrupted():
                last = output_path / DIR_MODEL_LAST
                raise RunInterrupted(
                    Errors.E064.format(signal=interrupted.name, epoch=epoch, last=last, out=output_path),
                    interrupted.signum or signal.SIGINT,
                )
    except KeyboardInterrupt:
        # A second signal while the first was being handled (Interruption raises at once): whatever was being
        # written is left as it was (every write is atomic), and the run resumes from the epochs saved before.
        if not interrupted():
            raise
        raise RunInterrupted(
            Errors.E095.format(signal=interrupted.name, epoch=epoch, out=output_path),
            interrupted.signum or signal.SIGINT,
        ) from None
    rows = book.rows
    _print_summary(Console(stdout), rows, T["score_weights"], output_path, time.perf_counter() - start, first_epoch)
    return output_path


def go_on_from(
    state: TrainingState, T: dict[str, Any], rng: random.Random, rehearsal_rng: random.Random | None
) -> None:
    """A resumed run's schedules replayed to where the state left them (each counted: setup.resolve_training), the
    optimizer's schedules stepped once per update made, and the generators put back in their states."""
    dropouts: Counted = T["dropout"]
    sizes: Counted | None = T["batch_sizes"]
    dropouts.skip(state.draws["dropout"])
    if sizes is not None:
        sizes.skip(state.draws["batch_size"])
    for _ in range(state.step):
        T["optimizer"].step_schedules()
    restore_rngs(state.rngs, rng, rehearsal_rng)


def _print_summary(
    console: Console, rows: list[MetricsRow], weights: dict[str, Any], out: Path, seconds: float, first_epoch: int
) -> None:
    """Best epoch and its scores, where it is saved; this command's time, and the run's training words per
    second: its words over the seconds its updates took, both summed over the same epochs' rows."""
    if not rows:
        return
    best = max(rows, key=lambda row: (row["score"], -row["epoch"]))
    shown = [key for key, weight in weights.items() if weight and isinstance(best["scores"].get(key), (int, float))]
    scores = ", ".join(f"{key} {best['scores'][key]:.4f}" for key in shown)
    console.good(
        f"Best epoch {best['epoch']} of {len(rows)}: score {best['score']:.4f}" + (f" ({scores})" if scores else "")
    )
    console.info("Saved", f"{out / DIR_MODEL_BEST} (every epoch in {out / 'epoch-NNN'})")
    words, train_seconds, span = training_speed(rows)
    last = rows[-1]["epoch"]
    here = (
        f"epochs {first_epoch}-{last}" if last > first_epoch else f"epoch {last}" if last == first_epoch else "no epoch"
    )
    resumed = f", resumed after epoch {first_epoch - 1}" if first_epoch > 1 else ""
    console.info(
        "Time",
        f"{seconds:.0f}s for {here} in this command{resumed}; {words / max(train_seconds, 1e-9):,.0f} training "
        f"words/second ({words:,} words in {train_seconds:.1f}s of updates, {span})",
    )
