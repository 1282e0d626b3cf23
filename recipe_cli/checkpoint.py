"""The training output folder: one averaged-weights pipeline per epoch, model-best and model-last."""

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spacy.language import Language
from thinc.api import Optimizer

from .metrics import METRICS_FILE
from .plots import PLOT_FILE

DIR_MODEL_BEST = "model-best"
DIR_MODEL_LAST = "model-last"
RUN_FILE = "run.json"
_EPOCH_DIR = re.compile(r"^epoch-\d{3,}$")
# Temporary names used while writing; a crash may leave them behind.
_TEMP = re.compile(r"^\..+\.(tmp|old)$")


def epoch_dir(epoch: int) -> str:
    """The folder name of an epoch's checkpoint: epoch-001, epoch-002, ..."""
    return f"epoch-{epoch:03d}"


def is_run_entry(name: str) -> bool:
    """Whether a file or folder name in an output folder is one that recipe-train writes."""
    return (
        name in (DIR_MODEL_BEST, DIR_MODEL_LAST, RUN_FILE, METRICS_FILE, PLOT_FILE)
        or bool(_EPOCH_DIR.match(name))
        or bool(_TEMP.match(name))
    )


def save_epoch(
    nlp: Language,
    optimizer: Optimizer,
    path: Path,
    *,
    evaluate: Callable[[], tuple[float, dict[str, Any]]],
    before_to_disk: Callable[[Language], Language] | None = None,
) -> tuple[float, dict[str, Any]]:
    """Evaluate and save the pipeline under the optimizer's averaged weights.

    Both happen inside one `use_params` block, so the scores describe exactly the weights saved;
    the live weights are restored when it ends and training goes on from them.
    RETURNS (Tuple[float, Dict[str, Any]]): the main score and all dev scores.
    """
    with nlp.use_params(optimizer.averages):
        score, scores = evaluate()
        nlp.meta["performance"] = {key: value for key, value in scores.items() if isinstance(value, (int, float))}
        save_pipeline(before_to_disk(nlp) if before_to_disk is not None else nlp, path)
    return score, scores


def save_pipeline(nlp: Language, path: Path) -> None:
    """Write nlp to path so that the folder appears only once it is complete."""
    path = Path(path)
    tmp = path.parent / f".{path.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    nlp.to_disk(tmp)
    _replace(tmp, path)


def copy_checkpoint(src: Path, dest: Path) -> None:
    """Replace dest with a copy of the saved pipeline src (copying is cheaper than saving again)."""
    tmp = dest.parent / f".{dest.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(src, tmp)
    _replace(tmp, dest)


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
