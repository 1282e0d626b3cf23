"""Shared bits of the commands: options, override parsing, and the one error channel."""

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from ..console import Console
from ..errors import Errors, RecipeError, UsageError
from ..formats import FORMATS

Arg = typer.Argument
Opt = typer.Option

EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 bad data, config, environment or output folder; "
    "2 bad command-line usage; 130 interrupted (Ctrl-C); 143 stopped by SIGTERM."
)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Print library errors as one line on stderr and exit with their code; never a traceback."""
    err = Console(sys.stderr)
    with warnings.catch_warnings():
        warnings.showwarning = lambda message, *args, **kwargs: err.warn(str(message).replace("\n", " "))
        try:
            yield
        except RecipeError as e:
            err.fail(str(e))
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            err.line("Interrupted.")
            raise typer.Exit(130) from None


def check_format(name: str | None) -> None:
    """A --format value must name a reader (usage error, exit 2, otherwise)."""
    if name is not None and name not in FORMATS:
        raise UsageError(Errors.E057.format(name=name, options=", ".join(FORMATS)))
