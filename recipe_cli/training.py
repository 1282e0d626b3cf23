"""train(): build the pipeline (from a config, or a base model), read and check the data, then fit()."""

import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import IO, Any

from catalogue import RegistryError
from confection import ConfigValidationError
from spacy.language import Language
from spacy.training import Example
from spacy.training.initialize import convert_vectors, resolve_dot_names
from spacy.util import fix_random_seed, load_model_from_config, registry
from thinc.api import Config, set_gpu_allocator

from . import __version__
from .annotations import check_annotations, fit_categories
from .batching import auto_max_batch_size, resolve_batcher
from .checkpoint import RUN_FILE, holds_results, is_run_entry, write_run_file
from .config import AUTO, TrainingConfig, describe_paths, one_line, section_at
from .console import Console
from .device import use_gpu as use_gpu_device
from .errors import Errors, RecipeError, RunInterrupted, UsageError
from .failures import error_log, stage
from .fitting import fit
from .oracle import ParseCheck
from .readers import RecipeCorpus
from .schemas import ConfigSchemaTraining
from .state import Counted
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
    # Warnings found while reading the data, printed with those of the summaries.
    warnings: list[str] = field(default_factory=list)

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
    created = not output_path.exists()
    # An earlier run that --overwrite replaces stays until this run is ready to train.
    replaces = overwrite and not created and holds_results([entry.name for entry in output_path.iterdir()])
    # Whether this run's run.json is written: from then on the folder can be resumed, and a run stopped before its
    # first epoch starts again from it.
    written = not dry_run and not replaces
    if written:
        _prepare_output_dir(output_path, overwrite=overwrite, argv=argv, config=config, keep_epochs=keep_epochs)
    try:
        with _removed_on_error(output_path, created and written):
            data, trained, switched = _read_training_data(nlp, T, transfer)
        if auto_batch:
            # The recipe: the maximum batch size follows the components and the amount of data.
            nlp.config["training"]["batcher"]["size"]["stop"] = auto_max_batch_size(
                list(trained.values()), data.n_train
            )
            T["batcher"], T["batch_sizes"] = _resolve_batcher(nlp.config)
        # A failure inside spaCy or thinc leaves its traceback in OUT/error.log once run.json is there.
        with error_log(output_path, "Initialization") if written else nullcontext(), stage("Initialization"):
            _initialize(nlp, T, data, transfer)

        _print_setup(console, training_config, nlp, data, output_path, auto_batch, switched=switched)
    except KeyboardInterrupt:
        # Ctrl-C before the first update (spaCy and thinc were reading or initialising): no signal handler yet.
        if written:
            raise RunInterrupted(Errors.E072.format(out=output_path), signal.SIGINT) from None
        raise
    if dry_run:
        console.good("Dry run: config and data are valid; nothing was written")
        return output_path
    if replaces:
        # The earlier run is replaced only now, once this run's data is read and its pipeline initialised.
        _prepare_output_dir(output_path, overwrite=overwrite, argv=argv, config=config, keep_epochs=keep_epochs)
    return fit(nlp, T, data, output_path, stdout=stdout, stderr=stderr, quiet=quiet, keep_epochs=keep_epochs)


def _read_training_data(
    nlp: Language, T: dict[str, Any], transfer: Transfer | None
) -> tuple[TrainingData, dict[str, str], list[str]]:
    """Read and check the data, and fit the text classifiers to its categories (before anything is initialised:
    a textcat given one yes/no label becomes a textcat_multilabel).

    RETURNS: the data, the trained components (name → factory) and a line for each component switched.
    """
    trained = _trained_components(nlp)
    # An exception from spaCy or thinc while reading: one line, the traceback in a temporary file (the CLI names it).
    with stage("Reading the data"):
        data = _read_data(nlp, trained, T["shuffle_buffer"])
    switched = fit_categories(nlp, trained, data.train_summary, base=transfer is not None)
    return data, (_trained_components(nlp) if switched else trained), switched


@contextmanager
def _removed_on_error(output_path: Path, remove: bool) -> Iterator[None]:
    """Data that cannot be trained on: nothing started, and the folder this run created (if remove) goes again."""
    try:
        yield
    except RecipeError:
        if remove:
            _remove_output_dir(output_path)
        raise


def _initialize(nlp: Language, T: dict[str, Any], data: TrainingData, transfer: Transfer | None) -> None:
    """Initialise the trained components on the training data (with a base model, only those it lacks)."""
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


def check_limits(T: dict[str, Any]) -> None:
    if T["max_epochs"] <= 0 and T["max_steps"] <= 0 and T["patience"] <= 0:
        raise RecipeError(Errors.E016)


def check_keep_epochs(keep_epochs: int) -> None:
    if keep_epochs < 0:
        raise UsageError(Errors.E065.format(value=keep_epochs))


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
    if holds_results(entries):
        raise RecipeError(Errors.E041.format(path=path))


def _prepare_output_dir(
    path: Path, *, overwrite: bool, argv: list[str] | None, config: Config, keep_epochs: int
) -> None:
    """Create the output folder and write run.json; with overwrite, or where an earlier run saved nothing yet,
    remove the earlier run's entries (only ours).

    config is the run's config before the pipeline is created from it (the automatic batch size not yet
    filled in): what --resume starts the run again from when it was stopped before its first epoch.
    """
    path.mkdir(parents=True, exist_ok=True)
    if overwrite or not holds_results([entry.name for entry in path.iterdir()]):
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
        "config": config.to_str(),
    }
    write_run_file(path, run)


def _remove_output_dir(path: Path) -> None:
    """Remove the output folder a run that could not start created: its run.json, and the folder if then empty."""
    (path / RUN_FILE).unlink(missing_ok=True)
    if not any(path.iterdir()):
        path.rmdir()


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
            rehearsal = interpolated["training"].get("rehearsal", {})
            distill = bool(rehearsal.get("enabled")) and rehearsal.get("mode") == "distill"
            nlp, transfer = pipeline_from_base(config, base, own_tok2vec=distill)
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
    """Read the dev examples, and count the training examples in one pass, keeping them in memory unless they
    are more than shuffle_buffer (> 0), in which case every later pass streams them from the files again.

    Checks that both can teach the trained components; training documents whose gold parse a trained parser's
    oracle cannot follow lose that parse, on every pass (oracle.ParseCheck).
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
    # The parser's oracle sees each training document on this first pass; those it cannot follow lose their parse.
    parse_check = ParseCheck.for_pipeline(nlp, trained)
    if parse_check is not None:
        if isinstance(train_corpus, RecipeCorpus):
            train_corpus.parse_check = parse_check
        else:
            train_corpus = parse_check.wrap(train_corpus, train_path)
    # One counting pass; the examples are kept while they fit in the shuffle buffer (0: no bound).
    kept: list[Example] | None = []

    def counted() -> Iterator[Example]:
        nonlocal kept
        for eg in train_corpus(nlp):
            if kept is not None:
                kept.append(eg)
                if 0 < shuffle_buffer < len(kept):
                    kept = None  # more than the buffer holds: stream it, reading the files on every pass
            yield eg

    train_summary = summarize(counted())
    if not train_summary.docs:
        raise RecipeError(Errors.E028.format(path=train_path))
    warnings: list[str] = []
    if parse_check is not None:
        parse_check.check_left(train_path)
        if parse_check.dropped:
            warnings.append(parse_check.warning())
    examples = kept
    if examples is not None:
        # In memory: read once. A corpus that fits in the buffer is shuffled exactly as a streamed one would be.
        shuffle_buffer = 0

        def train() -> Iterable[Example]:
            return examples
    else:

        def train() -> Iterable[Example]:
            return train_corpus(nlp)

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
        warnings=warnings,
    )


def _print_setup(
    console: Console,
    tc: TrainingConfig,
    nlp: Language,
    data: TrainingData,
    out: Path,
    auto_batch: bool,
    *,
    switched: Iterable[str] = (),
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
    for note in switched:
        console.info("Component", note)
    how = f"streamed from disk, shuffled {data.shuffle_buffer:,} at a time" if data.streamed else "in memory"
    if not data.streamed and nlp.config["training"].get("shuffle_buffer", 0) > 0:
        how = "in memory: fewer than the shuffle buffer holds"
    console.info("Training data", f"{data.n_train:,} examples ({how}): {train_summary.describe()} ({data.train_path})")
    yes_no = train_summary.category_labels if len(train_summary.category_labels) == 1 else set()
    for name, counts in train_summary.labels.items():
        if name == "categories" and yes_no:
            continue
        top = ", ".join(f"{label} {n:,}" for label, n in counts.most_common(12))
        console.line(f"    {name} ({len(counts)}): {top}{', ...' if len(counts) > 12 else ''}")
    for label in yes_no:  # one category: a yes/no question, its answers counted
        console.line(f"    categories (1, yes/no): {train_summary.yes_no(label)}")
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
    for warning in data.warnings + data_warnings(train_summary, dev_summary, factories):
        console.warn("Data", warning)
    size = nlp.config["training"]["batcher"].get("size")
    if isinstance(size, dict) and "stop" in size:
        how = "automatic" if auto_batch else "from the config"
        console.info("Batch size", f"{size.get('start')} → {size['stop']} examples ({how})")
    console.info("Output", str(out))
