"""One trial: a recipe-train run in its own process (or its --resume), then recipe-eval --json of its model-best on
the task's test data, and the row that trials.jsonl records for it.

The trial's folder, SWEEP/trials/<task>/<variant>/seed-<n>/, is recipe-train's output folder, so recipe-eval and
spacy.load read it as any other. Beside what recipe-train writes it holds train.log and eval.log (each process's
output), test-scores.json (recipe-eval's JSON) and trial.json (the trial's id, fingerprint and overrides).
"""

import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

import srsly
from thinc.api import Config

from ..config.build import planned_dropout
from ..config.overrides import EXTENDING, lets_run_as_long
from ..errors import Errors, RecipeError
from ..output.layout import METRICS_FILE, RUN_FILE, read_run_file, temp_path
from ..output.metrics import read_rows, training_speed
from .spec import Trial

TRIAL_FILE = "trial.json"
TEST_SCORES = "test-scores.json"
TRAIN_LOG = "train.log"
EVAL_LOG = "eval.log"
# The wall-clock [start, end] of each attempt at the trial (end null while it runs, or where it was killed).
ATTEMPTS_FILE = "attempts.json"
# Each trial's BLAS and OpenMP threads (resources.cpus).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_PR_SET_PDEATHSIG = 1
_prctl: Any
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: children are stopped by the driver's own signal handling only
    _prctl = None


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the process that started it dies (a killed driver or Ray worker),
    which a trainer handles as Ctrl-C: it saves model-last and exits."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def recorded_trial(trial: Trial, sweep: Path) -> dict[str, Any] | None:
    """The trial.json an earlier run of the sweep left in the trial's folder (its id, fingerprint and, since
    extending was possible, overrides), or None."""
    path = trial.folder(sweep) / TRIAL_FILE
    return dict(srsly.read_json(path)) if path.is_file() else None


def check_folder(trial: Trial, sweep: Path) -> None:
    """A trial folder left by an earlier run of the sweep must be this trial's: the spec may have changed."""
    recorded = recorded_trial(trial, sweep)
    if recorded is not None and recorded.get("fingerprint") != trial.fingerprint:
        raise RecipeError(Errors.E083.format(id=trial.id, folder=trial.folder(sweep)))


def extension(trial: Trial, earlier: dict[str, Any], sweep: Path) -> dict[str, Any] | None:
    """The settings that continue an earlier, shorter run of this trial into this trial: where the earlier run
    (earlier: its row, or its trial.json, with the fingerprint and overrides it ran with) differs from this trial
    only in training.max_epochs, max_steps or patience, each given by both and each lengthening the run (larger, or
    0 for no limit), and its folder can be resumed. None where anything else changed (E083); refused (E098) where
    the run's dropout was planned over its length, which the longer run changes from its first update."""
    old = earlier.get("overrides")
    if not isinstance(old, dict) or not (trial.folder(sweep) / RUN_FILE).is_file():
        return None
    changed = {key: value for key, value in trial.overrides.items() if key in EXTENDING and old.get(key) != value}
    if not changed or any(key not in old or not lets_run_as_long(old[key], value) for key, value in changed.items()):
        return None
    as_before = replace(trial, overrides={**trial.overrides, **{key: old[key] for key in changed}})
    if as_before.fingerprint != earlier.get("fingerprint"):
        return None
    if _planned_over_length(trial.folder(sweep)):
        raise RecipeError(Errors.E098.format(id=trial.id, folder=trial.folder(sweep)))
    return changed


def _planned_over_length(out: Path) -> bool:
    """Whether the run in out planned its dropout over its length (total_steps = "auto"; run.json's config keeps
    the "auto"). A run.json without a config cannot tell: it counts as planned."""
    run = read_run_file(out) or {}
    try:
        config = Config().from_str(run["config"], interpolate=False)
    except Exception:  # (no config, or one confection cannot read)
        return True
    return planned_dropout(config.get("training", {}))


def commands(trial: Trial, sweep: Path, gpu_id: int = -1, python: str = sys.executable) -> list[tuple[str, list[str]]]:
    """The trial's processes, in order: ("train", argv) — a fresh run, or --resume of the folder an interrupted
    one left — and ("eval", argv)."""
    out = trial.folder(sweep)
    task = trial.task
    gpu = ["--gpu-id", str(gpu_id)] if gpu_id >= 0 else []
    if (out / RUN_FILE).is_file():
        train = [python, "-m", "recipe_cli", "train", "--resume", str(out), *gpu]
        train += [f"--{key}={srsly.json_dumps(value)}" for key, value in trial.extend.items()]
    else:
        train = [python, "-m", "recipe_cli", "train", task.component, *task.train, "-o", str(out), "--overwrite"]
        for dev in task.dev:
            train += ["--dev", dev]
        train += ["--seed", str(trial.seed), *gpu]
        if trial.config:
            train += ["-c", trial.config]
        if task.format:
            train += ["--format", task.format]
        if task.lang:
            train += ["--lang", task.lang]
        train += [f"--{key}={srsly.json_dumps(value)}" for key, value in trial.overrides.items()]
        if trial.code:  # (a resumed run imports the file its run.json names)
            train += ["--code", trial.code]
    evaluate = [python, "-m", "recipe_cli", "eval", str(out / "model-best"), *task.test, "--json"]
    evaluate += ["-o", str(out / TEST_SCORES), *gpu]
    if trial.code:
        evaluate += ["--code", trial.code]
    if task.format:
        evaluate += ["--format", task.format]
    return [("train", train), ("eval", evaluate)]


def environment(trial: Trial) -> dict[str, str]:
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env[name] = str(trial.cpus)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def start(trial: Trial, sweep: Path, step: str, argv: list[str]) -> tuple[subprocess.Popen, IO[bytes]]:
    """Start one of the trial's processes, its output in the trial's log, in its own session (so that a Ctrl-C at
    the terminal reaches the driver alone, which passes it on once), dying with the process that started it."""
    out = trial.folder(sweep)
    out.mkdir(parents=True, exist_ok=True)
    srsly.write_json(out / TRIAL_FILE, {"id": trial.id, "fingerprint": trial.fingerprint, "overrides": trial.overrides})
    log = (out / (TRAIN_LOG if step == "train" else EVAL_LOG)).open("ab")
    log.write(f"$ {' '.join(argv)}\n".encode())
    log.flush()
    proc = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=environment(trial),
        start_new_session=True, preexec_fn=_die_with_parent,
    )  # fmt: skip
    return proc, log


def failure(trial: Trial, sweep: Path, step: str, code: int) -> str:
    """One line: which trial failed where, with the last line its process printed."""
    log = trial.folder(sweep) / (TRAIN_LOG if step == "train" else EVAL_LOG)
    lines = [line.strip() for line in log.read_text("utf8", errors="replace").splitlines() if line.strip()]
    last = lines[-1] if lines else "(no output)"
    return Errors.E084.format(id=trial.id, step=step, code=code, line=last, log=log)


def run_trial(trial: Trial, sweep: Path, gpu_id: int = -1) -> dict[str, Any]:
    """Run a trial to the end in this process's thread (as a Ray task does); RETURNS its row."""
    attempts = begin_attempt(trial, sweep)
    try:
        for step, argv in commands(trial, sweep, gpu_id):
            proc, log = start(trial, sweep, step, argv)
            try:
                code = proc.wait()
            except BaseException:
                proc.send_signal(signal.SIGINT)
                proc.wait()
                raise
            finally:
                log.close()
            if code != 0:
                raise RecipeError(failure(trial, sweep, step, code))
    finally:
        wall_seconds = end_attempt(trial, sweep, attempts)
    return result_row(trial, sweep, wall_seconds=wall_seconds)


def begin_attempt(trial: Trial, sweep: Path) -> list[list[Any]]:
    """Record that an attempt at the trial starts now; RETURNS every attempt, for end_attempt()."""
    out = trial.folder(sweep)
    attempts = _attempts(out)
    attempts.append([time.time(), None])
    _write_attempts(out, attempts)
    return attempts


def end_attempt(trial: Trial, sweep: Path, attempts: list[list[Any]]) -> float:
    """Record that the attempt begin_attempt() started ends now; RETURNS the wall seconds of every attempt at the
    trial (an interrupted one's and the resumed one's: the trial's whole wall time)."""
    attempts[-1][1] = time.time()
    _write_attempts(trial.folder(sweep), attempts)
    return sum(end - begin for begin, end in attempts)


def _attempts(out: Path) -> list[list[Any]]:
    """The earlier attempts at the trial in OUT, each [start, end]; one whose driver was killed (no end) ended
    when its processes last wrote to their logs."""
    path = out / ATTEMPTS_FILE
    if not path.is_file():
        return []
    attempts = [list(pair) for pair in srsly.read_json(path)]
    for pair in attempts:
        if pair[1] is None:
            logs = [out / name for name in (TRAIN_LOG, EVAL_LOG) if (out / name).is_file()]
            pair[1] = max([pair[0], *(log.stat().st_mtime for log in logs)])
    return attempts


def _write_attempts(out: Path, attempts: list[list[Any]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(out / ATTEMPTS_FILE)
    srsly.write_json(tmp, attempts)
    os.replace(tmp, out / ATTEMPTS_FILE)


def result_row(trial: Trial, sweep: Path, *, wall_seconds: float) -> dict[str, Any]:
    """The trial's row in trials.jsonl: ids, settings, best dev score and epoch, test scores, timings."""
    out = trial.folder(sweep)
    rows = read_rows(out / METRICS_FILE)
    test = srsly.read_json(out / TEST_SCORES)
    # The epoch model-best holds: the last one that improved on every earlier epoch.
    best_epoch = max((row["epoch"] for row in rows if row["best"]), default=rows[0]["epoch"])
    best = next(row for row in rows if row["epoch"] == best_epoch)
    words, train_seconds, _ = training_speed(rows)
    # The dev score after each epoch against the seconds spent so far: when a trial reached a given quality.
    elapsed, curve = 0.0, []
    for row in rows:
        elapsed += row["seconds"]
        curve.append([row["epoch"], row["score"], round(elapsed, 3)])
    # Where the schedules stood at the end of each epoch: the update count, the dropout rate and the batch size.
    schedule = [[row["epoch"], row["step"], row["dropout"], row["batch_size"]] for row in rows]
    return {
        "id": trial.id,
        "task": trial.task.name,
        "variant": trial.variant,
        "seed": trial.seed,
        "component": trial.task.component,
        "fingerprint": trial.fingerprint,
        "config": trial.config,
        "overrides": trial.overrides,
        "metric": trial.metric,
        "test_score": metric_value(test, trial.metric),
        "best_dev": best["score"],
        "best_epoch": best_epoch,
        "epochs": len(rows),
        "seconds_to_best": sum(row["seconds"] for row in rows if row["epoch"] <= best_epoch),
        "train_seconds": train_seconds,
        "words_per_second": words / train_seconds if train_seconds > 0 else 0.0,
        "wall_seconds": wall_seconds,
        "curve": curve,
        "schedule": schedule,
        "test": test,
    }


def metric_value(result: dict[str, Any], metric: str) -> float:
    """A score of recipe-eval's JSON: "score" (the main score) or a key of its scores."""
    if metric == "score":
        return float(result["score"])
    value = result.get("scores", {}).get(metric)
    if not isinstance(value, (int, float)):
        names = ", ".join(k for k, v in result.get("scores", {}).items() if isinstance(v, (int, float)))
        raise RecipeError(Errors.E085.format(metric=metric, scores=names))
    return float(value)
