from .cli.main import app

app(prog_name="python -m recipe_cli")
