import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..config.overrides import EXTENDING
from ..training.resume import resume as resume_run
from ..training.train import train
from .util import (
    CODE_HELP,
    EXIT_CODES_HELP,
    Arg,
    Opt,
    OptionalValueCommand,
    Recipe,
    RunOptions,
    SpanAlignment,
    check_names,
    check_resume_options,
    cli_errors,
    config_and_code,
    config_file_form,
    parse_free_words,
    run_config,
    set_verbose,
    version_option,
)

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command(
    "train",
    cls=OptionalValueCommand,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog="Any config setting can be set with --section.key value. " + EXIT_CODES_HELP,
)
def train_cli(
    # fmt: off
    ctx: typer.Context,
    component: Annotated[
        str | None,
        Arg(
            metavar="COMPONENT",
            help="Component to train: ner, tagger, parser, morphologizer, senter, textcat, textcat_multilabel, or a comma list (tagger,parser)",
            show_default=False,
        ),
    ] = None,
    data: Annotated[
        list[str] | None,
        Arg(
            metavar="DATA...",
            help="Training data: .spacy, .json, .jsonl, .conllu, .iob/.bio/.conll, .tsv/.csv (doccano and Label Studio exports too), fastText .txt; a folder or a glob; several may be given",
            show_default=False,
        ),
    ] = None,
    dev: Annotated[
        list[Path] | None, Opt("--dev", help="Dev data, repeatable (default: a seeded 10% of DATA held out)")
    ] = None,
    output: Annotated[
        Path | None,
        Opt("--output", "-o", "--output-path", help="Output folder (default: DATA-COMPONENT, or CONFIG-train)"),
    ] = None,
    config: Annotated[Path | None, Opt("--config", help="A spaCy config; what it lacks comes from the recipe")] = None,
    # spacy train's -c is --code, and a project's train step may use it: -c is --config after COMPONENT DATA, and
    # spacy train's -c after CONFIG.cfg (util.config_and_code).
    short_c: Annotated[
        Path | None,
        Opt(
            "-c",
            help="After COMPONENT DATA: --config. After CONFIG.cfg: --code, as spacy train's -c",
            show_default=False,
        ),
    ] = None,
    keep_training_settings: Annotated[
        bool,
        Opt(
            "--keep-training-settings",
            help="With CONFIG.cfg, keep the config's own training settings (dropout, batcher, optimizer, the run's "
            "limits, spaCy's console logger) instead of the recipe's",
        ),
    ] = False,
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
            help="Data format of DATA and --dev, instead of detecting it: spacy, json, jsonl, conllu, iob, table, "
            "doccano, labelstudio",
        ),
    ] = None,
    label_config: Annotated[
        Path | None,
        Opt(
            "--label-config",
            help="The Label Studio project's labeling config (XML): its <Labels> and <Choices> tags name the "
            "annotation fields of its JSON-MIN, CSV and TSV exports (without it, they are told by their shape)",
            show_default=False,
        ),
    ] = None,
    span_alignment: Annotated[
        SpanAlignment | None,
        Opt(
            "--span-alignment",
            help="An annotation tool's entity span that cuts a token: snap it to token boundaries, taking every "
            "token it touches (expand) or only those inside it (contract), instead of stopping (strict, the default)",
            show_default=False,
        ),
    ] = None,
    recipe: Annotated[
        Recipe | None,
        Opt(
            "--recipe",
            help="The recipe to start from: the packaged defaults (default), or RECIPE.md's settings to the letter "
            "(a config file, the environment and --section.key values still win over either)",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="Print only errors and the final summary")] = False,
    vectors: Annotated[
        Path | None,
        Opt(
            "--vectors", help="Static word vectors to start from: a pipeline folder, or a vectors file (.txt/.vec/.npz)"
        ),
    ] = None,
    base_model: Annotated[
        str | None,
        Opt(
            "--base-model",
            help="A pretrained pipeline (package name or folder) to start from: COMPONENT is updated in place or "
            "added beside its components, which are kept frozen",
        ),
    ] = None,
    rehearse: Annotated[
        str | None,
        Opt(
            "--rehearse",
            metavar="[RAW]",
            help="With --base-model, pseudo-rehearsal: the base model annotates raw texts (RAW: .txt, one per line, "
            "or .jsonl; without RAW, a sample of the base model's own training texts when they can be found, else the "
            "training texts) that join every batch, and fills in the labels the new data lacks",
            show_default=False,
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        Opt(
            "--resume",
            help="Continue the interrupted run in this output folder from its last complete epoch (or start it "
            "again if it saved none), with its own config (only --training.max_epochs/max_steps/patience may "
            "extend it)",
            show_default=False,
        ),
    ] = None,
    keep_epochs: Annotated[
        int | None,
        Opt(
            "--keep-epochs",
            help="Keep only the last K epoch folders (default: all); model-best, model-last and the state to "
            "resume from always stay",
            show_default=False,
        ),
    ] = None,
    plot: Annotated[
        bool | None,
        Opt(
            "--plot/--no-plot",
            help="Redraw OUT/training.png after every epoch (the default), or draw nothing and start no drawing "
            "process; --resume keeps the run's own choice unless given",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, Opt("--dry-run", help="Check the config, read and summarise the data, write nothing")
    ] = False,
    code: Annotated[Path | None, Opt("--code", help=CODE_HELP + "; --resume imports it again")] = None,
    verbose: Annotated[
        bool,
        Opt("--verbose", "-V", "-VV", help="spaCy's debugging messages (its logger's DEBUG level), as spacy train's"),
    ] = False,
    version: Annotated[bool, version_option()] = False,
    # fmt: on
) -> None:
    """Train a spaCy pipeline with the recipe: compounding batches, Adam, averaged weights, dropout (0.2; the
    recipe's decay with --recipe literal), and an evaluated checkpoint after every epoch.

    recipe-train CONFIG.cfg [--output OUT] [--paths.train ...] [--code F] [--gpu-id N] takes spacy train's command
    line: the config's own pipeline and data, with the recipe's training settings."""
    with cli_errors():
        check_names(component, data, ctx.args, dev, output, config, short_c, vectors, base_model, resume, rehearse)
        set_verbose(verbose)
        free = parse_free_words([w for w in (component, *(data or []), *ctx.args) if w is not None])
        config, code = config_and_code(free, short_c, config, code)
        options = RunOptions(dev=dev, config=config, lang=lang, seed=seed, data_format=data_format,
                             label_config=label_config, span_alignment=span_alignment.value if span_alignment else None,
                             output=output, vectors=vectors, base_model=base_model,
                             recipe=recipe.value if recipe else None, code=code, rehearse=rehearse,
                             keep_training_settings=keep_training_settings or None)  # fmt: skip
        if resume is not None:
            check_resume_options(resume, free, options.given(), EXTENDING)
            resume_run(resume, overrides=free.overrides, use_gpu=gpu_id, quiet=quiet, keep_epochs=keep_epochs,
                       plot=plot)  # fmt: skip
            return
        training_config, out = run_config(free, options, os.environ)
        # spacy train writes over its output folder, and a project's train step runs again whenever its inputs
        # change: recipe-train CONFIG.cfg replaces an earlier run there, and writes beside the later steps' files.
        overwrite = overwrite or config_file_form(free) is not None
        train(training_config, out, use_gpu=gpu_id, overwrite=overwrite, argv=sys.argv, quiet=quiet,
              dry_run=dry_run, keep_epochs=keep_epochs or 0, plot=plot is not False, code=code)  # fmt: skip
