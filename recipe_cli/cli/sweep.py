import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import srsly
import typer

from ..config.code import import_code
from ..config.overrides import parse_overrides
from ..display.console import Console
from ..sweep.ablate import SPACY_DEFAULT, ablation_spec
from ..sweep.report import build_report, write_report
from ..sweep.run import lengthened, prepare, run_sweep
from ..sweep.spec import load_spec
from .util import CODE_HELP, Arg, Opt, check_format, cli_errors, split_data_words, version_option

app = typer.Typer(
    name="recipe-sweep", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Many recipe-train runs (tasks × variants × seeds) in one resumable command, and a report that says with "
    "paired statistics which variant beats which.",
)  # fmt: skip
SWEEP_EXIT_CODES = (
    "Exit codes: 0 every trial finished; 1 a bad spec, or a trial failed (each is named; the others still ran); "
    "2 bad usage; 130 interrupted (every running trial saved: run the same command again to continue)."
)
COMMANDS = ("run", "report", "ablate")
SWEEP_CODE_HELP = CODE_HELP + ", here and in every trial's recipe-train and recipe-eval"


def main() -> None:
    """The console script: `recipe-sweep SPEC.yml -o SWEEP` is `recipe-sweep run SPEC.yml -o SWEEP`."""
    args = sys.argv[1:]
    if args and args[0] not in COMMANDS and not args[0].startswith("-"):
        sys.argv.insert(1, "run")
    app(prog_name="recipe-sweep")


@app.callback()
def sweep_options(version: Annotated[bool, version_option()] = False) -> None:
    """recipe-sweep's own options, before its command (the app's help describes it)."""


@app.command("run", epilog=SWEEP_EXIT_CODES)
def run_cli(
    # fmt: off
    spec: Annotated[
        Path,
        Arg(help="The sweep spec (YAML): tasks, seeds, common, variants, grid, metric, resources", show_default=False),
    ],
    output: Annotated[
        Path, Opt("--output", "-o", help="The sweep's folder; the same command again continues it", show_default=False)
    ],
    jobs: Annotated[
        int, Opt("--jobs", "-j", help="Trials at once (default: the number of cores)", show_default=False)
    ] = 0,
    ray: Annotated[
        str | None, Opt("--ray", help="Run the trials as Ray tasks: a cluster's address, or 'local' to start one")
    ] = None,
    dry_run: Annotated[bool, Opt("--dry-run", help="List the trials (and which are finished) and stop")] = False,
    code: Annotated[Path | None, Opt("--code", help=SWEEP_CODE_HELP)] = None,
    # fmt: on
) -> None:
    """Run every trial of SPEC not finished yet in OUTPUT, then print the report."""
    _run_spec(spec, output, jobs=jobs, ray=ray, dry_run=dry_run, code=code)


def _run_spec(
    spec: Path,
    output: Path,
    *,
    jobs: int,
    ray: str | None,
    dry_run: bool,
    code: Path | None,
    wrote: tuple[Path, ...] = (),
) -> None:
    """run_cli's work; wrote: the files the command wrote before (the dry run's last line names them)."""
    with cli_errors():
        console = Console()
        import_code(code)
        parsed = load_spec(spec)
        if code is not None:
            # The trials run in their own processes (on Ray, on other nodes): they import the file by its full path.
            parsed = replace(parsed, code=str(code.resolve()))
        if dry_run:
            todo, done = prepare(parsed, output)
            waiting = {trial.id: trial for trial in todo}
            for trial in parsed.trials():
                to_do = waiting.get(trial.id)
                how = "finished" if to_do is None else f"to extend: {lengthened(to_do)}" if to_do.extend else "to run"
                console.line(f"{trial.id}  {how}")
            written = f"wrote {' and '.join(map(str, wrote))}, trained nothing" if wrote else "nothing was written"
            console.info("Dry run", f"{len(parsed.trials())} trials, {done} finished; {written}")
            return
        outcome = run_sweep(parsed, output, jobs=jobs or os.cpu_count() or 1, ray_address=ray, console=console)
        console.line()
        console.line(write_report(output, build_report(output)))
        if outcome.failed:
            Console(sys.stderr).fail(f"{len(outcome.failed)} trial(s) failed: {', '.join(outcome.failed)}")
            raise typer.Exit(1)


@app.command("report")
def report_cli(
    # fmt: off
    sweep: Annotated[Path, Arg(help="A sweep's folder", show_default=False)],
    as_json: Annotated[bool, Opt("--json", help="Print the report as JSON instead of Markdown")] = False,
    baseline: Annotated[str | None, Opt("--baseline", help="Compare with this variant (default: the spec's)")] = None,
    quality_of: Annotated[
        str | None,
        Opt("--quality-of", help="Also the time each variant took to reach this variant's mean best dev score"),
    ] = None,
    # fmt: on
) -> None:
    """The sweep's results: per task and variant the metric over seeds, each variant against the baseline."""
    with cli_errors():
        report = build_report(sweep, baseline, quality_of=quality_of)
        text = write_report(sweep, report)
        typer.echo(srsly.json_dumps(report, indent=2) if as_json else text, nl=as_json)


@app.command(
    "ablate", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, epilog=SWEEP_EXIT_CODES
)
def ablate_cli(
    # fmt: off
    ctx: typer.Context,
    component: Annotated[str, Arg(help="Component to train, as for recipe-train", show_default=False)],
    train: Annotated[list[Path], Arg(help="Training data", show_default=False)],
    test: Annotated[list[Path], Opt("--test", help="Test data (repeatable)", show_default=False)],
    output: Annotated[Path, Opt("--output", "-o", help="The sweep's folder", show_default=False)],
    dev: Annotated[
        list[Path] | None, Opt("--dev", help="Dev data (repeatable; default: 10% of TRAIN held out)")
    ] = None,
    seeds: Annotated[int, Opt("--seeds", help="Seeds per variant")] = 5,
    jobs: Annotated[
        int, Opt("--jobs", "-j", help="Trials at once (default: the number of cores)", show_default=False)
    ] = 0,
    data_format: Annotated[str | None, Opt("--format", help="Data format, as for recipe-train")] = None,
    lang: Annotated[str | None, Opt("--lang", help="Language code, as for recipe-train")] = None,
    ray: Annotated[str | None, Opt("--ray", help="Run the trials as Ray tasks: an address, or 'local'")] = None,
    dry_run: Annotated[bool, Opt("--dry-run", help="Write the spec and list the trials; train nothing")] = False,
    code: Annotated[Path | None, Opt("--code", help=SWEEP_CODE_HELP)] = None,
    name: Annotated[
        str | None,
        Opt("--name", help="The task's name in the report and the trials' folders (default: TRAIN's file name)"),
    ] = None,
    # fmt: on
) -> None:
    """The recipe, each of its elements off in turn, and spaCy's default training settings: OUTPUT/ablation.yml,
    then that sweep. Extra --section.key value words apply to every trial (e.g. --training.max_epochs 10)."""
    with cli_errors():
        check_format(data_format)
        # TRAIN takes every free word: the --section.key value overrides among them are split off.
        paths, override_words = split_data_words([str(p) for p in train] + list(ctx.args))
        path = ablation_spec(
            component=component, train=[str(p) for p in paths], dev=[str(p) for p in dev or []],
            test=[str(p) for p in test], out=output, seeds=seeds, data_format=data_format, lang=lang,
            common=parse_overrides(override_words), name=name,
        )  # fmt: skip
        Console().info("Spec", str(path))
    wrote = (path, path.parent / f"{SPACY_DEFAULT}.cfg")
    _run_spec(path, output, jobs=jobs, ray=ray, dry_run=dry_run, code=code, wrote=wrote)
