"""The `recipe` umbrella command (python -m recipe_cli): train, eval and sweep side by side."""

import typer

from . import evaluate, sweep, train

app = typer.Typer(name="recipe", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
app.add_typer(train.app)
app.add_typer(evaluate.app)
app.add_typer(sweep.app, name="sweep")
