import sys
from pathlib import Path
from typing import Annotated, Any

import srsly
import typer
from wasabi import row

from ..config.code import import_code
from ..device import use_gpu
from ..display.console import Console
from ..errors import Errors, UsageError
from ..evaluation.scoring import check_thresholds, evaluate, evaluate_run
from ..output.layout import is_run_dir
from .util import CODE_HELP, Arg, Opt, check_format, cli_errors, version_option

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

EXIT_THRESHOLD = 3
EVAL_EXIT_CODES = (
    "Exit codes: 0 scored, and every --min holds; 1 bad model, data or arguments; "
    f"{EXIT_THRESHOLD} a --min threshold failed (each is named). "
    "CI gate: recipe-eval out/model-best test.conllu --min ents_f=0.55 || exit 1"
)
# Tables shown unless --per-label / --no-per-label says otherwise.
DEFAULT_TABLES = ("ents", "cats")


@app.command("eval", epilog=EVAL_EXIT_CODES)
def evaluate_cli(
    # fmt: off
    model: Annotated[
        str,
        Arg(
            help="Pipeline folder, installed package, or a recipe-train output folder (every epoch)", show_default=False
        ),
    ],
    data: Annotated[
        list[Path] | None,
        Arg(
            help="Data to score on, in any format recipe-train reads (default for an output folder: its dev data)",
            show_default=False,
        ),
    ] = None,
    output: Annotated[Path | None, Opt("--output", "-o", help="Also write all scores to this JSON file")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print only JSON to stdout (no tables, no colour)")] = False,
    per_label: Annotated[
        bool | None,
        Opt(
            "--per-label/--no-per-label",
            help="Show every per-label table (tags, POS, morphology, relations too) / none",
            show_default=False,
        ),
    ] = None,
    minimum: Annotated[
        list[str] | None,
        Opt("--min", help="Fail with exit code 3 when a score is below VALUE: --min ents_f=0.55 (repeatable)"),
    ] = None,
    gpu_id: Annotated[int, Opt("--gpu-id", "-g", help="GPU id, or -1 for the CPU")] = -1,
    data_format: Annotated[
        str | None,
        Opt("--format", help="Data format of DATA instead of detecting it: spacy, json, jsonl, conllu, iob, table"),
    ] = None,
    label_config: Annotated[
        Path | None,
        Opt(
            "--label-config",
            help="The Label Studio project's labeling config (XML): its <Labels> and <Choices> tags name the "
            "annotation fields of its JSON-MIN, CSV and TSV exports",
            show_default=False,
        ),
    ] = None,
    code: Annotated[Path | None, Opt("--code", help=CODE_HELP)] = None,
    version: Annotated[bool, version_option()] = False,
    # fmt: on
) -> None:
    """Score a pipeline, or every epoch of a training run, with spaCy's own metrics and per-label tables."""
    with cli_errors():
        bounds = parse_minimums(minimum or [])
        check_format(data_format)
        import_code(code)
        use_gpu(gpu_id)
        if is_run_dir(model):
            result = evaluate_run(Path(model), data or [], data_format=data_format or "auto",
                                  label_config=label_config)  # fmt: skip
        else:
            result = evaluate(model, data or [], data_format=data_format or "auto", label_config=label_config)
        failures = check_thresholds({"score": result["score"], **result["scores"]}, bounds)
        result["thresholds"] = {"min": bounds, "failed": failures}
        if output is not None:
            srsly.write_json(output, result)
        if as_json:
            typer.echo(srsly.json_dumps(result, indent=2))
        else:
            print_result(Console(), result, per_label)
        if failures:
            Console(sys.stderr).fail(f"below threshold: {'; '.join(failures)}")
            raise typer.Exit(EXIT_THRESHOLD)


def parse_minimums(args: list[str]) -> dict[str, float]:
    bounds = {}
    for arg in args:
        name, sep, value = arg.partition("=")
        try:
            bounds[name.strip()] = float(value)
        except ValueError:
            raise UsageError(Errors.E055.format(arg=arg)) from None
        if not sep or not name.strip():
            raise UsageError(Errors.E055.format(arg=arg))
    return bounds


def print_result(console: Console, result: dict[str, Any], per_label: bool | None) -> None:
    if "epochs" in result:
        _print_epochs(console, result)
    console.line(f"{result['model']} on {', '.join(result['data'])} ({result['words']:,} words)", bold=True)
    for key, value in result["scores"].items():
        if isinstance(value, float) and key != "speed":
            console.line(f"  {key:<22} {value:.4f}")
    console.line(f"  {'score (main)':<22} {result['score']:.4f}", bold=True)
    console.line(f"  {'speed (words/s)':<22} {result['speed']:,.0f}")
    if per_label is False:
        return
    for name, table in result.get("per_label", {}).items():
        if per_label or name in DEFAULT_TABLES or name.startswith("spans_"):
            _print_table(console, name, table)


def _print_epochs(console: Console, result: dict[str, Any]) -> None:
    """One row per epoch: the recorded dev score, the score here, and the curve of the scores as bars."""
    scores = [epoch["score"] for epoch in result["epochs"]]
    low, high = min(scores), max(scores)
    widths, aligns = [5, 10, 10, _BAR_WIDTH, 22], ["r", "r", "r", "l", "l"]
    console.line(row(["Epoch", "Dev score", "Score", "", ""], widths=widths, aligns=aligns), bold=True)  # type: ignore[arg-type]
    for epoch in result["epochs"]:
        marks = []
        if epoch["best"]:
            marks.append("best (dev)")
        if epoch["epoch"] == result["best_epoch_on_data"]:
            marks.append("best here")
        bar = score_bar(epoch["score"], low, high)
        cells = [epoch["epoch"], f"{epoch['dev_score']:.4f}", f"{epoch['score']:.4f}", bar, ", ".join(marks)]
        console.line(row(cells, widths=widths, aligns=aligns), fg="green" if epoch["best"] else None)  # type: ignore[arg-type]
    console.line()


_BAR_WIDTH = 30
_EIGHTHS = " ▏▎▍▌▋▊▉"


def score_bar(value: float, low: float, high: float, width: int = _BAR_WIDTH) -> str:
    """A horizontal bar for value on the scale [low, high] (at least one eighth for the lowest)."""
    share = 1.0 if high <= low else (value - low) / (high - low)
    eighths = max(1, round(share * width * 8))
    return "█" * (eighths // 8) + (_EIGHTHS[eighths % 8] if eighths % 8 else "")


_COLUMNS = (("p", "P"), ("r", "R"), ("f", "F"), ("auc", "AUC"), ("acc", "ACC"), ("support", "N"))


def _print_table(console: Console, name: str, table: dict[str, dict[str, float]]) -> None:
    if not table:
        return
    keys = [(key, title) for key, title in _COLUMNS if any(key in values for values in table.values())]
    label_width = max(12, *(len(label) for label in table))
    widths = [label_width] + [8] * len(keys)
    aligns = ["l"] + ["r"] * len(keys)
    console.line()
    console.line(row([name.upper()] + [title for _, title in keys], widths=widths, aligns=aligns), bold=True)  # type: ignore[arg-type]
    for label, values in table.items():
        cells = [label] + [_cell(values.get(key), key) for key, _ in keys]
        console.line(row(cells, widths=widths, aligns=aligns))  # type: ignore[arg-type]


def _cell(value: Any, key: str) -> str:
    if value is None:
        return ""
    if key == "support":
        return f"{int(value):,}"
    return f"{value * 100:.2f}"
