"""resume(): go on with an interrupted run from its last complete epoch, exactly as it would have gone on."""

import sys
from contextlib import nullcontext
from pathlib import Path
from typing import IO, Any

from thinc.api import Config

from ..config.build import TrainingConfig
from ..config.code import import_code
from ..config.overrides import EXTENDING, lets_run_as_long
from ..device import describe_device
from ..device import use_gpu as use_gpu_device
from ..display.console import Console
from ..errors import Errors, RecipeError, UsageError
from ..output.checkpoint import copy_checkpoint, prune_epochs, remove_leftovers
from ..output.failures import disk_errors
from ..output.layout import (
    DIR_MODEL_BEST,
    DIR_MODEL_LAST,
    METRICS_FILE,
    RUN_FILE,
    STATE_DIR,
    STATE_FILE,
    epoch_dir,
    epoch_folders,
    read_run_file,
    rebase_config_paths,
    run_path,
    write_run_file,
)
from ..output.metrics import read_rows, write_rows
from ..output.state import TrainingState, read_state, restore_state
from ..pipeline import load_pipeline
from .fit import fit
from .setup import (
    check_keep_epochs,
    check_limits,
    leave_unknown_labels_missing,
    read_training_data,
    resolve_training,
    start_rehearsal,
)
from .train import own_output, train


def resume(
    output_path: Path,
    *,
    overrides: dict[str, Any] | None = None,
    use_gpu: int = -1,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    quiet: bool = False,
    keep_epochs: int | None = None,
    plot: bool | None = None,
) -> Path:
    """Continue the run in output_path from its newest epoch that has a training state, or start it again from
    run.json if it was stopped before its first epoch was saved.

    overrides (Dict[str, Any]): only the settings in EXTENDING, and only values that extend the run. They are
        recorded in run.json: a later resume keeps them.
    keep_epochs (Optional[int]): as for train(); None keeps the run's own setting.
    plot (Optional[bool]): as for train(); None keeps the run's own setting.
    RETURNS (Path): the output folder.
    """
    out = Path(output_path)
    # A folder with a run.json is owned while it is resumed: a run still going in it is refused (E043).
    with own_output(out) if (out / RUN_FILE).is_file() else nullcontext():
        return _resume(out, overrides=overrides, use_gpu=use_gpu, stdout=stdout, stderr=stderr, quiet=quiet,
                       keep_epochs=keep_epochs, plot=plot)  # fmt: skip


def _resume(
    out: Path,
    *,
    overrides: dict[str, Any] | None,
    use_gpu: int,
    stdout: IO[str] | None,
    stderr: IO[str] | None,
    quiet: bool,
    keep_epochs: int | None,
    plot: bool | None,
) -> Path:
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    console = Console(stdout, quiet=quiet)
    try:
        run = read_run_file(out)
    except ValueError as e:
        raise RecipeError(Errors.E059.format(path=out, why=f" ({RUN_FILE} cannot be read: {e})")) from None
    if run is None:
        raise RecipeError(
            Errors.E059.format(path=out, why=f" ({RUN_FILE} not found: not a recipe-train output folder)")
        )
    keep = run.get("keep_epochs", 0) if keep_epochs is None else keep_epochs
    check_keep_epochs(keep)
    # The functions the run's --code registered, before its config is resolved or its pipeline loaded.
    import_code(run_path(run.get("code"), run))
    draw = run.get("plot", True) if plot is None else plot
    overrides = dict(overrides or {})
    _check_override_names(out, overrides)
    with disk_errors(out):
        remove_leftovers(out)
    if not epoch_folders(out) and run.get("config"):
        return _start_again(out, run, overrides, use_gpu, stdout, stderr, quiet, keep, draw)
    folder = latest_state(out)
    try:
        state = read_state(folder / STATE_DIR)
    except (OSError, ValueError, TypeError) as e:
        raise RecipeError(Errors.E063.format(path=folder / STATE_DIR, error=e)) from None
    use_gpu_device(use_gpu)
    nlp = load_pipeline(folder)
    # What earlier resumes extended the run to is part of the run; then this resume's own extensions.
    extended = run.get("extended", {})
    _apply_overrides(out, nlp.config["training"], extended)
    _apply_overrides(out, nlp.config["training"], overrides)
    # The data is read from where the run started; the folders it writes keep the paths as typed.
    restore_paths = rebase_config_paths(nlp.config, run)
    T = resolve_training(nlp.config)
    check_limits(T)
    with disk_errors(out):
        # A kill after the newest epoch was in place may have left its metrics row or model-last unwritten.
        _repair(out, state, keep)
    done = _finished(state, T)
    if done:
        console.good(f"Nothing to resume in {out}: the run ended at epoch {state.epoch} ({done})")
        return out
    if overrides:
        with disk_errors(out):
            write_run_file(out, {**run, "extended": {**extended, **overrides}})
    data = read_training_data(nlp, T["shuffle_buffer"])
    # The same labels left unannotated as the run's start left (its components have the same labels now).
    data = leave_unknown_labels_missing(nlp, T, data)
    # The same base-annotated examples as the run had (the base model must still be where it was), from the texts
    # its meta.json records (a run saved before the record rehearsed the training texts).
    earlier = len(data.warnings)
    data = start_rehearsal(nlp, T, data, recorded=nlp.meta.get("rehearsal", {}))
    for warning in data.warnings[earlier:]:
        console.warn("Rehearsal", warning)
    restore_paths(nlp.config)
    try:
        restore_state(nlp, T["optimizer"], folder / STATE_DIR)
    except (OSError, ValueError, KeyError) as e:
        raise RecipeError(Errors.E063.format(path=folder / STATE_DIR, error=e)) from None
    best = f"best epoch {state.best_epoch}, score {state.best_score:.4f}" if state.best_epoch else "no best yet"
    console.info("Resuming", f"{out} after epoch {state.epoch} (step {state.step:,}; {best})")
    console.info("Device", describe_device())
    for name, value in extended.items():
        if name not in overrides:
            console.info("Extended", f"{name} = {value} (by an earlier --resume)")
    for name, value in overrides.items():
        console.info("Extended", f"{name} = {value}")
    return fit(nlp, T, data, out, stdout=stdout, stderr=stderr, quiet=quiet, keep_epochs=keep, state=state, plot=draw)


def _start_again(
    out: Path,
    run: dict[str, Any],
    overrides: dict[str, Any],
    use_gpu: int,
    stdout: IO[str],
    stderr: IO[str],
    quiet: bool,
    keep: int,
    draw: bool,
) -> Path:
    """A run stopped before its first epoch was saved (counting, initialize, the first updates): start it again,
    from the config, command line and folder that run.json recorded, with this resume's extensions."""
    try:
        config = Config().from_str(run["config"], interpolate=False)
    except Exception as e:  # confection's and configparser's own errors
        why = f" (nor a config in {RUN_FILE} to start it again from: {type(e).__name__})"
        raise RecipeError(Errors.E059.format(path=out, why=why)) from None
    _apply_overrides(out, config["training"], overrides)
    if overrides:
        with disk_errors(out):
            write_run_file(out, {**run, "config": config.to_str()})
    console = Console(stdout, quiet=quiet)
    console.info("Starting again", f"{out} was stopped before its first epoch was saved; {RUN_FILE} has its config")
    for name, value in overrides.items():
        console.info("Extended", f"{name} = {value}")
    # overwrite: what the stopped run left (run.json, a model-last saved by Ctrl-C) is replaced.
    return train(
        TrainingConfig(config),
        out,
        use_gpu=use_gpu,
        overwrite=True,
        stdout=stdout,
        stderr=stderr,
        argv=run.get("argv") or [],
        quiet=quiet,
        keep_epochs=keep,
        plot=draw,
        started=run,
        code=run.get("code"),
    )


def latest_state(out: Path) -> Path:
    """The newest epoch folder that holds a training state."""
    for _, folder in sorted(epoch_folders(out).items(), reverse=True):
        if (folder / STATE_DIR / STATE_FILE).is_file():
            return folder
    raise RecipeError(Errors.E059.format(path=out, why=""))


def _check_override_names(out: Path, overrides: dict[str, Any]) -> None:
    refused = [name for name in overrides if name not in EXTENDING]
    if refused:
        raise UsageError(Errors.E060.format(path=out, what=", ".join(refused), allowed=", ".join(EXTENDING)))


def _apply_overrides(out: Path, training: dict[str, Any], overrides: dict[str, Any]) -> None:
    """Set the extending settings in the run's [training] block, refusing any that would shorten it (0: no limit)."""
    for name, new in overrides.items():
        key = name.removeprefix("training.")
        old = training.get(key, 0)
        # A negative number is refused with the rest: it is not 0 and it is below any limit.
        if not lets_run_as_long(old, new):
            raise UsageError(Errors.E061.format(path=out, name=name, new=new, old=old))
        training[key] = new


def _finished(state: TrainingState, T: dict[str, Any]) -> str:
    """Why the run would not go on past the saved epoch, or "" if it would."""
    if T["max_epochs"] > 0 and state.epoch >= T["max_epochs"]:
        return f"training.max_epochs = {T['max_epochs']}; extend it with --training.max_epochs N"
    if T["max_steps"] > 0 and state.step >= T["max_steps"]:
        return f"training.max_steps = {T['max_steps']}; extend it with --training.max_steps N"
    if T["patience"] > 0 and state.epoch - state.best_epoch >= T["patience"]:
        return f"no better score for training.patience = {T['patience']} epochs; extend it with --training.patience N"
    return ""


def _repair(out: Path, state: TrainingState, keep: int) -> None:
    """Make OUT what it was right after the saved epoch: its metrics rows, model-last and model-best.

    A row metrics.jsonl holds is kept as it is: its timings were measured after the state was saved (the
    state's copy of the newest row lacks the end of its checkpoint time). Rows it lacks come from the state;
    rows of later epochs, whose folders never appeared, go.
    """
    path = out / METRICS_FILE
    recorded = {row["epoch"]: row for row in read_rows(path)} if path.is_file() else {}
    write_rows(path, [recorded.get(row["epoch"], row) for row in state.rows])  # type: ignore[arg-type]
    latest = out / epoch_dir(state.epoch)
    copy_checkpoint(latest, out / DIR_MODEL_LAST)
    best = out / epoch_dir(state.best_epoch)
    if best.is_dir() and (state.best_epoch == state.epoch or not (out / DIR_MODEL_BEST).is_dir()):
        copy_checkpoint(best, out / DIR_MODEL_BEST)
    prune_epochs(out, state.epoch, keep)
