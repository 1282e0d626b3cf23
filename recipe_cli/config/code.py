"""The user's own registered functions (--code functions.py): imported before any config is resolved, as
`spacy train --code` does, so that a config may name custom architectures, readers, callbacks and loggers."""

from pathlib import Path

from spacy.util import import_file

from ..errors import Errors, RecipeError, StageError


def import_code(path: str | Path | None) -> None:
    """Import a Python file for the functions it registers (nothing for None).

    An exception raised by the file itself is a StageError: one line, its traceback in a log file.
    """
    if path is None:
        return
    path = Path(path)
    if not path.is_file():
        raise RecipeError(Errors.E018.format(path=path))
    try:
        # spaCy's own helper (spacy.cli._util.import_code uses it), under the module name spaCy gives the file.
        import_file("python_code", path)
    except Exception as e:
        # E070, as for a stage of a run: "Importing --code functions.py failed: NameError: ..."
        what = f"Importing --code {path}"
        raise StageError(what, e) from e
