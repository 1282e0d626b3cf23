"""Exceptions from inside spaCy or thinc: one line naming the stage, the full traceback in a log file.

Each stage of a run (initialisation, an update, evaluation, saving) is wrapped once with ``stage()``:
an exception that is not already a ``RecipeError`` becomes a ``StageError`` that keeps it. The output
folder's ``error_log()`` (or, before that folder exists, the CLI) writes the traceback to ``error.log``
and names it in the error line.
"""

import errno
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from spacy.training import Example

from .. import __version__
from ..data.formats import ORIGIN
from ..errors import Errors, RecipeError, StageError
from .layout import ERROR_LOG

# A full disk or a refused permission: the one-line E062, no traceback needed.
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS)
# Documents of a batch named in the error line (all of them go to the log).
SHOWN_DOCS = 8


@contextmanager
def disk_errors(path: Path) -> Iterator[None]:
    """Turn a full disk or a refused permission while writing into a one-line error."""
    try:
        yield
    except OSError as e:
        if e.errno in DISK_ERRNOS:
            raise RecipeError(Errors.E062.format(path=e.filename or path, reason=e.strerror)) from None
        raise


@contextmanager
def stage(
    name: str, where: str = "", *, batch: list[Example] | None = None, path: Path | None = None
) -> Iterator[None]:
    """Run one stage of the work: an exception other than a RecipeError becomes a StageError naming it.

    name (str): the stage, e.g. "Update" or "Saving".
    where (str): what the stage was doing, e.g. " in epoch 2, step 31".
    batch (List[Example]): the examples being updated on, named (file and document number) on failure.
    path (Path): where the stage writes; a full disk or refused permission is the one-line E062 about it.
    """
    try:
        yield
    except RecipeError:
        raise
    except Exception as e:
        if path is not None and isinstance(e, OSError) and e.errno in DISK_ERRNOS:
            raise RecipeError(Errors.E062.format(path=e.filename or path, reason=e.strerror)) from None
        details: list[str] = []
        if batch is not None:
            where += f" ({describe_batch(batch)})"
            details = ["batch: " + ", ".join(f"{o[0]} #{o[1]}" if o else "(unknown)" for o in batch_origins(batch))]
        raise StageError(name, e, where, details) from e


@contextmanager
def error_log(folder: Path, name: str = "Training") -> Iterator[None]:
    """Write the traceback of a failure to folder/error.log and name it in the error; an exception that no
    stage wrapped fails as stage `name`."""
    try:
        yield
    except StageError as e:
        if e.log is None:
            e.log = write_log(e, folder)
        raise
    except RecipeError:
        raise
    except Exception as e:
        error = StageError(name, e)
        error.log = write_log(error, folder)
        raise error from e


def logged(e: Exception) -> StageError:
    """An exception that reached the command line: as a StageError (stage unknown if it had none), its
    traceback written to a temporary file unless a log holds it already."""
    error = e if isinstance(e, StageError) else StageError("", e)
    if error.log is None:
        error.log = write_log(error, None)
    return error


def write_log(error: StageError, folder: Path | None) -> Path | str:
    """Write the error and its full traceback to folder/error.log, or to a temporary file without a folder.

    RETURNS (Path or str): the file written, or why none could be.
    """
    lines = [
        f"recipe-train {__version__} failed at {time.strftime('%Y-%m-%dT%H:%M:%S%z')}",
        f"command: {' '.join(sys.argv)}",
        f"error: {error}",
        *error.details,
    ]
    # Raised: its traceback and, before it, the original's; not yet raised: the original's.
    raised = error if error.__traceback__ is not None else error.error
    text = "\n".join(lines) + "\n\n" + "".join(traceback.format_exception(raised))
    try:
        if folder is not None and Path(folder).is_dir():
            path = Path(folder) / ERROR_LOG
            # A name that is not UTF-8 (a lone surrogate) is written escaped: the log is written whatever it holds.
            path.write_text(text, encoding="utf8", errors="backslashreplace")
            return path
        fd, name = tempfile.mkstemp(prefix="recipe-error-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf8", errors="backslashreplace") as file:
            file.write(text)
        return Path(name)
    except OSError as e:
        return f"not written ({e.strerror})"


def batch_origins(batch: Iterable[Example]) -> list[tuple[str, int] | None]:
    """The (file, document number) each example of a batch was read from (None where unknown)."""
    return [eg.reference.user_data.get(ORIGIN) for eg in batch]


def describe_batch(batch: list[Example], shown: int = SHOWN_DOCS) -> str:
    """The batch's documents as file and number: "batch of 4 documents: train.conll #3, #17, #25, #40"."""
    origins = batch_origins(batch)
    known = [origin for origin in origins if origin is not None]
    text = f"batch of {len(batch)} document{'s' if len(batch) != 1 else ''}"
    if not known:
        return text
    parts, last_file = [], None
    for file, number in known[:shown]:
        parts.append(f"{file} #{number}" if file != last_file else f"#{number}")
        last_file = file
    more = len(known) - shown
    return f"{text}: {', '.join(parts)}" + (f" and {more} more" if more > 0 else "")
