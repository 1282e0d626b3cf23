import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..config import build_config, cli_overrides, default_output, parse_components
from ..errors import Errors, UsageError
from ..overrides import parse_overrides, split_data_words
from ..training import train
from ._util import EXIT_CODES_HELP, Arg, Opt, check_format, cli_errors

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command(
    "train",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog="Any config setting can be set with --section.key value. " + EXIT_CODES_HELP,
)
def train_cli(
    # fmt: off
    ctx: typer.Context,
    component: Annotated[
        str,
        Arg(
            help="Component to train: ner, tagger, parser, morphologizer, senter, textcat, textcat_multilabel, or a comma list (tagger,parser)",
            show_default=False,
        ),
    ],
    data: Annotated[
        list[str],
        Arg(
            help="Training data: .spacy, .json, .jsonl, .conllu, .iob/.bio/.conll, .tsv/.csv; a folder or a glob; several may be given",
            show_default=False,
        ),
    ],
    dev: Annotated[
        list[Path] | None, Opt("--dev", help="Dev data, repeatable (default: a seeded 10% of DATA held out)")
    ] = None,
    output: Annotated[Path | None, Opt("--output", "-o", help="Output folder (default: DATA-COMPONENT)")] = None,
    config: Annotated[
        Path | None, Opt("--config", "-c", help="A spaCy config; what it lacks comes from the recipe")
    ] = None,
    lang: Annotated[
        str | None, Opt("--lang", help="Language code of the tokenizer (default: en, or the config's)")
    ] = None,
    seed: Annotated[int | None, Opt("--seed", help="Random seed (default: the config's)")] = None,
    gpu_id: Annotated[int, Opt("--gpu-id", "-g", help="GPU id, or -1 for the CPU")] = -1,
    overwrite: Annotated[
        bool, Opt("--overwrite", help="Replace an earlier run in the output folder; write beside other files")
    ] = False,
    data_format: Annotated[
        str | None,
        Opt(
            "--format",
            help="Data format of DATA and --dev, instead of detecting it: spacy, json, jsonl, conllu, iob, table",
        ),
    ] = None,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="Print only errors and the final summary")] = False,
    dry_run: Annotated[
        bool, Opt("--dry-run", help="Check the config, read and summarise the data, write nothing")
    ] = False,
    # fmt: on
) -> None:
    """Train a spaCy pipeline with the recipe: compounding batches, Adam, averaged weights, decaying
    dropout, and an evaluated checkpoint after every epoch."""
    with cli_errors():
        components = parse_components(component)
        check_format(data_format)
        # DATA takes every free word: the --section.key value overrides among them are split off here.
        paths, override_words = split_data_words([*data, *ctx.args])
        if not paths:
            raise UsageError(Errors.E058)
        overrides = {
            **cli_overrides(data=paths, dev=dev, lang=lang, seed=seed, format=data_format),
            **parse_overrides(override_words),
        }
        training_config = build_config(components, config_path=config, overrides=overrides, environ=os.environ)
        output = output if output is not None else default_output(paths[0], components)
        train(training_config, output, use_gpu=gpu_id, overwrite=overwrite, argv=sys.argv, quiet=quiet, dry_run=dry_run)
