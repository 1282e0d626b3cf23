"""Coded error messages, in the style of spaCy's and weasel's errors.py.

The library raises ``RecipeError`` (or a subclass) with one of these messages;
the CLI layer prints the message on one line and exits with the error's code.
"""

import re
from collections.abc import Iterable
from pathlib import Path

from catalogue import RegistryError

# spaCy's and thinc's coded messages: "[E1031] Could not find gold transition..."
_CODED = re.compile(r"^\[[A-Z]\d+\] ")


class ErrorsWithCodes(type):
    def __getattribute__(self, code: str) -> str:
        msg = super().__getattribute__(code)
        if code.startswith("__"):  # python system attributes like __class__
            return msg
        return f"[{code}] {msg}"


class Errors(metaclass=ErrorsWithCodes):
    # Command line
    E001 = "Unknown component '{name}'. Choose from: {options}."
    E002 = "Component '{name}' is given twice."
    E003 = "Invalid config override '{arg}': {reason}."
    # recipe-train CONFIG.cfg: the config-file form, spacy train's command line
    E004 = (
        "{path}: recipe-train CONFIG.cfg reads the data its config names ([paths], [corpora]); {words} cannot "
        "follow it (set --paths.train and --paths.dev instead)."
    )
    E005 = (
        "{options} cannot be given with recipe-train CONFIG.cfg: they describe DATA and --dev, and the config's "
        "[corpora] reads the data (set its settings with --paths.* and --corpora.*, e.g. --paths.dev dev.spacy)."
    )
    E006 = (
        "--keep-training-settings keeps a config file's [training] settings in recipe-train CONFIG.cfg; with "
        "COMPONENT DATA, a -c/--config file's settings are kept already."
    )
    E007 = "{first} and {second} both name the {what}: give one."
    E008 = (
        "'{word}' is a file, not a component: recipe-train COMPONENT DATA... names a component first, and "
        "recipe-train CONFIG.cfg a config file whose name ends in {suffixes}."
    )
    E019 = "{path}: [nlp] pipeline names no component to train."
    E009 = (
        "The name {name} is not valid UTF-8: rename it (spaCy's config and recipe-train's records hold paths as "
        "UTF-8 text)."
    )
    # Configuration
    E010 = "Config file not found: {path}"
    E011 = "Config file {path} could not be parsed: {error}"
    E012 = "Config validation failed ({where}): {details}"
    E013 = "Environment variable {var}={value!r} is not a valid {kind} (for {path})."
    E014 = "Environment variable {var} sets {path}, but the config has no such setting ({reason})."
    E015 = "SPACY_CONFIG_OVERRIDES could not be parsed: {reason}."
    E016 = "Training would never stop: training.max_epochs, training.max_steps and training.patience are all 0."
    E017 = "Config file {path}: [{section}] is not a section of a spaCy config{hint}; its sections are {known}."
    E018 = "Python code not found: {path} (--code names a file of registered functions)."
    # Data
    E020 = "Data file not found: {path}"
    E021 = "{path}: cannot tell the data format from the file name (expected .spacy, .json, .jsonl, .conllu, .iob, .bio, .conll, .tsv or .csv, or a .txt file of fastText lines; or pass --format)."
    E022 = "{path}: file is empty."
    E023 = "{path}: not valid UTF-8 text ({error})."
    E024 = "{path}: invalid JSON: {error}"
    E025 = "{path}, record {record}: {reason}"
    E026 = "{path}, line {line}: {reason}"
    E027 = "{path}: not a spaCy DocBin ({error})."
    E028 = "{path}: holds no examples."
    E029 = "{path}: no {annotation} annotation for the '{component}' component in {n} examples."
    E030 = "{path}: holds {n} example(s); holding out a dev split needs at least 2. Pass --dev."
    E031 = "{path}: unsupported JSON layout: {reason}"
    E032 = "{path}, {where}: {reason}"
    E034 = (
        "{corpus} names no data: its path is empty. Set it with --{setting} PATH, as a spaCy project's train step does."
    )
    E120 = "{path}: not a Label Studio labeling config: {reason}"
    E121 = (
        "{path}: cannot tell the annotations from the tasks' data: {fields} {verb} single values, as a data field "
        "and a single-choice <Choices> tag both do; pass the project's labeling config (--label-config "
        "label_config.xml, from the project's Settings > Labeling Interface > Code)"
    )
    E033 = "{path}: no data files found (a folder is searched for .spacy, .json, .jsonl, .conllu, .iob, .bio, .conll, .tsv, .csv)."
    E036 = "{where}: category value {value}: textcat and textcat_multilabel learn from 0 and 1 only."
    E037 = (
        "{where}: several categories at 1 in one text ({labels}), but '{name}' (textcat) takes one category per text: "
        "train textcat_multilabel instead."
    )
    E038 = (
        "{where}: a value for {given} of the {n} categories only (a yes/no answer about one label, say), but "
        "'{name}' (textcat) learns one category among all of them per text: train textcat_multilabel instead, "
        "which learns each label's answers."
    )
    E039 = (
        "{path}: the parser cannot follow the gold parse of any of its {n:,} parsed documents (no sequence of its "
        "moves builds their trees; check their heads): {examples}."
    )
    # Output
    E040 = "Output folder {path} holds files not written by recipe-train ({examples}). Choose another -o or pass --overwrite."
    E041 = (
        "Output folder {path} holds an earlier recipe-train run. Choose another -o or pass --overwrite to replace it."
    )
    E042 = "Output path {path} is a file, not a folder."
    E043 = (
        "Output folder {path} is in use by another recipe-train run (pid {pid}): wait for it to end or stop it, "
        "or choose another -o."
    )
    E044 = "Cannot write in {path} ({reason}): choose another folder, or make this one writable."
    # Runtime
    E050 = "GPU {gpu_id} requested, but no GPU is available ({error})."
    E051 = "Pipeline could not be loaded from {path}: {error}"
    E052 = "The data has none of the annotation the pipeline predicts: {what}."
    E053 = "The data has label(s) {labels} that the '{name}' component does not know (it knows: {known})."
    E054 = "No data given to score {model} on: name a data file (a training output folder uses its dev data)."
    E055 = "Invalid --min {arg!r}: expected SCORE=VALUE, e.g. ents_f=0.55."
    E056 = "--min names {names}, not a score of this pipeline (its scores: {scores})."
    E057 = "Unknown data format '{name}'. Choose from: {options}."
    E058 = (
        "Missing COMPONENT or DATA: recipe-train COMPONENT DATA... [--section.key value ...] (or a spaCy config: "
        "recipe-train CONFIG.cfg --paths.train ... --paths.dev ...; or --resume OUT)."
    )
    E059 = "No run to resume in {path}: it holds no complete epoch with its training state{why}."
    E060 = (
        "--resume {path} continues the run with its own config; {what} cannot be given (only {allowed}, to extend it)."
    )
    E061 = "--resume {path}: {name} = {new} would shorten the run ({name} was {old}); only longer runs can be resumed."
    E062 = "Could not write {path}: {reason}. Earlier epochs are intact."
    E063 = "The training state in {path} cannot be used: {error}"
    E064 = "Interrupted by {signal} in epoch {epoch}: averaged weights saved to {last}. Resume with: recipe-train --resume {out}"
    E072 = "Interrupted before the first epoch: nothing trained yet. Resume with: recipe-train --resume {out}"
    E066 = "Base model {base}: its '{name}' component is a {factory}, not a {want}; choose another component or base."
    E067 = (
        "The data has labels the base model's '{name}' does not know ({labels}), and a trained {name} cannot add "
        "labels; leave them unannotated with --training.unknown_labels missing, or train it without --base-model "
        "{base}, or with a base that lacks '{name}'."
    )
    E068 = "--rehearse needs --base-model: pseudo-rehearsal keeps what a pretrained pipeline knew."
    E069 = "--vectors cannot be combined with --base-model: the base model's vectors are used."
    E065 = "--keep-epochs must be 0 (keep all) or a positive number, not {value}."
    # Failures inside spaCy, thinc or a component (the traceback goes to a log file)
    E070 = "{stage} failed{where}: {error}"
    E071 = "Unexpected error: {error}"
    # recipe.Corpus.v1 arguments
    E073 = "corpus part must be one of {options}, not {part!r}"
    E074 = "corpus holdout must be 0 or a share from {minimum} to below 1, not {holdout!r}"
    # The training state of an epoch (shown inside E063)
    E075 = "the saved state names parameters this pipeline lacks: {names}"
    E076 = "corpus span_alignment must be one of {options}, not {value!r}"
    # recipe-sweep
    E080 = "Sweep spec not found: {path}"
    E081 = "{path}: {key}: {error}"
    E082 = '--ray needs Ray: pip install "recipe-train[ray]" (or pip install "ray>=2.59").'
    E083 = (
        "Trial {id} was run with other settings than the spec now gives ({folder}): the spec changed. "
        "Use another output folder for the changed sweep, or move that trial's folder and row away."
    )
    E084 = "Trial {id}: {step} exited with {code}: {line} (log: {log})"
    E085 = "No score {metric!r} in recipe-eval's scores (they are: {scores})."
    E086 = "Interrupted: {n} running trial(s) stopped and saved. Run the same command again to continue {sweep}."
    E087 = (
        "The spec asks for a GPU per trial (resources.gpus), but no GPU is visible (CUDA_VISIBLE_DEVICES, nvidia-smi)."
    )
    E088 = "No finished trials in {sweep} to report on (no {file})."
    E089 = "Ray at {address}: {error}"
    E090 = "Trial {id}: its Ray task failed: {error} (a task whose worker or node died is retried {retries} times)"
    E091 = (
        "Ray at {address}: {error}. Is its head node there, and does this shell see the cluster's token as its "
        "nodes do? Ray >= 2.59 authenticates with one: RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or "
        "RAY_AUTH_TOKEN_PATH, a file holding it)."
    )
    E093 = (
        '[training.dropout] total_steps = "auto" plans the run\'s updates: it needs training.max_epochs or '
        "training.max_steps above 0."
    )
    E092 = "Another recipe-sweep (pid {pid}) is running on {sweep}: wait for it, or stop it first."
    E094 = "{path}: cannot be read ({why})."
    E095 = (
        "Interrupted by a second {signal} in epoch {epoch}: stopped at once, leaving what it was saving unsaved; "
        "the epochs saved before are intact. Resume with: recipe-train --resume {out}"
    )
    E096 = "--name {name!r}: a task's name may hold letters, digits and . _ - = + , only (it names a folder)."
    E097 = (
        "{path}: the packaged config's block and the literal recipe's differ in shape, so no override of a value "
        "makes one the other (ablate's packaged-default row)."
    )
    E098 = (
        "Trial {id} ran shorter than the spec now gives ({folder}), but its dropout is planned over the run's "
        'updates (total_steps = "auto"): a longer run is another trial from its first update. Use another '
        "output folder for the changed sweep, or move that trial's folder and row away."
    )


class Warnings(metaclass=ErrorsWithCodes):
    # Data
    W001 = "the data has no {what} annotation: '{name}' is not scored"
    W002 = "{path}: skipped {n} record(s) ({counts})."
    W003 = "{path}: {n} I- tag(s) without a preceding entity of their type were read as B-."
    W005 = (
        "dev {name} never seen in training: {shown}{more}; nothing trained on this data predicts them, so each "
        "counts as a miss in the dev score"
    )
    W006 = (
        "{n:,} {corpus} documents are longer than {limit:,} tokens (longest {longest:,}): set "
        "corpora.{part}.max_length to split them"
    )
    W007 = "only one category in the training data, with one answer ({answers}): nothing to choose between"
    W008 = "entity labels seen fewer than 3 times in training: {labels}"
    W009 = (
        "the parser cannot follow the gold parse of {n:,} training {documents} (no sequence of its moves builds "
        "{trees}; check the heads): {they} without heads and labels, keeping the rest: {names}"
    )
    W020 = (
        "{path}: {fields} read as the tasks' data, not as annotations (a single-choice <Choices> tag looks the "
        "same: pass --label-config label_config.xml to read one)"
    )
    W021 = "{path}: skipped {n} of {total} task(s): {counts}."
    W010 = "{path}: {n} relation(s) not read: recipe-train trains entities and categories, not relations."
    # Config
    W004 = "This config departs from the recipe"
    # recipe-sweep
    W011 = "Interrupted: stopping {n} running trial(s); each saves model-last"


class RecipeError(ValueError):
    """An error caused by the user's input: config, data, environment, paths.

    exit_code (int): the process exit status the CLI uses for it.
    """

    exit_code = 1


class StageError(RecipeError):
    """An exception from spaCy, thinc or a component in one stage of a run (initialisation, an update,
    evaluation, saving): one line naming the stage, spaCy's own message and, for an update, the batch.

    error (Exception): the original exception, whose traceback goes to `log`.
    where (str): what the stage was doing, e.g. " in epoch 2, step 31 (batch of 4 documents: ...)".
    details (List[str]): more lines for the log, e.g. every document of the batch.
    log (Path or str): the file holding the traceback once written, or why none was; None before.
    """

    def __init__(self, stage: str, error: BaseException, where: str = "", details: Iterable[str] = ()) -> None:
        super().__init__(stage)
        self.stage = stage
        self.error = error
        self.where = where
        self.details = list(details)
        self.log: Path | str | None = None

    def __str__(self) -> str:
        error = one_line(self.error)
        if self.stage:
            message = Errors.E070.format(stage=self.stage, where=self.where, error=error)
        else:
            message = Errors.E071.format(error=error)
        if isinstance(self.log, Path):
            return f"{message} (full traceback: {self.log})"
        return f"{message} (full traceback {self.log})" if self.log else message


def one_line(error: BaseException) -> str:
    """An exception on one line: spaCy's and thinc's coded messages as they are ("[E1031] ..."), others
    after their type ("TypeError: ...")."""
    # str() of a KeyError quotes its message.
    text = error.args[0] if isinstance(error, KeyError) and len(error.args) == 1 else error
    message = " ".join(str(text).split())
    if not message:
        return type(error).__name__
    return message if _CODED.match(message) else f"{type(error).__name__}: {message}"


def unregistered(error: BaseException) -> str:
    """A registry's "could not find function" (catalogue's RegistryError) on one line: spaCy's message without its
    list of every name registered, and how to register one's own; any other error as one_line has it."""
    if not isinstance(error, RegistryError):
        return one_line(error)
    text = " ".join(str(error).split("Available names:")[0].split())
    return f"{text} A function of your own: name its file with --code."


class RunInterrupted(RecipeError):
    """SIGINT or SIGTERM stopped a run after saving: exit status 128 + the signal's number (130, 143)."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


class UsageError(RecipeError):
    """A command-line usage error (exit status 2, like Typer's own)."""

    exit_code = 2
