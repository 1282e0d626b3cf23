"""The output folder OUT: every name in it, run.json, and the one rule for the relative paths a run recorded.

OUT/
  run.json               how the run was started (command line, working folder, config); --resume reads it
  metrics.jsonl          one row per epoch
  training.png           losses, scores and schedules
  error.log              the traceback of a failure inside spaCy or thinc
  epoch-NNN/             the averaged weights after epoch NNN, with training-state/ (state.json, arrays.msgpack)
  model-best/, model-last/
  .NAME.tmp, .NAME.old   written beside NAME, then renamed over it; a crash may leave them behind
  .lock                  held by the run while it lasts (lock.py); a killed run leaves it behind, unlocked
"""

import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import srsly

from .lock import LOCK_FILE

DIR_MODEL_BEST = "model-best"
DIR_MODEL_LAST = "model-last"
RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
PLOT_FILE = "training.png"
# The traceback of a run that failed inside spaCy or thinc.
ERROR_LOG = "error.log"
# Inside an epoch folder: what --resume needs beside the pipeline.
STATE_DIR = "training-state"
STATE_FILE = "state.json"
ARRAYS_FILE = "arrays.msgpack"
EPOCH_DIR = re.compile(r"^epoch-\d{3,}$")
# Temporary names used while writing; a crash may leave them behind.
TEMP_ENTRY = re.compile(r"^\..+\.(tmp|old)$")


def epoch_dir(epoch: int) -> str:
    """The folder name of an epoch's checkpoint: epoch-001, epoch-002, ..."""
    return f"epoch-{epoch:03d}"


def temp_path(path: Path) -> Path:
    """Where path is written before it is renamed into place: .NAME.tmp beside it."""
    return path.parent / f".{path.name}.tmp"


def old_path(path: Path) -> Path:
    """Where path is moved while its replacement is moved in: .NAME.old beside it."""
    return path.parent / f".{path.name}.old"


def is_run_entry(name: str) -> bool:
    """Whether a file or folder name in an output folder is one that recipe-train writes."""
    return (
        name in (DIR_MODEL_BEST, DIR_MODEL_LAST, RUN_FILE, METRICS_FILE, PLOT_FILE, ERROR_LOG, LOCK_FILE)
        or bool(EPOCH_DIR.match(name))
        or bool(TEMP_ENTRY.match(name))
    )


def holds_results(names: list[str]) -> bool:
    """Whether an output folder with these entries holds anything a run saved: an epoch, model-best or
    model-last, metrics. A run stopped before that left only run.json (and temporary names): nothing to lose."""
    return any(name in (DIR_MODEL_BEST, DIR_MODEL_LAST, METRICS_FILE) or EPOCH_DIR.match(name) for name in names)


def epoch_folders(out: Path) -> dict[int, Path]:
    """Epoch number → folder, of the complete epoch folders in a training output folder."""
    folders = {}
    for path in Path(out).iterdir() if Path(out).is_dir() else []:
        if EPOCH_DIR.match(path.name) and path.is_dir():
            folders[int(path.name.split("-")[1])] = path
    return dict(sorted(folders.items()))


def is_run_dir(path: str | Path) -> bool:
    """Whether path is a recipe-train output folder (metrics.jsonl beside epoch folders)."""
    path = Path(path)
    return (path / METRICS_FILE).is_file() and (path / epoch_dir(1)).is_dir()


def default_output(data: Path, components: list[str]) -> Path:
    """DATA-COMPONENT in the working folder: train-ner for train.conll; the folder's name for a folder or glob."""
    name = data.name if data.is_dir() else data.stem
    if any(char in str(data) for char in "*?[") and not data.exists():
        name = data.parent.name or "data"
    return Path(f"{name or 'data'}-{'+'.join(components)}")


def default_config_output(config: Path) -> Path:
    """CONFIG-train in the working folder for recipe-train CONFIG.cfg: config-train for configs/config.cfg (spaCy's
    train saves nothing without --output; a run here always saves its epochs)."""
    return Path(f"{config.stem or 'config'}-train")


# --- run.json ---


def new_run(
    *,
    version: str,
    argv: list[str],
    paths: dict[str, Any],
    keep_epochs: int,
    plot: bool,
    config: str,
    cwd: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """What run.json records when a run starts; relative data paths in its config (and the --code file of the
    functions it registers, which --resume imports again) are relative to its "cwd" (the working folder, or the one
    a run started again was first started in)."""
    return {
        "recipe_train": version,
        "argv": argv,
        "cwd": cwd or os.getcwd(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "paths": paths,
        "keep_epochs": keep_epochs,
        "plot": plot,
        "config": config,
        "code": code,
    }


def write_run_file(out: Path, run: dict[str, Any]) -> None:
    """Write OUT/run.json at once (written beside it, then renamed): a resumed run rewrites it."""
    tmp = temp_path(Path(out) / RUN_FILE)
    srsly.write_json(tmp, run)
    os.replace(tmp, Path(out) / RUN_FILE)


def read_run_file(out: Path) -> dict[str, Any] | None:
    """OUT/run.json, or None where there is none. Raises ValueError where it is not JSON."""
    path = Path(out) / RUN_FILE
    return srsly.read_json(path) if path.is_file() else None


def run_path(value: Any, run: dict[str, Any]) -> Any:
    """A data path as the run recorded it, for use from here: a relative path is relative to the folder the run
    started in (run.json's "cwd") where it exists there, and left as written otherwise. Lists are mapped;
    anything but a path (null, a ${...} reference) is returned as it is."""
    if isinstance(value, list):
        return [run_path(v, run) for v in value]
    cwd = run.get("cwd")
    if not cwd or not isinstance(value, str) or not value or "${" in value:
        return value
    path = Path(value)
    return str(Path(cwd) / path) if not path.is_absolute() and (Path(cwd) / path).exists() else value


def rebase_config_paths(config: Any, run: dict[str, Any]) -> Callable[[Any], None]:
    """Apply run_path to the data paths of a run's config: its [paths], and each corpus's path and labeling config.

    RETURNS: a function that puts the paths back as the run recorded them into a config (this one, or one made
        from it, such as a pipeline's), wherever it still holds the rebased value: the paths are rebased to read the
        data, and the folders the run writes keep them as typed, as an uninterrupted run's do.
    """
    changed: list[tuple[tuple[str, ...], str, Any, Any]] = []
    for key, value in config.get("paths", {}).items():
        config["paths"][key] = run_path(value, run)
        changed.append((("paths",), key, value, config["paths"][key]))
    for name, block in config.get("corpora", {}).items():
        for key in ("path", "label_config"):
            if isinstance(block, dict) and key in block:
                value = block[key]
                block[key] = run_path(value, run)
                changed.append((("corpora", name), key, value, block[key]))

    def restore(target: Any) -> None:
        for where, key, recorded, rebased in changed:
            block = target
            for part in where:
                block = block.get(part) if isinstance(block, dict) else None
            if isinstance(block, dict) and key in block and block[key] == rebased:
                block[key] = recorded

    return restore
