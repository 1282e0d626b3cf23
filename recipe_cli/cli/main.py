"""The `recipe` umbrella command (python -m recipe_cli): train, eval and sweep side by side."""

from typing import Annotated

import typer

from . import evaluate, sweep, train
from .util import version_option

app = typer.Typer(name="recipe", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
app.add_typer(train.app)
app.add_typer(evaluate.app)
app.add_typer(sweep.app, name="sweep")


@app.callback()
def recipe_options(version: Annotated[bool, version_option()] = False) -> None:
    """Train spaCy pipelines with the recipe (train), score them (eval), compare settings over seeds (sweep)."""
