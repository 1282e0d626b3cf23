"""Shared bits of the commands: options, override parsing, and the one error channel."""

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import click
import typer

from ..console import Console
from ..errors import Errors, RecipeError, StageError, UsageError
from ..failures import logged
from ..formats import FORMATS

Arg = typer.Argument
Opt = typer.Option

EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 bad data, config, environment or output folder; "
    "2 bad command-line usage; 130 interrupted (Ctrl-C); 143 stopped by SIGTERM."
)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Print library errors as one line on stderr and exit with their code; never a traceback (an exception
    from inside spaCy or thinc, or any other, is one line too, its traceback written to a file it names)."""
    err = Console(sys.stderr)
    with warnings.catch_warnings():
        warnings.showwarning = lambda message, *args, **kwargs: err.warn(str(message).replace("\n", " "))
        try:
            yield
        except StageError as e:
            # Inside spaCy or thinc: one line, the traceback in OUT/error.log or, before OUT exists, a temporary file.
            err.fail(str(logged(e)))
            raise typer.Exit(e.exit_code) from None
        except RecipeError as e:
            err.fail(str(e))
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            err.line("Interrupted.")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, click.ClickException):
            # A command's own exit status (recipe-eval's 3 for a failed threshold) and usage errors.
            raise
        except Exception as e:
            # Anything else, even a bug of ours: still one line, and the traceback in a file it names.
            err.fail(str(logged(e)))
            raise typer.Exit(1) from None


def check_format(name: str | None) -> None:
    """A --format value must name a reader (usage error, exit 2, otherwise)."""
    if name is not None and name not in FORMATS:
        raise UsageError(Errors.E057.format(name=name, options=", ".join(FORMATS)))
