"""train(): a fresh run. The output folder is checked and prepared, the run set up (setup.py), then fit()."""

import shutil
import signal
import sys
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import partial
from pathlib import Path
from typing import IO, Any

from spacy.language import Language
from thinc.api import Config

from .. import __version__
from ..config.build import TrainingConfig
from ..config.schemas import rehearsal_settings
from ..data.sources import file_records, is_file_record
from ..data.summary import DataSummary, data_warnings
from ..device import describe_device
from ..device import use_gpu as use_gpu_device
from ..display.console import Console
from ..errors import Errors, RecipeError, RunInterrupted, Warnings
from ..output.failures import error_log, stage
from ..output.layout import RUN_FILE, holds_results, is_run_entry, new_run, rebase_config_paths, write_run_file
from ..output.lock import LOCK_FILE, locked
from .batching import batch_size_unit
from .fit import fit
from .optimizer import describe_optimizer
from .plan import auto_settings, plan_run
from .setup import (
    add_base_labels,
    check_keep_epochs,
    check_settings,
    create_pipeline,
    fit_to_categories,
    initialize,
    read_training_data,
    resolve_training,
)
from .training_data import TrainingData


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
    plot: bool = True,
    started: dict[str, Any] | None = None,
    code: Path | str | None = None,
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
    plot (bool): redraw OUT/training.png after every epoch (in a worker process).
    started (Dict[str, Any]): the run.json of a run started again (--resume of a run stopped before its first
        epoch): its relative data paths are read from the folder it was started in, its run.json keeps that folder,
        and what it writes holds the paths as typed, as the uninterrupted run's folders do.
    code (Path or str): the --code file the caller imported (config.code.import_code), recorded in run.json for
        --resume to import again.
    RETURNS (Path): the output folder.
    """
    output_path = Path(output_path)
    check_keep_epochs(keep_epochs)
    # A file, or a folder of other files, is refused before the lock's file is put in it; an earlier run once the
    # folder is owned (a run still going is refused as such).
    check_output_dir(output_path, overwrite=overwrite, earlier_run=dry_run)
    created = not output_path.exists()
    # One run per folder, from before anything in it is looked at for good: a live run's folder is refused (E043)
    # before its run.json could pass for a run stopped before saving, or --overwrite could remove anything. A dry
    # run writes nothing, so takes no folder.
    with nullcontext() if dry_run else own_output(output_path, create=True):
        if not dry_run:
            check_output_dir(output_path, overwrite=overwrite)
        return _train(training_config, output_path, created=created, use_gpu=use_gpu, overwrite=overwrite,
                      stdout=stdout, stderr=stderr, argv=argv, quiet=quiet, dry_run=dry_run, keep_epochs=keep_epochs,
                      plot=plot, started=started, code=code)  # fmt: skip


def own_output(output_path: Path, *, create: bool = False) -> AbstractContextManager[None]:
    """Own the output folder while the run lasts; another process running in it is refused with E043."""
    return locked(output_path, lambda pid: Errors.E043.format(path=output_path, pid=pid), create=create)


def _train(
    training_config: TrainingConfig,
    output_path: Path,
    *,
    created: bool,
    use_gpu: int,
    overwrite: bool,
    stdout: IO[str] | None,
    stderr: IO[str] | None,
    argv: list[str] | None,
    quiet: bool,
    dry_run: bool,
    keep_epochs: int,
    plot: bool,
    started: dict[str, Any] | None,
    code: Path | str | None,
) -> Path:
    """train() in a folder it owns (created: whether the folder was there before the run)."""
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    console = Console(stdout, quiet=quiet)
    use_gpu_device(use_gpu)
    config = training_config.config
    base = config["paths"].get("base_model")
    if rehearsal_settings(config["training"]).enabled and not base:
        raise RecipeError(Errors.E068)
    if base and config["paths"].get("vectors"):
        raise RecipeError(Errors.E069)
    source, restore_paths = config, None
    if started is not None:
        source = config.copy()
        restore_paths = rebase_config_paths(source, started)
    nlp, transfer = create_pipeline(source)
    auto = auto_settings(nlp.config["training"])
    # [training]'s plain settings are checked before any data is read, so a bad setting fails fast; its blocks
    # once it is planned and resolved, below.
    settings = check_settings(nlp.config)
    # An earlier run that --overwrite replaces stays until this run is ready to train.
    replaces = overwrite and not created and holds_results([entry.name for entry in output_path.iterdir()])
    # Whether this run's run.json is written: from then on the folder can be resumed, and a run stopped before its
    # first epoch starts again from it.
    written = not dry_run and not replaces
    # run.json and the folder's earlier entries: written now, or (replacing an earlier run) once this one is ready.
    prepare = partial(_prepare_output_dir, output_path, overwrite=overwrite, argv=argv, config=config,
                      keep_epochs=keep_epochs, plot=plot, cwd=started.get("cwd") if started else None, code=code)  # fmt: skip
    if written:
        prepare()
    try:
        with _removed_on_error(output_path, created and written):
            data = read_training_data(nlp, settings["shuffle_buffer"])
            record_sources(nlp, data.train_files)
            trained, switched = fit_to_categories(nlp, data, transfer)
            data = add_base_labels(nlp, settings, data, transfer)
            # The plan: every "auto" filled in from the components and the counted data; then [training] is
            # resolved, once.
            nlp.config = plan_run(nlp.config, list(trained.values()), data)
            T = resolve_training(nlp.config)
        # A failure inside spaCy or thinc leaves its traceback in OUT/error.log once run.json is there; data the
        # initialised pipeline refuses (the parser's own oracle, after initialisation) is refused as data is.
        with error_log(output_path, "Initialization") if written else nullcontext(), stage("Initialization"):
            with _removed_on_error(output_path, created and written):
                data = initialize(nlp, T, data, transfer)
        if restore_paths is not None:
            restore_paths(nlp.config)  # read and initialised: the paths as typed again, for the folders written

        _print_setup(console, training_config, nlp, data, output_path, auto, switched=switched)
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
        prepare()
    return fit(nlp, T, data, output_path, stdout=stdout, stderr=stderr, quiet=quiet, keep_epochs=keep_epochs,
               plot=plot)  # fmt: skip


def record_sources(nlp: Language, files: Iterable[Path]) -> None:
    """Record the training files in the pipeline's meta.json ("sources", saved with every epoch), so that a later
    run fine-tuning it can rehearse on them and check they are the same; a base model's entries that name no file
    (a published corpus) are kept, a bare name as {"name": ...} (spaCy's meta schema takes names or records, not
    both in one list)."""
    kept = [source for source in nlp.meta.get("sources") or [] if not is_file_record(source)]
    named = [source if isinstance(source, dict) else {"name": str(source)} for source in kept]
    nlp.meta["sources"] = named + file_records(files)


@contextmanager
def _removed_on_error(output_path: Path, remove: bool) -> Iterator[None]:
    """Data that cannot be trained on: nothing started, and the folder this run created (if remove) goes again."""
    try:
        yield
    except RecipeError:
        if remove:
            _remove_output_dir(output_path)
        raise


def check_output_dir(path: Path, *, overwrite: bool, earlier_run: bool = True) -> None:
    """Refuse an output folder that holds other files, or (if earlier_run) an earlier run, unless overwrite."""
    if path.exists() and not path.is_dir():
        raise RecipeError(Errors.E042.format(path=path))
    if not path.exists() or overwrite:
        return
    entries = sorted(p.name for p in path.iterdir())
    foreign = [name for name in entries if not is_run_entry(name)]
    if foreign:
        examples = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise RecipeError(Errors.E040.format(path=path, examples=examples))
    if earlier_run and holds_results(entries):
        raise RecipeError(Errors.E041.format(path=path))


def _prepare_output_dir(
    path: Path,
    *,
    overwrite: bool,
    argv: list[str] | None,
    config: Config,
    keep_epochs: int,
    plot: bool,
    cwd: str | None = None,
    code: Path | str | None = None,
) -> None:
    """Create the output folder and write run.json; with overwrite, or where an earlier run saved nothing yet,
    remove the earlier run's entries (only ours).

    config is the run's config before the pipeline is created from it (the automatic batch size not yet
    filled in): what --resume starts the run again from when it was stopped before its first epoch.
    """
    path.mkdir(parents=True, exist_ok=True)
    if overwrite or not holds_results([entry.name for entry in path.iterdir()]):
        for entry in path.iterdir():
            if is_run_entry(entry.name) and entry.name != LOCK_FILE:  # the lock this run holds stays
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    run = new_run(
        version=__version__,
        argv=argv or [],
        paths={"train": config["paths"]["train"], "dev": config["paths"]["dev"]},
        keep_epochs=keep_epochs,
        plot=plot,
        config=config.to_str(),
        cwd=cwd,
        code=None if code is None else str(code),
    )
    write_run_file(path, run)


def _remove_output_dir(path: Path) -> None:
    """Remove what a run that could not start wrote in the folder it created: its run.json (the folder, then
    empty, goes when the run lets go of it)."""
    (path / RUN_FILE).unlink(missing_ok=True)


def _print_labels(console: Console, summary: DataSummary, yes_no: set[str] | None = None) -> None:
    """A corpus's labels with their counts, most frequent first, layer by layer, and what reading it changed.

    yes_no (Set[str]): the categories that make a single yes/no question (default: the corpus's own, when it has
        one category); the dev data is shown the way the training data's categories are.
    """
    labels = summary.category_labels if yes_no is None else yes_no
    yes_no = labels if len(labels) == 1 else set()
    for name, counts in summary.labels.items():
        if name == "categories" and yes_no:
            continue
        top = ", ".join(f"{label} {n:,}" for label, n in counts.most_common(12))
        console.line(f"    {name} ({len(counts)}): {top}{', ...' if len(counts) > 12 else ''}")
    for label in yes_no:  # one category: a yes/no question, its answers counted
        console.line(f"    categories (1, yes/no): {summary.yes_no(label)}")
    for note in summary.reading_notes():
        console.line(f"    {note}")


def _print_setup(
    console: Console,
    tc: TrainingConfig,
    nlp: Language,
    data: TrainingData,
    out: Path,
    auto: list[str],
    *,
    switched: Iterable[str] = (),
) -> None:
    if tc.replaced:
        # recipe-train CONFIG.cfg: the settings the user swapped `spacy train` for, said before anything else.
        console.info(f"The recipe's training settings replace {tc.config_path}'s (--keep-training-settings keeps them)")
        for line in tc.replaced:
            console.line(f"    {line}")
    for path, (var, value) in tc.env_applied.items():
        console.info(f"Environment override {var}", f"{path} = {value}")
    for note in tc.notes:
        console.info(note)
    if tc.departures:
        console.warn(Warnings.W004)
        for line in tc.departures:
            console.line(f"    {line}")
    train_summary, dev_summary = data.train_summary, data.dev_summary
    console.info("Pipeline", f"{', '.join(nlp.pipe_names)} (lang '{nlp.lang}')")
    device = describe_device()
    console.info("Device", device)
    optimizer = nlp.config["training"]["optimizer"].get("@optimizers", "")
    console.info("Optimizer", describe_optimizer(optimizer, gpu=device != "CPU"))
    for note in switched:
        console.info("Component", note)
    how = f"streamed from disk, shuffled {data.shuffle_buffer:,} at a time" if data.streamed else "in memory"
    if not data.streamed and nlp.config["training"].get("shuffle_buffer", 0) > 0:
        how = "in memory: fewer than the shuffle buffer holds"
    console.info("Training data", f"{data.n_train:,} examples ({how}): {train_summary.describe()} ({data.train_path})")
    _print_labels(console, train_summary)
    if data.heldout:
        seed = nlp.config.interpolate()["system"]["seed"]
        total = data.n_train + len(data.dev)
        console.info(
            "Dev data", f"{len(data.dev):,} of {total:,} examples held out from the training data (seed {seed})"
        )
    else:
        console.info("Dev data", f"{len(data.dev):,} examples: {dev_summary.describe()} ({data.dev_path})")
    # The dev labels as the training labels are shown: a label only one of them has is seen at a glance.
    _print_labels(console, dev_summary, yes_no=train_summary.category_labels)
    for note in data.notes:
        console.info("Transfer", note)
    factories = [nlp.get_pipe_meta(name).factory for name in nlp.pipe_names]
    for warning in [*data.warnings, *data_warnings(train_summary, dev_summary, factories)]:
        console.warn("Data", warning)
    batcher = nlp.config["training"]["batcher"]
    size = batcher.get("size")
    if isinstance(size, dict) and "stop" in size:
        how = "automatic" if any(key.startswith("batcher.") for key in auto) else "from the config"
        console.info("Batch size", f"{size.get('start')} → {size['stop']} {batch_size_unit(batcher)} ({how})")
    dropout = nlp.config["training"].get("dropout")
    if "dropout.total_steps" in auto and isinstance(dropout, dict):
        console.info(
            "Dropout",
            f"{dropout['start']} → {dropout['stop']} over the first {dropout['share']:.0%} of "
            f"{dropout['total_steps']:,} planned updates",
        )
    console.info("Output", str(out))
