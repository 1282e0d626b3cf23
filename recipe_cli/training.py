"""train(): build the pipeline, read the data, run the loop, and checkpoint every epoch."""

import io
import os
import random
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import IO, Any

import srsly
from catalogue import RegistryError
from confection import ConfigValidationError
from spacy.language import Language
from spacy.training import Example
from spacy.training.initialize import resolve_dot_names
from spacy.training.loop import create_before_to_disk_callback, create_evaluation_callback
from spacy.util import fix_random_seed, load_model_from_config, registry
from thinc.api import Config, set_gpu_allocator

from . import __version__
from .annotations import check_annotations
from .batching import auto_max_batch_size
from .checkpoint import DIR_MODEL_BEST, DIR_MODEL_LAST, RUN_FILE, copy_checkpoint, epoch_dir, is_run_entry, save_epoch
from .config import AUTO, TrainingConfig, describe_paths, one_line, section_at
from .console import Console, use_color
from .device import use_gpu as use_gpu_device
from .errors import Errors, RecipeError
from .loop import EpochInfo, train_epochs
from .metrics import METRICS_FILE, MetricsRow, append_row
from .plots import PLOT_FILE, plot_training
from .progress import EpochProgress
from .schedules import as_schedule
from .schemas import ConfigSchemaTraining
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
) -> Path:
    """Train with the recipe, saving averaged weights and dev scores after every epoch.

    training_config (TrainingConfig): the config (from config.build_config) and how it came about.
    output_path (Path): the output folder; refused if it holds anything but an earlier run (unless overwrite).
    use_gpu (int): GPU id, or -1 for the CPU.
    overwrite (bool): replace an earlier run in output_path and write beside files that are not ours.
    stdout, stderr (IO): where progress and warnings go (default: sys.stdout, sys.stderr).
    argv (List[str]): the command line, recorded in OUT/run.json.
    quiet (bool): print only errors and the final summary.
    dry_run (bool): check the config and read and summarise the data, then stop before writing anything.
    RETURNS (Path): the output folder.
    """
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    console = Console(stdout, quiet=quiet)
    output_path = Path(output_path)
    check_output_dir(output_path, overwrite=overwrite)
    use_gpu_device(use_gpu)
    config = training_config.config
    nlp, auto_batch = _create_pipeline(config)
    # Resolve [training] once, before reading any data, so a bad setting fails fast.
    T = _resolve_training(nlp.config)
    if T["max_epochs"] <= 0 and T["max_steps"] <= 0 and T["patience"] <= 0:
        raise RecipeError(Errors.E016)
    trained = _trained_components(nlp)
    data = _read_data(nlp, trained, T["shuffle_buffer"])
    if auto_batch:
        # The recipe: the maximum batch size follows the components and the amount of data.
        nlp.config["training"]["batcher"]["size"]["stop"] = auto_max_batch_size(list(trained.values()), data.n_train)
        T["batcher"] = _resolve_batcher(nlp.config)
    optimizer = T["optimizer"]
    with nlp.select_pipes(disable=T["frozen_components"]):
        nlp.initialize(data.train, sgd=optimizer)

    _print_setup(console, training_config, nlp, data, output_path, auto_batch)
    if dry_run:
        console.good("Dry run: config and data are valid; nothing was written")
        return output_path
    _prepare_output_dir(output_path, overwrite=overwrite, argv=argv, config=nlp.config)
    # --quiet silences the console table too; other loggers (MLflow, W&B...) log as usual.
    log_step, finalize = T["logger"](nlp, stdout if not quiet else io.StringIO(), stderr)
    progress = EpochProgress(data.n_train, stderr, show=not quiet and use_color(stderr))
    evaluate = create_evaluation_callback(nlp, lambda _: data.dev, T["score_weights"])
    before_to_disk = create_before_to_disk_callback(T["before_to_disk"])
    epochs = train_epochs(
        nlp,
        optimizer,
        data.train,
        batcher=T["batcher"],
        dropouts=as_schedule(T["dropout"]),
        rng=random.Random(T["seed"]),
        shuffle_buffer=data.shuffle_buffer,
        max_epochs=T["max_epochs"],
        max_steps=T["max_steps"],
        accumulate_gradient=T["accumulate_gradient"],
        exclude=T["frozen_components"],
        annotating_components=T["annotating_components"],
        before_update=T["before_update"],
        after_update=progress,
    )
    start = time.perf_counter()
    best_score, best_epoch = -float("inf"), 0
    checkpoints: list[tuple[float, int]] = []
    rows: list[MetricsRow] = []
    for info in epochs:
        progress.close()
        checkpoint_start = time.perf_counter()
        path = output_path / epoch_dir(info.epoch)
        score, scores = save_epoch(nlp, optimizer, path, evaluate=evaluate, before_to_disk=before_to_disk)
        copy_checkpoint(path, output_path / DIR_MODEL_LAST)
        # Ties keep the earlier epoch.
        is_best = score > best_score
        if is_best:
            best_score, best_epoch = score, info.epoch
            copy_checkpoint(path, output_path / DIR_MODEL_BEST)
        checkpoint_seconds = time.perf_counter() - checkpoint_start
        row = _metrics_row(info, score, scores, is_best, checkpoint_seconds)
        rows.append(row)
        append_row(output_path / METRICS_FILE, row)
        plot_training(rows, progress.trace, output_path / PLOT_FILE)
        checkpoints.append((score, info.step))
        log_step(_logger_info(info, row, checkpoints, output_path, time.perf_counter() - start))
        patience = T["patience"]
        if patience and info.epoch - best_epoch >= patience:
            console.info(f"Stopping: no better dev score for {patience} epochs")
            break
    progress.close()
    finalize()
    _print_summary(Console(stdout), rows, T["score_weights"], output_path, time.perf_counter() - start)
    return output_path


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


def _prepare_output_dir(path: Path, *, overwrite: bool, argv: list[str] | None, config: Config) -> None:
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
    }
    srsly.write_json(path / RUN_FILE, run)


def _create_pipeline(config: Config) -> tuple[Language, bool]:
    """Create the (uninitialised) pipeline; say whether the batch size maximum is automatic."""
    _check_training_keys(config)
    config = Config(config)
    size = config["training"].get("batcher", {}).get("size", {})
    auto_batch = isinstance(size, dict) and size.get("stop") == AUTO
    if auto_batch:
        # A number stands in until the training data has been counted.
        size["stop"] = 1
    try:
        interpolated = config.interpolate()
        fix_random_seed(interpolated["system"]["seed"])
        allocator = interpolated["system"]["gpu_allocator"]
        if allocator:
            set_gpu_allocator(allocator)
        nlp = load_model_from_config(config, auto_fill=True, validate=True)
        # spaCy's fill drops [training] settings its own schema lacks; keep ours (checked above).
        for key, value in config["training"].items():
            nlp.config["training"].setdefault(key, value)
    except ConfigValidationError as e:
        raise RecipeError(Errors.E012.format(where="config", details=one_line(e))) from None
    except (KeyError, ValueError, ImportError, RegistryError) as e:
        raise RecipeError(Errors.E012.format(where="config", details=f"{type(e).__name__}: {e}")) from None
    return nlp, auto_batch


def _check_training_keys(config: Config) -> None:
    """Refuse unknown [training] settings: spaCy and confection drop them silently, typos included."""
    known = ConfigSchemaTraining.model_fields
    for key in config.get("training", {}):
        if key not in known:
            close = get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise RecipeError(Errors.E012.format(where="[training]", details=f"training.{key}: unknown setting{hint}"))


def _resolve_training(config: Config) -> dict[str, Any]:
    """Resolve [training] once: its schedules are stateful and must not restart."""
    try:
        return registry.resolve(config.interpolate()["training"], schema=ConfigSchemaTraining)
    except ConfigValidationError as e:
        raise RecipeError(Errors.E012.format(where="[training]", details=one_line(e, "training."))) from None
    except (RegistryError, ValueError, TypeError) as e:
        raise RecipeError(Errors.E012.format(where="[training]", details=f"{type(e).__name__}: {e}")) from None


def _resolve_batcher(config: Config) -> Any:
    """Resolve the batcher alone, once its automatic maximum size is known."""
    try:
        return registry.resolve({"batcher": config.interpolate()["training"]["batcher"]})["batcher"]
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
