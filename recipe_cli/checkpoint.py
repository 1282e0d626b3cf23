"""The training output folder: one averaged-weights pipeline per epoch, model-best and model-last."""

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import srsly
from spacy.language import Language
from thinc.api import Optimizer

from .metrics import METRICS_FILE
from .plots import PLOT_FILE
from .state import STATE_DIR

DIR_MODEL_BEST = "model-best"
DIR_MODEL_LAST = "model-last"
RUN_FILE = "run.json"
# The traceback of a run that failed inside spaCy or thinc.
ERROR_LOG = "error.log"
_EPOCH_DIR = re.compile(r"^epoch-\d{3,}$")
# Temporary names used while writing; a crash may leave them behind.
_TEMP = re.compile(r"^\..+\.(tmp|old)$")


def epoch_dir(epoch: int) -> str:
    """The folder name of an epoch's checkpoint: epoch-001, epoch-002, ..."""
    return f"epoch-{epoch:03d}"


def is_run_entry(name: str) -> bool:
    """Whether a file or folder name in an output folder is one that recipe-train writes."""
    return (
        name in (DIR_MODEL_BEST, DIR_MODEL_LAST, RUN_FILE, METRICS_FILE, PLOT_FILE, ERROR_LOG)
        or bool(_EPOCH_DIR.match(name))
        or bool(_TEMP.match(name))
    )


def holds_results(names: list[str]) -> bool:
    """Whether an output folder with these entries holds anything a run saved: an epoch, model-best or
    model-last, metrics. A run stopped before that left only run.json (and temporary names): nothing to lose."""
    return any(name in (DIR_MODEL_BEST, DIR_MODEL_LAST, METRICS_FILE) or _EPOCH_DIR.match(name) for name in names)


def write_run_file(out: Path, run: dict[str, Any]) -> None:
    """Write OUT/run.json at once (written beside it, then renamed): a resumed run rewrites it."""
    tmp = Path(out) / f".{RUN_FILE}.tmp"
    srsly.write_json(tmp, run)
    os.replace(tmp, Path(out) / RUN_FILE)


def save_epoch(
    nlp: Language,
    optimizer: Optimizer,
    path: Path,
    *,
    evaluate: Callable[[], tuple[float, dict[str, Any]]],
    before_to_disk: Callable[[Language], Language] | None = None,
    write_state: Callable[[Path, float, dict[str, Any]], None] | None = None,
) -> tuple[float, dict[str, Any]]:
    """Evaluate and save the pipeline under the optimizer's averaged weights, with the training state.

    Evaluation and saving happen inside one `use_params` block, so the scores describe exactly the
    weights saved; the live weights are restored when it ends. write_state(folder, score, scores),
    if given, then writes the training state into the folder (it needs the live weights), and the
    folder is moved into place: the epoch appears complete, state included, or not at all.
    RETURNS (Tuple[float, Dict[str, Any]]): the main score and all dev scores.
    """
    tmp = _temp_dir(path)
    try:
        with nlp.use_params(optimizer.averages):
            score, scores = evaluate()
            nlp.meta["performance"] = {k: v for k, v in scores.items() if isinstance(v, (int, float))}
            (before_to_disk(nlp) if before_to_disk is not None else nlp).to_disk(tmp)
        if write_state is not None:
            write_state(tmp / STATE_DIR, score, scores)
    except BaseException:
        # A failed save (full disk...) leaves nothing half-written behind.
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _replace(tmp, path)
    return score, scores


def save_pipeline(nlp: Language, path: Path) -> None:
    """Write nlp to path so that the folder appears only once it is complete."""
    path = Path(path)
    tmp = _temp_dir(path)
    nlp.to_disk(tmp)
    _replace(tmp, path)


def copy_checkpoint(src: Path, dest: Path) -> None:
    """Replace dest with a copy of the saved pipeline src, without its training state."""
    tmp = _temp_dir(dest)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(STATE_DIR))
    _replace(tmp, dest)


def epoch_folders(out: Path) -> dict[int, Path]:
    """Epoch number → folder, of the complete epoch folders in a training output folder."""
    folders = {}
    for path in Path(out).iterdir() if Path(out).is_dir() else []:
        if _EPOCH_DIR.match(path.name) and path.is_dir():
            folders[int(path.name.split("-")[1])] = path
    return dict(sorted(folders.items()))


def prune_epochs(out: Path, latest: int, keep: int) -> None:
    """After epoch `latest` is in place: drop older epochs' training state, and with keep > 0 all but
    the last `keep` epoch folders. The newest epoch, whose state a resumed run starts from, always stays."""
    for epoch, path in epoch_folders(out).items():
        if epoch >= latest:
            continue
        if keep > 0 and epoch <= latest - keep:
            shutil.rmtree(path)
        elif (path / STATE_DIR).exists():
            shutil.rmtree(path / STATE_DIR)


def remove_leftovers(out: Path) -> None:
    """Clean up after a run that was killed: finish or undo half-done replacements, drop temporary folders."""
    for path in Path(out).iterdir():
        match = _TEMP.match(path.name)
        if not match:
            continue
        dest = path.parent / path.name[1:].rsplit(".", 1)[0]
        if match.group(1) == "old" and not dest.exists():
            path.rename(dest)  # killed between moving the old folder away and the new one in
        elif path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def _temp_dir(path: Path) -> Path:
    tmp = path.parent / f".{path.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    return tmp


def _replace(new: Path, dest: Path) -> None:
    """Move new into place at dest, keeping the old dest until the new one is there."""
    old = dest.parent / f".{dest.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if dest.exists():
        dest.rename(old)
    new.rename(dest)
    if old.exists():
        shutil.rmtree(old)
