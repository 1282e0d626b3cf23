"""train(): build the pipeline, read the data, run the loop, and checkpoint every epoch."""

import errno
import io
import os
import random
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import IO, Any

import srsly
from catalogue import RegistryError
from confection import ConfigValidationError
from spacy.language import Language
from spacy.training import Example
from spacy.training.initialize import convert_vectors, resolve_dot_names
from spacy.training.loop import create_before_to_disk_callback, create_evaluation_callback
from spacy.util import fix_random_seed, load_model_from_config, registry
from thinc.api import Config, set_gpu_allocator

from . import __version__
from .annotations import check_annotations
from .batching import auto_max_batch_size, resolve_batcher
from .checkpoint import (
    DIR_MODEL_BEST,
    DIR_MODEL_LAST,
    RUN_FILE,
    copy_checkpoint,
    epoch_dir,
    is_run_entry,
    prune_epochs,
    save_epoch,
    save_pipeline,
)
from .config import AUTO, TrainingConfig, describe_paths, one_line, section_at
from .console import Console, use_color
from .device import use_gpu as use_gpu_device
from .errors import Errors, RecipeError, RunInterrupted, UsageError
from .interrupt import Interruption
from .loop import EpochInfo, train_epochs
from .metrics import METRICS_FILE, MetricsRow, append_row, plain
from .plots import PLOT_FILE, plot_training
from .progress import EpochProgress
from .schedules import as_schedule
from .schemas import ConfigSchemaTraining
from .state import Counted, TrainingState, restore_rngs, rng_states, save_state
from .transfer import Transfer, add_new_labels, pipeline_from_base, setup_rehearsal
from .validation import DataSummary, data_warnings, summarize


@dataclass
class TrainingData:
    """The training corpus (a fresh pass over it per call, from memory or streamed from disk) and the dev examples."""

    train: Callable[[], Iterable[Example]]
    dev: list[Example]
    train_summary: DataSummary
    dev_summary: DataSummary
    train_path: str
    dev_path: str
    heldout: bool
    shuffle_buffer: int
    # Pseudo-rehearsal: draws base-annotated examples to join each batch (None: no rehearsal).
    rehearsal: Any = None
    notes: list[str] = field(default_factory=list)

    @property
    def n_train(self) -> int:
        return self.train_summary.docs

    @property
    def streamed(self) -> bool:
        return self.shuffle_buffer > 0


def train(
    training_config: TrainingConfig,
    output_path: Path,
    *,
    use_gpu: int = -1,
    overwrite: bool = False,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    argv: list[str] | None = None,
    quiet: bool = False,
    dry_run: bool = False,
    keep_epochs: int = 0,
) -> Path:
    """Train with the recipe, saving averaged weights, dev scores and the training state after every epoch.

    training_config (TrainingConfig): the config (from config.build_config) and how it came about.
    output_path (Path): the output folder; refused if it holds anything but an earlier run (unless overwrite).
    use_gpu (int): GPU id, or -1 for the CPU.
    overwrite (bool): replace an earlier run in output_path and write beside files that are not ours.
    stdout, stderr (IO): where progress and warnings go (default: sys.stdout, sys.stderr).
    argv (List[str]): the command line, recorded in OUT/run.json.
    quiet (bool): print only errors and the final summary.
    dry_run (bool): check the config and read and summarise the data, then stop before writing anything.
    keep_epochs (int): keep only the last K epoch folders (0: all); model-best and model-last always stay.
    RETURNS (Path): the output folder.
    """
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    console = Console(stdout, quiet=quiet)
    output_path = Path(output_path)
    check_keep_epochs(keep_epochs)
    check_output_dir(output_path, overwrite=overwrite)
    use_gpu_device(use_gpu)
    config = training_config.config
    base = config["paths"].get("base_model")
    if config["training"].get("rehearsal", {}).get("enabled") and not base:
        raise RecipeError(Errors.E068)
    if base and config["paths"].get("vectors"):
        raise RecipeError(Errors.E069)
    nlp, auto_batch, transfer = _create_pipeline(config)
    # Resolve [training] once, before reading any data, so a bad setting fails fast.
    T = _resolve_training(nlp.config)
    check_limits(T)
    trained = _trained_components(nlp)
    data = _read_data(nlp, trained, T["shuffle_buffer"])
    if auto_batch:
        # The recipe: the maximum batch size follows the components and the amount of data.
        nlp.config["training"]["batcher"]["size"]["stop"] = auto_max_batch_size(list(trained.values()), data.n_train)
        T["batcher"], T["batch_sizes"] = _resolve_batcher(nlp.config)
    optimizer = T["optimizer"]
    if transfer is None:
        with nlp.select_pipes(disable=T["frozen_components"]):
            nlp.initialize(data.train, sgd=optimizer)
    else:
        # The base's components keep their weights; only added components are initialised.
        for name, labels in add_new_labels(nlp, transfer, data.train()).items():
            data.notes.append(f"{name}: new labels added to the base model's: {', '.join(labels)}")
        if transfer.added:
            with nlp.select_pipes(enable=transfer.added):
                nlp.initialize(data.train, sgd=optimizer)
        data.notes[:0] = transfer.describe()
    if T["rehearsal"].get("enabled"):
        setup_rehearsal(nlp, T, data)

    _print_setup(console, training_config, nlp, data, output_path, auto_batch)
    if dry_run:
        console.good("Dry run: config and data are valid; nothing was written")
        return output_path
    _prepare_output_dir(output_path, overwrite=overwrite, argv=argv, config=nlp.config, keep_epochs=keep_epochs)
    return fit(nlp, T, data, output_path, stdout=stdout, stderr=stderr, quiet=quiet, keep_epochs=keep_epochs)


def check_limits(T: dict[str, Any]) -> None:
    if T["max_epochs"] <= 0 and T["max_steps"] <= 0 and T["patience"] <= 0:
        raise RecipeError(Errors.E016)


def check_keep_epochs(keep_epochs: int) -> None:
    if keep_epochs < 0:
        raise UsageError(Errors.E065.format(value=keep_epochs))


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
) -> Path:
    """Run the epochs and checkpoint each one; with a saved state, go on from where it was.

    T is the resolved [training] block; its optimizer, schedules and batcher are fresh, and a
    state (with restore_state already applied to nlp and the optimizer) moves them to its position.
    """
    optimizer = T["optimizer"]
    rng = random.Random(T["seed"])
    dropouts = Counted(as_schedule(T["dropout"]))
    sizes: Counted | None = T["batch_sizes"]
    rehearsal_rng = data.rehearsal.rng if data.rehearsal is not None else None
    rows: list[MetricsRow] = []
    best_score, best_epoch, first_epoch, step, words = -float("inf"), 0, 1, 0, 0
    if state is not None:
        # Replay the schedules to where they were, and put the generators back in their states.
        dropouts.skip(state.draws["dropout"])
        if sizes is not None:
            sizes.skip(state.draws["batch_size"])
        for _ in range(state.draws["optimizer"]):
            optimizer.step_schedules()
        restore_rngs(state, rng, rehearsal_rng)
        rows = [MetricsRow(**row) for row in state.rows]  # type: ignore[typeddict-item]
        best_score, best_epoch = state.best_score, state.best_epoch
        first_epoch, step, words = state.epoch + 1, state.step, state.words
    console = Console(stdout, quiet=quiet)
    # --quiet silences the console table too; other loggers (MLflow, W&B...) log as usual.
    log_step, finalize = T["logger"](nlp, stdout if not quiet else io.StringIO(), stderr)
    progress = EpochProgress(data.n_train, stderr, show=not quiet and use_color(stderr))
    if state is not None:
        progress.trace = [tuple(point) for point in state.trace]  # type: ignore[misc]
    evaluate = create_evaluation_callback(nlp, lambda _: data.dev, T["score_weights"])
    before_to_disk = create_before_to_disk_callback(T["before_to_disk"])
    checkpoints: list[tuple[float, int]] = [(row["score"], row["step"]) for row in rows]
    start = time.perf_counter()
    epoch = first_epoch
    with Interruption() as interrupted:
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
            progress.close()
            epoch = info.epoch
            if info.interrupted:
                _save_interrupted(nlp, optimizer, output_path)
                break
            path = output_path / epoch_dir(info.epoch)
            draws = {"dropout": dropouts.drawn, "batch_size": sizes.drawn if sizes else 0, "optimizer": info.step}
            record = _Record(rows, best_score, best_epoch, draws, {}, progress.trace, rng, rehearsal_rng)
            row = _checkpoint_epoch(nlp, optimizer, info, record, path, evaluate, before_to_disk)
            if row["best"]:
                best_score, best_epoch = row["score"], info.epoch
            with disk_errors(output_path):
                _finish_epoch(output_path, path, row, keep_epochs)
            rows.append(row)
            plot_training(rows, progress.trace, output_path / PLOT_FILE)
            checkpoints.append((row["score"], info.step))
            log_step(_logger_info(info, row, checkpoints, output_path, time.perf_counter() - start))
            # The next epoch starts from the generator states saved with this one, whatever the
            # bookkeeping since drew from them, so a resumed run goes on exactly as this one does.
            restore_rngs(record.saved, rng, rehearsal_rng)
            patience = T["patience"]
            if patience and info.epoch - best_epoch >= patience:
                console.info(f"Stopping: no better dev score for {patience} epochs")
                break
        progress.close()
        finalize()
        if interrupted():
            last = output_path / DIR_MODEL_LAST
            raise RunInterrupted(
                Errors.E064.format(signal=interrupted.name, epoch=epoch, last=last, out=output_path),
                interrupted.signum or signal.SIGINT,
            )
    _print_summary(Console(stdout), rows, T["score_weights"], output_path, time.perf_counter() - start)
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

    @property
    def saved(self) -> TrainingState:
        """A state holding only the generator states saved (for restore_rngs)."""
        return TrainingState(0, 0, 0, 0.0, 0, {}, **self.rngs)


def _checkpoint_epoch(
    nlp: Language,
    optimizer: Any,
    info: EpochInfo,
    record: _Record,
    path: Path,
    evaluate: Callable[[], tuple[float, dict[str, Any]]],
    before_to_disk: Callable[[Language], Language],
) -> MetricsRow:
    """Evaluate and save the epoch with its training state; its metrics row (best: a better score; ties keep
    the earlier epoch)."""
    start = time.perf_counter()
    rows: list[MetricsRow] = []

    def write_state(folder: Path, score: float, scores: dict[str, Any]) -> None:
        # The generators as they are after evaluation, where the next epoch starts from them.
        record.rngs.update(rng_states(record.rng, record.rehearsal_rng))
        is_best = score > record.best_score
        row = _metrics_row(info, score, scores, is_best, time.perf_counter() - start)
        rows.append(row)
        state = TrainingState(
            epoch=info.epoch,
            step=info.step,
            words=info.words,
            best_score=score if is_best else record.best_score,
            best_epoch=info.epoch if is_best else record.best_epoch,
            draws=record.draws,
            **record.rngs,
            rows=[plain(r) for r in [*record.rows, row]],
            trace=[list(point) for point in record.trace],
        )
        save_state(nlp, optimizer, state, folder)

    with disk_errors(path):
        save_epoch(nlp, optimizer, path, evaluate=evaluate, before_to_disk=before_to_disk, write_state=write_state)
    return rows[0]


def _finish_epoch(out: Path, path: Path, row: MetricsRow, keep_epochs: int) -> None:
    """After the epoch folder is in place: its metrics row, model-last and model-best, then pruning."""
    append_row(out / METRICS_FILE, row)
    copy_checkpoint(path, out / DIR_MODEL_LAST)
    if row["best"]:
        copy_checkpoint(path, out / DIR_MODEL_BEST)
    prune_epochs(out, row["epoch"], keep_epochs)


def _save_interrupted(nlp: Language, optimizer: Any, out: Path) -> None:
    """The averaged weights of an interrupted epoch go to model-last (the epoch folders stay as they were)."""
    with nlp.use_params(optimizer.averages), disk_errors(out):
        save_pipeline(nlp, out / DIR_MODEL_LAST)


@contextmanager
def disk_errors(path: Path) -> Iterator[None]:
    """Turn a full disk or a refused permission while writing into a one-line error."""
    try:
        yield
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS):
            raise RecipeError(Errors.E062.format(path=e.filename or path, reason=e.strerror)) from None
        raise


def _print_summary(
    console: Console, rows: list[MetricsRow], weights: dict[str, Any], out: Path, seconds: float
) -> None:
    """Best epoch and its scores, where it is saved, total time, training words per second."""
    if not rows:
        return
    best = max(rows, key=lambda row: (row["score"], -row["epoch"]))
    shown = [key for key, weight in weights.items() if weight and isinstance(best["scores"].get(key), (int, float))]
    scores = ", ".join(f"{key} {best['scores'][key]:.4f}" for key in shown)
    train_seconds = sum(row["train_seconds"] for row in rows)
    console.good(
        f"Best epoch {best['epoch']} of {len(rows)}: score {best['score']:.4f}" + (f" ({scores})" if scores else "")
    )
    console.info("Saved", f"{out / DIR_MODEL_BEST} (every epoch in {out / 'epoch-NNN'})")
    console.info(
        "Time", f"{seconds:.0f}s in all, {rows[-1]['words'] / max(train_seconds, 1e-9):,.0f} training words/second"
    )


def check_output_dir(path: Path, *, overwrite: bool) -> None:
    """Refuse an output folder that holds other files, or an earlier run, unless overwrite."""
    if path.exists() and not path.is_dir():
        raise RecipeError(Errors.E042.format(path=path))
    if not path.exists() or overwrite:
        return
    entries = sorted(p.name for p in path.iterdir())
    foreign = [name for name in entries if not is_run_entry(name)]
    if foreign:
        examples = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise RecipeError(Errors.E040.format(path=path, examples=examples))
    if entries:
        raise RecipeError(Errors.E041.format(path=path))


def _prepare_output_dir(
    path: Path, *, overwrite: bool, argv: list[str] | None, config: Config, keep_epochs: int
) -> None:
    """Create the output folder; with overwrite, remove an earlier run's entries (only ours)."""
    path.mkdir(parents=True, exist_ok=True)
    if overwrite:
        for entry in path.iterdir():
            if is_run_entry(entry.name):
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    run = {
        "recipe_train": __version__,
        "argv": argv or [],
        # Relative data paths in the config are relative to this folder.
        "cwd": os.getcwd(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "paths": {"train": config["paths"]["train"], "dev": config["paths"]["dev"]},
        "keep_epochs": keep_epochs,
    }
    srsly.write_json(path / RUN_FILE, run)


def _create_pipeline(config: Config) -> tuple[Language, bool, Transfer | None]:
    """Create the pipeline (from paths.base_model if set, else uninitialised from the config).

    RETURNS: the pipeline, whether the batch size maximum is automatic, and how a base model was used.
    """
    _check_training_keys(config)
    config = Config(config)
    size = config["training"].get("batcher", {}).get("size", {})
    auto_batch = isinstance(size, dict) and size.get("stop") == AUTO
    if auto_batch:
        # A number stands in until the training data has been counted.
        size["stop"] = 1
    transfer = None
    try:
        interpolated = config.interpolate()
        fix_random_seed(interpolated["system"]["seed"])
        allocator = interpolated["system"]["gpu_allocator"]
        if allocator:
            set_gpu_allocator(allocator)
        base = interpolated["paths"].get("base_model")
        if base:
            nlp, transfer = pipeline_from_base(config, base)
        else:
            vectors_file = _vectors_file(interpolated["paths"].get("vectors"))
            if vectors_file is not None:
                # A vectors file (not a pipeline): spaCy's `init vectors` conversion, straight into this vocab.
                config["paths"]["vectors"] = None
            nlp = load_model_from_config(config, auto_fill=True, validate=True)
            if vectors_file is not None:
                convert_vectors(nlp, vectors_file, truncate=0, prune=-1, name=None)
        # spaCy's fill drops [training] settings its own schema lacks; keep ours (checked above).
        for key, value in config["training"].items():
            nlp.config["training"].setdefault(key, value)
    except ConfigValidationError as e:
        raise RecipeError(Errors.E012.format(where="config", details=one_line(e))) from None
    except (KeyError, ValueError, ImportError, RegistryError) as e:
        raise RecipeError(Errors.E012.format(where="config", details=f"{type(e).__name__}: {e}")) from None
    return nlp, auto_batch, transfer


def _vectors_file(value: Any) -> Path | None:
    """The vectors file paths.vectors names, or None when it names a pipeline folder (or nothing)."""
    if not value:
        return None
    path = Path(str(value))
    if not path.exists():
        raise RecipeError(Errors.E020.format(path=path))
    return None if path.is_dir() else path


def _check_training_keys(config: Config) -> None:
    """Refuse unknown [training] settings: spaCy and confection drop them silently, typos included."""
    known = ConfigSchemaTraining.model_fields
    for key in config.get("training", {}):
        if key not in known:
            close = get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise RecipeError(Errors.E012.format(where="[training]", details=f"training.{key}: unknown setting{hint}"))


def _resolve_training(config: Config) -> dict[str, Any]:
    """Resolve [training] once: its schedules are stateful and must not restart.

    T["batcher"] is resolved with its size schedule counted (T["batch_sizes"]), for the training state.
    """
    try:
        T = registry.resolve(config.interpolate()["training"], schema=ConfigSchemaTraining)
    except ConfigValidationError as e:
        raise RecipeError(Errors.E012.format(where="[training]", details=one_line(e, "training."))) from None
    except (RegistryError, ValueError, TypeError) as e:
        raise RecipeError(Errors.E012.format(where="[training]", details=f"{type(e).__name__}: {e}")) from None
    T["batcher"], T["batch_sizes"] = _resolve_batcher(config)
    return T


def _resolve_batcher(config: Config) -> tuple[Any, Counted | None]:
    """Resolve the batcher alone (again once its automatic maximum size is known), its sizes counted."""
    try:
        return resolve_batcher(config.interpolate()["training"]["batcher"])
    except ConfigValidationError as e:
        raise RecipeError(
            Errors.E012.format(where="[training.batcher]", details=one_line(e, "training.batcher."))
        ) from None


def _trained_components(nlp: Language) -> dict[str, str]:
    """Name → factory of the components that will be updated."""
    frozen = set(nlp.config["training"]["frozen_components"])
    return {
        name: nlp.get_pipe_meta(name).factory
        for name, proc in nlp.pipeline
        if name not in frozen and getattr(proc, "is_trainable", False)
    }


def _read_data(nlp: Language, trained: dict[str, str], shuffle_buffer: int) -> TrainingData:
    """Read the dev examples, and the training examples into memory or (shuffle_buffer > 0) count them in one pass.

    Checks that both can teach the trained components.
    """
    config = nlp.config.interpolate()
    T = config["training"]
    try:
        train_corpus, dev_corpus = resolve_dot_names(config, [T["train_corpus"], T["dev_corpus"]])
    except ConfigValidationError as e:
        raise RecipeError(Errors.E012.format(where="[corpora]", details=one_line(e))) from None
    train_cfg = section_at(config, T["train_corpus"])
    dev_cfg = section_at(config, T["dev_corpus"])
    train_path, dev_path = describe_paths(train_cfg.get("path")), describe_paths(dev_cfg.get("path"))
    if shuffle_buffer > 0:
        # Streamed: each pass reads the files again; only the counts are kept.
        def train() -> Iterable[Example]:
            return train_corpus(nlp)
    else:
        examples = list(train_corpus(nlp))

        def train() -> Iterable[Example]:
            return examples

    train_summary = summarize(train())
    if not train_summary.docs:
        raise RecipeError(Errors.E028.format(path=train_path))
    dev = list(dev_corpus(nlp))
    if not dev:
        raise RecipeError(Errors.E028.format(path=dev_path))
    check_annotations(train(), trained, train_path, n=train_summary.docs)
    check_annotations(dev, trained, dev_path, n=len(dev))
    return TrainingData(
        train=train,
        dev=dev,
        train_summary=train_summary,
        dev_summary=summarize(dev),
        train_path=train_path,
        dev_path=dev_path,
        heldout=dev_cfg.get("part") == "heldout",
        shuffle_buffer=max(0, shuffle_buffer),
    )


def _print_setup(
    console: Console, tc: TrainingConfig, nlp: Language, data: TrainingData, out: Path, auto_batch: bool
) -> None:
    for path, (var, value) in tc.env_applied.items():
        console.info(f"Environment override {var}", f"{path} = {value}")
    for note in tc.notes:
        console.info(note)
    if tc.departures:
        console.warn("This config departs from the recipe")
        for line in tc.departures:
            console.line(f"    {line}")
    train_summary, dev_summary = data.train_summary, data.dev_summary
    console.info("Pipeline", f"{', '.join(nlp.pipe_names)} (lang '{nlp.lang}')")
    how = f"streamed from disk, shuffled {data.shuffle_buffer:,} at a time" if data.streamed else "in memory"
    console.info("Training data", f"{data.n_train:,} examples ({how}): {train_summary.describe()} ({data.train_path})")
    for name, counts in train_summary.labels.items():
        top = ", ".join(f"{label} {n:,}" for label, n in counts.most_common(12))
        console.line(f"    {name} ({len(counts)}): {top}{', ...' if len(counts) > 12 else ''}")
    if data.heldout:
        seed = nlp.config.interpolate()["system"]["seed"]
        total = data.n_train + len(data.dev)
        console.info(
            "Dev data", f"{len(data.dev):,} of {total:,} examples held out from the training data (seed {seed})"
        )
    else:
        console.info("Dev data", f"{len(data.dev):,} examples: {dev_summary.describe()} ({data.dev_path})")
    for note in data.notes:
        console.info("Transfer", note)
    factories = [nlp.get_pipe_meta(name).factory for name in nlp.pipe_names]
    for warning in data_warnings(train_summary, dev_summary, factories):
        console.warn("Data", warning)
    size = nlp.config["training"]["batcher"].get("size")
    if isinstance(size, dict) and "stop" in size:
        how = "automatic" if auto_batch else "from the config"
        console.info("Batch size", f"{size.get('start')} → {size['stop']} examples ({how})")
    console.info("Output", str(out))


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


def _logger_info(
    info: EpochInfo, row: MetricsRow, checkpoints: list[tuple[float, int]], output_path: Path, elapsed: float
) -> dict[str, Any]:
    """The info dict spaCy's loggers take, plus the recipe's own columns."""
    return {
        "epoch": info.epoch,
        "step": info.step,
        "score": row["score"],
        "other_scores": row["scores"],
        "losses": row["losses"],
        "checkpoints": list(checkpoints),
        "seconds": int(elapsed),
        "words": info.words,
        "output_path": str(output_path / DIR_MODEL_LAST),
        "batch_size": info.batch_size,
        "dropout": info.dropout,
        "learn_rate": info.learn_rate,
        "best": row["best"],
        "epoch_seconds": row["seconds"],
    }
