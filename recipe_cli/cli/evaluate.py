from pathlib import Path
from typing import Annotated

import srsly
import typer

from ..console import Console
from ..device import use_gpu
from ..evaluation import evaluate
from ._util import EXIT_CODES_HELP, Arg, Opt, cli_errors

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command("eval", epilog=EXIT_CODES_HELP)
def evaluate_cli(
    # fmt: off
    model: Annotated[str, Arg(help="Pipeline folder or installed package", show_default=False)],
    data: Annotated[Path, Arg(help="Data to score on: any format recipe-train reads", show_default=False)],
    output: Annotated[Path | None, Opt("--output", "-o", help="Also write the scores to this JSON file")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print only JSON to stdout")] = False,
    gpu_id: Annotated[int, Opt("--gpu-id", "-g", help="GPU id, or -1 for the CPU")] = -1,
    # fmt: on
) -> None:
    """Score a pipeline on annotated data with spaCy's own metrics."""
    with cli_errors():
        use_gpu(gpu_id)
        result = evaluate(model, data)
        if output is not None:
            srsly.write_json(output, result)
        if as_json:
            typer.echo(srsly.json_dumps(result, indent=2))
        else:
            print_scores(result)


def print_scores(result: dict) -> None:
    console = Console()
    console.line(f"{result['model']} on {result['data']} ({result['words']:,} words)", bold=True)
    for key, value in result["scores"].items():
        if isinstance(value, float):
            console.line(f"  {key:<20} {value:.4f}")
    console.line(f"  {'score (main)':<20} {result['score']:.4f}", bold=True)
