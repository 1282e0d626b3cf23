"""Running a sweep: the trials a spec makes, those already finished skipped, the rest on a local process pool or
as Ray tasks; each finished trial appends its row to SWEEP/trials.jsonl as soon as it ends.

SWEEP/
  sweep.json        the validated spec (paths absolute), so that `recipe-sweep report SWEEP` needs nothing else
  trials.jsonl      one row per finished trial (see trial.result_row)
  .lock             held by the driver while it runs
  trials/<task>/<variant>/seed-<n>/   each trial's recipe-train output folder
"""

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import srsly

from ..display.console import Console
from ..errors import Errors, RecipeError, RunInterrupted, Warnings
from ..output.layout import temp_path
from ..output.lock import locked
from ..output.metrics import append_row, plain, read_rows
from .spec import Spec, Trial
from .trial import (
    begin_attempt,
    check_folder,
    commands,
    end_attempt,
    extension,
    failure,
    recorded_trial,
    result_row,
    start,
)

SWEEP_FILE = "sweep.json"
RESULTS_FILE = "trials.jsonl"
# How often the local pool looks at its running processes.
POLL_SECONDS = 0.05


@dataclass
class Outcome:
    """What a run of the sweep did."""

    total: int
    skipped: int = 0
    finished: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def read_results(sweep: Path) -> list[dict[str, Any]]:
    """The rows of SWEEP/trials.jsonl (appended as metrics.jsonl's are); a last line cut short by a kill is left
    out."""
    path = Path(sweep) / RESULTS_FILE
    return [dict(row) for row in read_rows(path)] if path.is_file() else []


def replace_row(path: Path, row: dict[str, Any]) -> None:
    """Put row in the place of the row of the same trial in a trials.jsonl (at the end where there is none), at once;
    every other line is kept as it was written."""
    lines = path.read_text(encoding="utf8").splitlines() if path.is_file() else []
    line = srsly.json_dumps(plain(row))
    kept, placed = [], False
    for old in lines:
        try:
            same = srsly.json_loads(old).get("id") == row["id"]
        except ValueError:  # a last line cut short by a kill
            continue
        if not same:
            kept.append(old)
        elif not placed:
            kept.append(line)
            placed = True
    if not placed:
        kept.append(line)
    tmp = temp_path(path)
    tmp.write_text("".join(f"{text}\n" for text in kept), encoding="utf8")
    os.replace(tmp, path)


def prepare(spec: Spec, sweep: Path) -> tuple[list[Trial], int]:
    """The trials still to run, and how many are finished already. A trial an earlier spec ran shorter (a lower
    training.max_epochs, max_steps or patience, nothing else changed) is to run: it continues from its folder, with
    its `extend` settings. Nothing is written when a finished trial or a trial folder holds other settings than the
    spec now gives (one line says which)."""
    finished = {row["id"]: row for row in read_results(sweep)}
    todo = []
    for trial in spec.trials():
        row = finished.get(trial.id)
        if row is not None and row.get("fingerprint") == trial.fingerprint:
            check_folder(trial, sweep)
            continue
        # What an earlier run of the sweep left of the trial: its row, or else its folder's trial.json.
        earlier = row if row is not None else recorded_trial(trial, sweep)
        if earlier is not None and earlier.get("fingerprint") != trial.fingerprint:
            extend = extension(trial, earlier, sweep)
            if extend is None:
                raise RecipeError(Errors.E083.format(id=trial.id, folder=trial.folder(sweep)))
            trial = replace(trial, extend=extend)
        todo.append(trial)
    return todo, len(spec.trials()) - len(todo)


def write_sweep_file(spec: Spec, sweep: Path) -> None:
    sweep.mkdir(parents=True, exist_ok=True)
    record = {
        "spec": str(spec.path),
        "metric": spec.metric,
        "baseline": spec.baseline,
        "seeds": spec.seeds,
        "tasks": {task.name: task.component for task in spec.tasks},
        "variants": spec.variants,
        "trials": [trial.id for trial in spec.trials()],
        "settings": spec.raw,
    }
    tmp = temp_path(sweep / SWEEP_FILE)
    srsly.write_json(tmp, record)
    os.replace(tmp, sweep / SWEEP_FILE)


def run_sweep(
    spec: Spec, sweep: Path, *, jobs: int, ray_address: str | None = None, console: Console | None = None
) -> Outcome:
    """Run every trial of spec not yet finished in sweep. RETURNS what happened; raises RunInterrupted (exit 130)
    after a Ctrl-C has stopped every running trial (each saves model-last and can be resumed)."""
    console = console or Console()
    sweep = Path(sweep)
    if ray_address is not None:
        from .cluster import require_ray

        require_ray()
    todo, skipped = prepare(spec, sweep)
    sweep.mkdir(parents=True, exist_ok=True)
    # One driver per sweep folder: a second one would run the same trials twice.
    with locked(sweep, lambda pid: Errors.E092.format(sweep=sweep, pid=pid)):
        return _run(spec, sweep, todo, skipped, jobs=jobs, ray_address=ray_address, console=console)


def _run(
    spec: Spec, sweep: Path, todo: list[Trial], skipped: int, *, jobs: int, ray_address: str | None, console: Console
) -> Outcome:
    write_sweep_file(spec, sweep)
    outcome = Outcome(total=len(todo) + skipped, skipped=skipped)
    if skipped:
        console.info("Finished already", f"{skipped} of {outcome.total} trials ({sweep / RESULTS_FILE})")
    longer = [trial for trial in todo if trial.extend]
    if longer:
        console.info("To extend", f"{len(longer)} trial(s) an earlier spec ran shorter: each continues from its folder")
    if not todo:
        return outcome

    def done(trial: Trial, row: dict[str, Any] | None, error: str | None) -> None:
        if row is not None:
            if trial.extend:
                # The row of the trial's shorter run gives way to this one, in its place.
                replace_row(sweep / RESULTS_FILE, row)
            else:
                append_row(sweep / RESULTS_FILE, row)  # type: ignore[arg-type]
            outcome.finished.append(trial.id)
            console.good(
                f"{trial.id}",
                f"test {trial.metric} {row['test_score']:.4f}, best dev {row['best_dev']:.4f} at epoch "
                f"{row['best_epoch']} ({row['wall_seconds']:.0f} s) [{len(outcome.finished) + skipped}/{outcome.total}]",
            )
        else:
            outcome.failed.append(trial.id)
            console.fail(error or f"{trial.id} failed")

    if ray_address is not None:
        from .cluster import run_on_ray

        run_on_ray(todo, sweep, ray_address=ray_address, jobs=jobs, console=console, done=done)
    else:
        run_local(todo, sweep, jobs=jobs, console=console, done=done)
    return outcome


@dataclass
class _Running:
    trial: Trial
    steps: list[tuple[str, list[str]]]
    proc: subprocess.Popen
    log: IO[bytes]
    attempts: list[list[Any]]
    gpu_id: int


def _how(trial: Trial, argv: list[str]) -> str:
    """How a trial starts: new, resuming, or extending (with the settings that lengthen it)."""
    if trial.extend:
        return f"extending: {lengthened(trial)}"
    return "resuming" if "--resume" in argv else "new"


def lengthened(trial: Trial) -> str:
    """The settings that lengthen a trial an earlier spec ran shorter, as the console says them ("" for none)."""
    return ", ".join(f"{key} = {value}" for key, value in trial.extend.items())


def run_local(
    trials: list[Trial],
    sweep: Path,
    *,
    jobs: int,
    console: Console,
    done: Callable[[Trial, dict[str, Any] | None, str | None], None],
) -> None:
    """A process pool on this machine: up to `jobs` trials at once, each process started from this thread."""
    pending = list(trials)
    gpus = _free_gpus(trials)
    running: list[_Running] = []
    try:
        while pending or running:
            while pending and len(running) < jobs and (not pending[0].gpus or gpus):
                trial = pending.pop(0)
                gpu_id = gpus.pop(0) if trial.gpus else -1
                steps = commands(trial, sweep, gpu_id)
                step, argv = steps[0]
                console.info("Starting", f"{trial.id} ({_how(trial, argv)})")
                attempts = begin_attempt(trial, sweep)
                proc, log = start(trial, sweep, step, argv)
                running.append(_Running(trial, steps, proc, log, attempts, gpu_id))
            time.sleep(POLL_SECONDS)
            for item in list(running):
                code = item.proc.poll()
                if code is None:
                    continue
                item.log.close()
                step = item.steps.pop(0)[0]
                if code == 0 and item.steps:
                    next_step, argv = item.steps[0]
                    item.proc, item.log = start(item.trial, sweep, next_step, argv)
                    continue
                running.remove(item)
                if item.gpu_id >= 0:
                    gpus.append(item.gpu_id)
                wall_seconds = end_attempt(item.trial, sweep, item.attempts)
                if code == 0:
                    row = result_row(item.trial, sweep, wall_seconds=wall_seconds)
                    done(item.trial, row, None)
                else:
                    done(item.trial, None, failure(item.trial, sweep, step, code))
    except KeyboardInterrupt:
        _stop(running, console)
        for item in running:
            end_attempt(item.trial, sweep, item.attempts)
        raise RunInterrupted(Errors.E086.format(n=len(running), sweep=sweep), signal.SIGINT) from None


def _stop(running: list[_Running], console: Console) -> None:
    """Ctrl-C: pass it on to every running trial once and wait for each to save and exit; a second Ctrl-C kills."""
    console.warn(Warnings.W011.format(n=len(running)))
    for item in running:
        if item.proc.poll() is None:
            item.proc.send_signal(signal.SIGINT)
    try:
        for item in running:
            item.proc.wait()
    except KeyboardInterrupt:
        for item in running:
            if item.proc.poll() is None:
                item.proc.kill()
    for item in running:
        item.log.close()


def _free_gpus(trials: list[Trial]) -> list[int]:
    """The GPU ids trials that ask for a GPU take turns on: CUDA_VISIBLE_DEVICES's count, or nvidia-smi's."""
    if not any(trial.gpus for trial in trials):
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        count = len([part for part in visible.split(",") if part.strip()])
    elif shutil.which("nvidia-smi"):
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False).stdout
        count = sum(1 for line in listing.splitlines() if line.startswith("GPU "))
    else:
        count = 0
    if count == 0:
        raise RecipeError(Errors.E087)
    return list(range(count))
