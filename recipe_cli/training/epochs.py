"""EpochBook: the one owner of an epoch's bookkeeping once its updates end.

It evaluates the averaged weights and saves them with the training state (one `use_params` block: the scores
describe exactly the weights saved), writes the metrics row, model-last and model-best, prunes older epochs,
asks for the plot, calls the loggers, and saves an interrupted epoch's weights. fit() keeps the loop, patience and
interruption; the output layer below is handed values and folders, and calls nothing back.
"""

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.training.loop import create_before_to_disk_callback, create_evaluation_callback

from ..evaluation.scoring import DevEvaluation
from ..output.checkpoint import copy_checkpoint, prune_epochs, save_pipeline, staged_folder, write_pipeline
from ..output.failures import disk_errors, stage
from ..output.layout import DIR_MODEL_BEST, DIR_MODEL_LAST, METRICS_FILE, STATE_DIR, epoch_dir
from ..output.metrics import MetricsRow, append_row, plain, write_rows
from ..output.plots import BackgroundPlot
from ..output.state import TrainingState, encode_arrays, rng_states, save_state
from .loop import EpochInfo
from .schedules import Counted
from .training_data import TrainingData


class EpochBook:
    """The run's epochs so far (rows, best score and epoch) and the bookkeeping of each new one.

    nlp, T, data: the pipeline, the resolved [training] block and the training data fit() trains with.
    out: the output folder. rng: the shuffling generator (its state is saved with each epoch).
    drawing: the plot's worker; log_step: the loggers' step function; started: fit()'s perf_counter start.
    state: the training state of a resumed run (its rows and best epoch), or None.
    """

    def __init__(
        self,
        nlp: Language,
        T: dict[str, Any],
        data: TrainingData,
        out: Path,
        *,
        rng: random.Random,
        keep_epochs: int,
        drawing: BackgroundPlot,
        log_step: Callable[[dict[str, Any] | None], None],
        started: float,
        state: TrainingState | None = None,
    ) -> None:
        self.nlp, self.optimizer, self.out = nlp, T["optimizer"], out
        self.keep_epochs, self.drawing, self.log_step, self.started = keep_epochs, drawing, log_step, started
        self.rng = rng
        self.rehearsal_rng = data.rehearsal.rng if data.rehearsal is not None else None
        self.dropouts: Counted = T["dropout"]
        self.sizes: Counted | None = T["batch_sizes"]
        self.evaluate = create_evaluation_callback(DevEvaluation(nlp), lambda _: data.dev, T["score_weights"])  # type: ignore[arg-type]
        self.before_to_disk = create_before_to_disk_callback(T["before_to_disk"])
        self.rows: list[MetricsRow] = []
        self.best_score, self.best_epoch = -float("inf"), 0
        if state is not None:
            self.rows = [MetricsRow(**row) for row in state.rows]  # type: ignore[typeddict-item]
            self.best_score, self.best_epoch = state.best_score, state.best_epoch

    def record(self, info: EpochInfo, trace: list[tuple[int, float, int]], updates_ended: float) -> dict[str, Any]:
        """The epoch's bookkeeping, from updates_ended (a perf_counter time): evaluated and saved with its
        training state, in place as model-last (and model-best), its row in metrics.jsonl, plotted and logged.

        RETURNS (Dict[str, Any]): the generators' states saved with the epoch, from which the next epoch starts
            whatever the bookkeeping drew from them since (so a resumed run goes on exactly as this one does).
        """
        path = self.out / epoch_dir(info.epoch)
        row, rngs = self._checkpoint(info, path, trace, updates_ended)
        if row["best"]:
            self.best_score, self.best_epoch = row["score"], info.epoch
        _time_row(row, updates_ended)
        with stage("Saving", f" for epoch {info.epoch}", path=self.out):
            finish_epoch(self.out, path, row, self.keep_epochs)
        self.rows.append(row)
        self.drawing.redraw(self.rows, trace)
        # The loggers see the epoch's time so far; their own time counts in the row written last.
        _time_row(row, updates_ended)
        self.log_step(logger_info(info, row, self.rows, self.out, time.perf_counter() - self.started))
        # metrics.jsonl got the row as soon as the epoch was in place; now that its bookkeeping is done, the file
        # is replaced (at once) by the rows with the epoch's whole time. (The training state keeps the row as it
        # was when the state was written.)
        _time_row(row, updates_ended)
        with disk_errors(self.out):
            write_rows(self.out / METRICS_FILE, self.rows)
        return rngs

    def _checkpoint(
        self, info: EpochInfo, path: Path, trace: list[tuple[int, float, int]], updates_ended: float
    ) -> tuple[MetricsRow, dict[str, Any]]:
        """Evaluate and save the epoch with its training state: its metrics row (best: a better score; ties keep
        the earlier epoch) with the bookkeeping up to the state, and the generators' states saved."""
        nlp, optimizer = self.nlp, self.optimizer
        # The state's arrays are the live weights, which evaluation and saving (under the averages) leave as they
        # are: they are compressed on other threads meanwhile.
        arrays = encode_arrays(nlp, optimizer)
        with stage("Saving", f" for epoch {info.epoch} to {path}", path=path), staged_folder(path) as folder:
            with nlp.use_params(optimizer.averages):
                with stage("Evaluation", f" after epoch {info.epoch}"):
                    score, scores = self.evaluate()
                write_pipeline(nlp, folder, scores, self.before_to_disk)
            # The generators as they are after evaluation, where the next epoch starts from them.
            rngs = rng_states(self.rng, self.rehearsal_rng)
            is_best = score > self.best_score
            row = _metrics_row(info, score, scores, is_best, time.perf_counter() - updates_ended)
            state = TrainingState(
                epoch=info.epoch,
                step=info.step,
                words=info.words,
                best_score=score if is_best else self.best_score,
                best_epoch=info.epoch if is_best else self.best_epoch,
                draws={"dropout": self.dropouts.drawn, "batch_size": self.sizes.drawn if self.sizes else 0},
                rngs=rngs,
                rows=[plain(r) for r in [*self.rows, row]],
                trace=[list(point) for point in trace],
            )
            save_state(nlp, optimizer, state, folder / STATE_DIR, arrays=arrays)
        return row, rngs

    def save_interrupted(self, info: EpochInfo) -> None:
        """The averaged weights of an interrupted epoch go to model-last (the epoch folders stay as they were).

        They are not evaluated (an interruption should end the run at once): its meta.json has no scores (the
        previous epoch's would describe other weights), and says what the weights are, in "notes" (which
        `spacy package` puts in the package's README) and in "interrupted".
        """
        nlp, out = self.nlp, self.out
        meta = nlp.meta
        kept = {key: meta[key] for key in ("performance", "notes", "interrupted") if key in meta}
        meta["performance"] = {}
        meta["notes"] = (
            f"Interrupted in epoch {info.epoch} after step {info.step:,}: the averaged weights of an unfinished "
            "epoch, not evaluated. The complete epochs and their scores are in the epoch folders."
        )
        meta["interrupted"] = {"epoch": info.epoch, "step": info.step, "words": info.words, "evaluated": False}
        try:
            with nlp.use_params(self.optimizer.averages), stage("Saving", " for the interrupted epoch", path=out):
                save_pipeline(nlp, out / DIR_MODEL_LAST)
        finally:
            for key in ("performance", "notes", "interrupted"):
                meta.pop(key, None)
            meta.update(kept)  # type: ignore[arg-type]


def finish_epoch(out: Path, path: Path, row: MetricsRow, keep_epochs: int) -> None:
    """After the epoch folder is in place: its metrics row, model-last and model-best, then pruning."""
    append_row(out / METRICS_FILE, row)
    copy_checkpoint(path, out / DIR_MODEL_LAST)
    if row["best"]:
        copy_checkpoint(path, out / DIR_MODEL_BEST)
    prune_epochs(out, row["epoch"], keep_epochs)


def _time_row(row: MetricsRow, updates_ended: float) -> None:
    """The epoch's bookkeeping so far (everything since its updates ended) into its row."""
    row["checkpoint_seconds"] = time.perf_counter() - updates_ended
    row["seconds"] = row["train_seconds"] + row["checkpoint_seconds"]


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
