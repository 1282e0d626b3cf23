"""Shared bits of the commands: options, the one error channel, and the command line's free words and named
options turned into what the library takes (plain functions, tested apart from the commands)."""

import logging
import os
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import click
import spacy
import typer
from typer.core import TyperCommand

from .. import __version__
from ..config.build import (
    COMPONENTS,
    CONFIG_SUFFIXES,
    TrainingConfig,
    build_config,
    config_components,
    config_paths,
    parse_components,
)
from ..config.code import import_code
from ..config.overrides import parse_overrides
from ..data.formats import FORMATS
from ..display.console import Console
from ..errors import Errors, RecipeError, StageError, UsageError
from ..output.failures import logged
from ..output.layout import default_config_output, default_output

Arg = typer.Argument
Opt = typer.Option

EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 bad data, config, environment or output folder; "
    "2 bad command-line usage; 130 interrupted (Ctrl-C); 143 stopped by SIGTERM."
)


CODE_HELP = "A Python file of registered functions (architectures, readers, callbacks, loggers) to import first"


def show_version(value: bool) -> None:
    """--version: the project's version and spaCy's, then exit."""
    if value:
        typer.echo(f"recipe-train {__version__} (spaCy {spacy.__version__})")
        raise typer.Exit()


def version_option() -> Any:
    """The --version flag of every command (eager: it answers before any argument is checked)."""
    return Opt("--version", callback=show_version, is_eager=True, help="Print the version and exit")


def set_verbose(verbose: bool) -> None:
    """--verbose: spaCy's logger at its DEBUG level, as spacy train's --verbose sets it."""
    if verbose:
        spacy.util.logger.setLevel(logging.DEBUG)


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


class Recipe(str, Enum):
    """--recipe choices (build_config's recipe_name)."""

    default = "default"
    literal = "literal"


class SpanAlignment(str, Enum):
    """--span-alignment choices (the corpus reader's span_alignment setting)."""

    strict = "strict"
    expand = "expand"
    contract = "contract"


def check_format(name: str | None) -> None:
    """A --format value must name a reader (usage error, exit 2, otherwise)."""
    if name is not None and name not in FORMATS:
        raise UsageError(Errors.E057.format(name=name, options=", ".join(FORMATS)))


@dataclass
class FreeWords:
    """recipe-train's free words, sorted: COMPONENT and DATA, and the --section.key overrides.

    words (List[Path]): COMPONENT then the DATA paths, as typed.
    overrides (Dict[str, Any]): dotted config path → value.
    """

    words: list[Path] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)


def parse_free_words(words: Sequence[str]) -> FreeWords:
    """COMPONENT and DATA take every free word: split off the --section.key value overrides."""
    paths, override_words = split_data_words(list(words))
    return FreeWords(words=paths, overrides=parse_overrides(override_words))


def config_file_form(free: FreeWords) -> Path | None:
    """The config of recipe-train CONFIG.cfg (spacy train's command line), when the first free word names a config
    file by its suffix (whether or not it exists: a missing one is E010, not an unknown component); else None."""
    if free.words and free.words[0].suffix.lower() in CONFIG_SUFFIXES:
        return free.words[0]
    return None


def config_and_code(
    free: FreeWords, short_c: Path | None, config: Path | None, code: Path | None
) -> tuple[Path | None, Path | None]:
    """--config and --code, with -c read as the form has it: --config after COMPONENT DATA, spacy train's own
    -c (--code) after CONFIG.cfg, where a project's train step puts it (`spacy train config.cfg -c functions.py`).
    The same option given twice is a usage error (E007)."""
    if short_c is None:
        return config, code
    if config_file_form(free) is None:
        if config is not None:
            raise UsageError(Errors.E007.format(first="-c", second="--config", what="config file"))
        return short_c, code
    if code is not None:
        raise UsageError(Errors.E007.format(first="-c (spacy train's --code)", second="--code", what="code file"))
    return config, short_c


# --rehearse given without RAW: rehearsal on the training texts.
TRAINING_TEXTS = ""


def _is_option(word: str) -> bool:
    """An option's name (--long or -s), not a value: "-" alone is a value (standard input, by convention)."""
    return word.startswith("-") and word != "-"


class OptionalValueCommand(TyperCommand):
    """A command whose options named in `optional_value` may be given without their value: a bare `--rehearse`
    (last, or before another option, long or short) is read as `--rehearse=` (the empty value), which the command takes as "the
    default source". Typer's options always take a value; this keeps `--rehearse RAW`, `--rehearse=RAW` and a
    bare `--rehearse` all declared, shown in --help and parsed by one rule."""

    optional_value = ("--rehearse",)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's own click Context
        words = list(args)
        for i, word in enumerate(words):
            if word in self.optional_value and (i + 1 == len(words) or _is_option(words[i + 1])):
                words[i] = f"{word}={TRAINING_TEXTS}"
        return super().parse_args(ctx, words)


@dataclass
class RunOptions:
    """recipe-train's options that decide what a run trains on and with (what --resume takes from the run itself).

    Each is None (or []) when not given; names as on the command line in OPTION_NAMES.
    """

    dev: list[Path] | None = None
    config: Path | None = None
    lang: str | None = None
    seed: int | None = None
    data_format: str | None = None
    label_config: Path | None = None
    span_alignment: str | None = None
    output: Path | None = None
    vectors: Path | None = None
    base_model: str | None = None
    recipe: str | None = None
    code: Path | None = None
    rehearse: str | None = None
    # True, or None when not given (a flag, off by default).
    keep_training_settings: bool | None = None

    OPTION_NAMES = {"data_format": "--format", "label_config": "--label-config", "span_alignment": "--span-alignment",
                    "base_model": "--base-model", "keep_training_settings": "--keep-training-settings"}  # fmt: skip
    # The options that describe DATA and --dev, which recipe-train CONFIG.cfg refuses (E005): its config reads the data.
    DATA_OPTIONS = ("dev", "data_format", "label_config", "span_alignment")

    def option(self, name: str) -> str:
        """A field's option as typed: data_format → --format."""
        return self.OPTION_NAMES.get(name, f"--{name}")

    def given(self) -> dict[str, Any]:
        """Option as typed (--dev, --format...) → value, for every option."""
        return {self.option(name): value for name, value in vars(self).items()}


def run_config(free: FreeWords, options: RunOptions, environ: Mapping[str, str]) -> tuple[TrainingConfig, Path]:
    """The config a fresh run trains with (packaged recipe < -c file < environment < options and overrides) and
    its output folder (default: DATA-COMPONENT), from the command line; the --code file imported first.
    recipe-train CONFIG.cfg: config_file_run."""
    if config_file_form(free) is not None:
        return config_file_run(free, options, environ)
    if options.keep_training_settings:
        raise UsageError(Errors.E006)
    components, paths = components_and_data(free)
    check_format(options.data_format)
    import_code(options.code)
    named = cli_overrides(data=paths, dev=options.dev, lang=options.lang, seed=options.seed, format=options.data_format,
                          vectors=options.vectors, base_model=options.base_model, rehearse=options.rehearse,
                          label_config=options.label_config, span_alignment=options.span_alignment)  # fmt: skip
    training_config = build_config(components, config_path=options.config, overrides={**named, **free.overrides},
                                   environ=environ, recipe_name=options.recipe or "default")  # fmt: skip
    output = options.output if options.output is not None else default_output(paths[0], components)
    return training_config, output


def config_file_run(free: FreeWords, options: RunOptions, environ: Mapping[str, str]) -> tuple[TrainingConfig, Path]:
    """recipe-train CONFIG.cfg, spacy train's command line: the components and data are the config's own
    ([nlp], [components], [paths], [corpora]); the recipe fills what it lacks, and its training settings replace
    the file's unless --keep-training-settings (build_config's replace_training). --paths.vectors loads vectors as
    spacy train does, leaving the components as they are; --vectors also makes them use the vectors. Output
    default: CONFIG-train."""
    config_path = free.words[0]
    if options.config is not None:
        raise UsageError(Errors.E007.format(first=str(config_path), second="--config", what="config file"))
    if len(free.words) > 1:
        words = " ".join(str(word) for word in free.words[1:])
        raise UsageError(Errors.E004.format(path=config_path, words=words))
    refused = [options.option(key) for key in options.DATA_OPTIONS if getattr(options, key) not in (None, [])]
    if refused:
        raise UsageError(Errors.E005.format(options=", ".join(refused)))
    components = config_components(config_path)
    import_code(options.code)
    named = cli_overrides(data=None, dev=None, lang=options.lang, seed=options.seed, vectors=options.vectors,
                          base_model=options.base_model, rehearse=options.rehearse)  # fmt: skip
    training_config = build_config(components, config_path=config_path, overrides={**named, **free.overrides},
                                   environ=environ, recipe_name=options.recipe or "default",
                                   replace_training=not options.keep_training_settings,
                                   static_vectors=options.vectors is not None)  # fmt: skip
    output = options.output if options.output is not None else default_config_output(config_path)
    return training_config, output


def check_resume_options(resume: Path, free: FreeWords, options: Mapping[str, Any], extending: Sequence[str]) -> None:
    """--resume takes the run's own config and data: refuse the options (name → value) and words that would
    change them (usage error E060). Empty values ([], None) are options not given."""
    given = [name for name, value in options.items() if value is not None and value != []]
    if given or free.words:
        what = ", ".join(given + (["COMPONENT or DATA"] if free.words else []))
        raise UsageError(Errors.E060.format(path=resume, what=what, allowed=", ".join(extending)))


def components_and_data(free: FreeWords) -> tuple[list[str], list[Path]]:
    """COMPONENT (a comma list of known components) and the DATA paths from the free words."""
    if len(free.words) < 2:
        raise UsageError(Errors.E058)
    word = str(free.words[0])
    if not all(name.strip() in COMPONENTS for name in word.split(",")) and free.words[0].is_file():
        raise UsageError(Errors.E008.format(word=word, suffixes=" or ".join(CONFIG_SUFFIXES)))
    return parse_components(word), free.words[1:]


def split_data_words(words: list[str]) -> tuple[list[Path], list[str]]:
    """Split free command-line words into data paths and override words.

    ["a.conll", "--training.max_epochs", "5", "b.jsonl"] → ([a.conll, b.jsonl], ["--training.max_epochs", "5"]).
    A word after a "--name" (without "=") is that override's value unless it starts with "--" too.
    """
    paths: list[Path] = []
    overrides: list[str] = []
    words = list(words)
    while words:
        word = words.pop(0)
        if not word.startswith("--"):
            paths.append(Path(word))
            continue
        overrides.append(word)
        if "=" not in word and words and not words[0].startswith("--"):
            overrides.append(words.pop(0))
    return paths, overrides


def cli_overrides(
    *,
    data: Sequence[Path] | None,
    dev: Sequence[Path] | None,
    lang: str | None,
    seed: int | None,
    format: str | None = None,
    vectors: Path | None = None,
    base_model: str | None = None,
    rehearse: str | None = None,
    span_alignment: str | None = None,
    label_config: Path | None = None,
) -> dict[str, Any]:
    """The config settings that recipe-train's named options stand for (several paths become a list).

    data: the DATA paths, or None for recipe-train CONFIG.cfg, whose config names its data (then dev is None too).
    rehearse: --rehearse's value: RAW (a path), TRAINING_TEXTS ("": rehearsal on the training texts), None for none.
    span_alignment: corpora.train.span_alignment (the dev corpus follows it), or None to keep the config's.
    label_config: corpora.train.label_config and corpora.dev.label_config (a Label Studio labeling config).
    """
    overrides: dict[str, Any] = {}
    if data is not None:
        overrides.update({"paths.train": config_paths(data), "paths.dev": config_paths(dev or data)})
    if vectors is not None:
        overrides["paths.vectors"] = str(vectors)
    if base_model is not None:
        overrides["paths.base_model"] = str(base_model)
    if rehearse is not None:
        overrides["training.rehearsal.enabled"] = True
        if rehearse != TRAINING_TEXTS:
            overrides["paths.rehearse"] = rehearse
    if format is not None:
        overrides.update({"corpora.train.format": format, "corpora.dev.format": format})
    if label_config is not None:
        overrides.update(
            {"corpora.train.label_config": str(label_config), "corpora.dev.label_config": str(label_config)}
        )
    if span_alignment is not None:
        overrides.update({"corpora.train.span_alignment": span_alignment, "corpora.dev.span_alignment": span_alignment})
    if data is not None and not dev:  # hold out a seeded share of DATA as dev data
        overrides.update({"corpora.train.part": "train", "corpora.dev.part": "heldout"})
    if lang is not None:
        overrides["nlp.lang"] = lang
    if seed is not None:
        overrides["system.seed"] = seed
    return overrides


def check_names(*names: object) -> None:
    """Paths given on the command line must be valid UTF-8 (undecodable bytes reach Python as lone surrogates,
    which no config, JSON file or terminal takes): one line naming the first that is not (exit 1)."""
    for name in names:
        if isinstance(name, (list, tuple)):
            check_names(*name)
        elif isinstance(name, (str, Path)) and not _is_utf8(str(name)):
            shown = os.fsencode(str(name)).decode("utf8", errors="backslashreplace")
            raise RecipeError(Errors.E009.format(name=f"'{shown}'"))


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf8")
    except UnicodeEncodeError:
        return False
    return True
