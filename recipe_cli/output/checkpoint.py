"""The training output folder: one averaged-weights pipeline per epoch, model-best and model-last."""

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from spacy.language import Language

from .layout import STATE_DIR, TEMP_ENTRY, epoch_folders, old_path, temp_path


@contextmanager
def staged_folder(path: Path) -> Iterator[Path]:
    """A temporary folder beside path to write into; moved into place at path when the block ends, removed (and
    path left as it was) when it raises: an epoch appears complete, training state included, or not at all."""
    tmp = _temp_dir(path)
    try:
        yield tmp
    except BaseException:
        # A failed save (full disk...) leaves nothing half-written behind.
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_folder(tmp, path)


def write_pipeline(
    nlp: Language,
    folder: Path,
    scores: dict[str, Any],
    before_to_disk: Callable[[Language], Language] | None = None,
) -> None:
    """Write nlp, as it is now, to folder, its meta.json's "performance" the scores that describe it (the numbers
    among them), through [training] before_to_disk (spaCy's callback, which may modify or replace the pipeline
    saved). Called under the averaged weights, in the block that evaluated them, so the scores describe exactly
    the weights saved."""
    nlp.meta["performance"] = {k: v for k, v in scores.items() if isinstance(v, (int, float))}
    (before_to_disk(nlp) if before_to_disk is not None else nlp).to_disk(folder)


def save_pipeline(nlp: Language, path: Path) -> None:
    """Write nlp to path so that the folder appears only once it is complete."""
    with staged_folder(Path(path)) as tmp:
        nlp.to_disk(tmp)


def copy_checkpoint(src: Path, dest: Path) -> None:
    """Replace dest with a copy of the saved pipeline src, without its training state."""
    with staged_folder(dest) as tmp:
        shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(STATE_DIR))


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
        match = TEMP_ENTRY.match(path.name)
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
    tmp = temp_path(path)
    if tmp.exists():
        shutil.rmtree(tmp)
    return tmp


def replace_folder(new: Path, dest: Path) -> None:
    """Move new into place at dest, keeping the old dest until the new one is there."""
    old = old_path(dest)
    if old.exists():
        shutil.rmtree(old)
    if dest.exists():
        dest.rename(old)
    new.rename(dest)
    if old.exists():
        shutil.rmtree(old)
