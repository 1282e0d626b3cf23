"""fit(): the epochs of a run, each evaluated and saved with its training state, from a fresh start or a resume."""

import io
import random
import signal
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from spacy.language import Language
from spacy.training.loop import create_before_to_disk_callback, create_evaluation_callback

from ..display.console import Console, use_color
from ..display.progress import EpochProgress
from ..errors import Errors, RunInterrupted
from ..evaluation.scoring import DevEvaluation
from ..output.checkpoint import copy_checkpoint, prune_epochs, save_epoch, save_pipeline
from ..output.failures import disk_errors, error_log, stage
from ..output.layout import DIR_MODEL_BEST, DIR_MODEL_LAST, METRICS_FILE, PLOT_FILE, epoch_dir
from ..output.metrics import MetricsRow, append_row, plain, training_speed, write_rows
from ..output.plots import BackgroundPlot
from ..output.state import TrainingState, encode_arrays, restore_rngs, rng_states, save_state
from .interrupt import Interruption
from .loop import EpochInfo, train_epochs
from .schedules import Counted

if TYPE_CHECKING:
    from .setup import TrainingData


def fit(
    nlp: Language,
    T: dict[str, Any],
    data: "TrainingData",
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
    # A schedule already, counted (setup.resolve_training).
    dropouts: Counted = T["dropout"]
    sizes: Counted | None = T["batch_sizes"]
    rehearsal_rng = data.rehearsal.rng if data.rehearsal is not None else None
    rows: list[MetricsRow] = []
    best_score, best_epoch, first_epoch, step, words = -float("inf"), 0, 1, 0, 0
    if state is not None:
        # Replay the schedules to where they were, and put the generators back in their states.
        dropouts.skip(state.draws["dropout"])
        if sizes is not None:
            sizes.skip(state.draws["batch_size"])
        # The optimizer's schedules advance once per update.
        for _ in range(state.step):
            optimizer.step_schedules()
        restore_rngs(state.rngs, rng, rehearsal_rng)
        rows = [MetricsRow(**row) for row in state.rows]  # type: ignore[typeddict-item]
        best_score, best_epoch = state.best_score, state.best_epoch
        first_epoch, step, words = state.epoch + 1, state.step, state.words
    console = Console(stdout, quiet=quiet)
    # --quiet silences the console table too; other loggers (MLflow, W&B...) log as usual.
    log_step, finalize = T["logger"](nlp, stdout if not quiet else io.StringIO(), stderr)
    progress = EpochProgress(data.n_train, stderr, show=not quiet and use_color(stderr))
    if state is not None:
        progress.trace = [tuple(point) for point in state.trace]
    evaluate = create_evaluation_callback(DevEvaluation(nlp), lambda _: data.dev, T["score_weights"])  # type: ignore[arg-type]
    before_to_disk = create_before_to_disk_callback(T["before_to_disk"])
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
            epochs = train_epochs(
                nlp,
                optimizer,
                data.train,
                batcher=T["batcher"],
                dropouts=dropouts,
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
                    _save_interrupted(nlp, optimizer, output_path, info)
                    break
                path = output_path / epoch_dir(info.epoch)
                draws = {"dropout": dropouts.drawn, "batch_size": sizes.drawn if sizes else 0}
                record = _Record(rows, best_score, best_epoch, draws, {}, progress.trace, rng, rehearsal_rng)
                row = _checkpoint_epoch(nlp, optimizer, info, record, path, evaluate, before_to_disk, updates_ended)
                if row["best"]:
                    best_score, best_epoch = row["score"], info.epoch
                _time_row(row, updates_ended)
                with stage("Saving", f" for epoch {info.epoch}", path=output_path):
                    finish_epoch(output_path, path, row, keep_epochs)
                rows.append(row)
                drawing.redraw(rows, progress.trace)
                _time_row(row, updates_ended)
                log_step(logger_info(info, row, rows, output_path, time.perf_counter() - start))
                # The row was appended as soon as the epoch was in place; now that the epoch's bookkeeping is done,
                # metrics.jsonl is replaced (at once) by the rows with its whole time. (The training state keeps the
                # row as it was when the state was written.)
                _time_row(row, updates_ended)
                with disk_errors(output_path):
                    write_rows(output_path / METRICS_FILE, rows)
                # The next epoch starts from the generator states saved with this one, whatever the
                # bookkeeping since drew from them, so a resumed run goes on exactly as this one does.
                restore_rngs(record.rngs, rng, rehearsal_rng)
                patience = T["patience"]
                if patience and info.epoch - best_epoch >= patience:
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
    _print_summary(Console(stdout), rows, T["score_weights"], output_path, time.perf_counter() - start, first_epoch)
    return output_path


@dataclass
class _Record:
    """What the run has done so far, for the training state saved with an epoch."""

    rows: list[MetricsRow]
    best_score: float
    best_epoch: int
    draws: dict[str, int]
    rngs: dict[str, Any]
    trace: list[tuple[int, float, int]]
    rng: random.Random
    rehearsal_rng: random.Random | None


def _checkpoint_epoch(
    nlp: Language,
    optimizer: Any,
    info: EpochInfo,
    record: _Record,
    path: Path,
    evaluate: Callable[[], tuple[float, dict[str, Any]]],
    before_to_disk: Callable[[Language], Language],
    updates_ended: float,
) -> MetricsRow:
    """Evaluate and save the epoch with its training state; its metrics row (best: a better score; ties keep
    the earlier epoch), with the bookkeeping since updates_ended (a perf_counter time) up to the state."""
    rows: list[MetricsRow] = []
    # The state's arrays are the live weights, which evaluation and saving (under the averages) leave as they
    # are: they are compressed on other threads meanwhile.
    arrays = encode_arrays(nlp, optimizer)

    def write_state(folder: Path, score: float, scores: dict[str, Any]) -> None:
        # The generators as they are after evaluation, where the next epoch starts from them.
        record.rngs.update(rng_states(record.rng, record.rehearsal_rng))
        is_best = score > record.best_score
        row = _metrics_row(info, score, scores, is_best, time.perf_counter() - updates_ended)
        rows.append(row)
        state = TrainingState(
            epoch=info.epoch,
            step=info.step,
            words=info.words,
            best_score=score if is_best else record.best_score,
            best_epoch=info.epoch if is_best else record.best_epoch,
            draws=record.draws,
            rngs=record.rngs,
            rows=[plain(r) for r in [*record.rows, row]],
            trace=[list(point) for point in record.trace],
        )
        save_state(nlp, optimizer, state, folder, arrays=arrays)

    def evaluate_epoch() -> tuple[float, dict[str, Any]]:
        with stage("Evaluation", f" after epoch {info.epoch}"):
            return evaluate()

    with stage("Saving", f" for epoch {info.epoch} to {path}", path=path):
        save_epoch(nlp, optimizer, path, evaluate=evaluate_epoch, before_to_disk=before_to_disk,
                   write_state=write_state)  # fmt: skip
    return rows[0]


def finish_epoch(out: Path, path: Path, row: MetricsRow, keep_epochs: int) -> None:
    """After the epoch folder is in place: its metrics row, model-last and model-best, then pruning."""
    append_row(out / METRICS_FILE, row)
    copy_checkpoint(path, out / DIR_MODEL_LAST)
    if row["best"]:
        copy_checkpoint(path, out / DIR_MODEL_BEST)
    prune_epochs(out, row["epoch"], keep_epochs)


def _save_interrupted(nlp: Language, optimizer: Any, out: Path, info: EpochInfo) -> None:
    """The averaged weights of an interrupted epoch go to model-last (the epoch folders stay as they were).

    They are not evaluated (an interruption should end the run at once): its meta.json has no scores (the
    previous epoch's would describe other weights), and says what the weights are, in "notes" (which
    `spacy package` puts in the package's README) and in "interrupted".
    """
    meta = nlp.meta
    kept = {key: meta[key] for key in ("performance", "notes", "interrupted") if key in meta}
    meta["performance"] = {}
    meta["notes"] = (
        f"Interrupted in epoch {info.epoch} after step {info.step:,}: the averaged weights of an unfinished "
        "epoch, not evaluated. The complete epochs and their scores are in the epoch folders."
    )
    meta["interrupted"] = {"epoch": info.epoch, "step": info.step, "words": info.words, "evaluated": False}
    try:
        with nlp.use_params(optimizer.averages), stage("Saving", " for the interrupted epoch", path=out):
            save_pipeline(nlp, out / DIR_MODEL_LAST)
    finally:
        for key in ("performance", "notes", "interrupted"):
            meta.pop(key, None)
        meta.update(kept)  # type: ignore[arg-type]


def _time_row(row: MetricsRow, updates_ended: float) -> None:
    """The epoch's bookkeeping so far (everything since its updates ended) into its row."""
    row["checkpoint_seconds"] = time.perf_counter() - updates_ended
    row["seconds"] = row["train_seconds"] + row["checkpoint_seconds"]


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


def _metrics_row(
    info: EpochInfo, score: float, scores: dict[str, Any], best: bool, checkpoint_seconds: float
) -> MetricsRow:
    return MetricsRow(
        epoch=info.epoch,
        step=info.step,
        words=info.words,
        losses={name: float(loss) for name, loss in info.losses.items()},
        dropout=info.dropout,
        batch_size=info.batch_size,
        learn_rate=info.learn_rate,
        score=score,
        scores=scores,
        best=best,
        seconds=info.seconds + checkpoint_seconds,
        train_seconds=info.seconds,
        checkpoint_seconds=checkpoint_seconds,
    )


def logger_info(
    info: EpochInfo, row: MetricsRow, rows: list[MetricsRow], output_path: Path, elapsed: float
) -> dict[str, Any]:
    """The info dict spaCy's loggers take, plus the recipe's own columns."""
    return {
        "epoch": info.epoch,
        "step": info.step,
        "score": row["score"],
        "other_scores": row["scores"],
        "losses": row["losses"],
        "checkpoints": [(r["score"], r["step"]) for r in rows],
        "seconds": int(elapsed),
        "words": info.words,
        "output_path": str(output_path / DIR_MODEL_LAST),
        "batch_size": info.batch_size,
        "dropout": info.dropout,
        "learn_rate": info.learn_rate,
        "best": row["best"],
        "epoch_seconds": row["seconds"],
    }
