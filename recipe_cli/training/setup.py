"""The start of a run, shared by a fresh run (train.py) and a resumed one (resume.py): the pipeline, [training]'s
plain settings checked, the data read and checked, and [training] resolved once against its schema, planned
(plan.py; its dropout made a schedule there)."""

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from catalogue import RegistryError
from confection import ConfigValidationError
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from spacy.language import Language
from spacy.pipeline._parser_internals.arc_eager import ArcEager
from spacy.training import Example
from spacy.training.initialize import convert_vectors, resolve_dot_names
from spacy.util import fix_random_seed, load_model_from_config, registry
from thinc.api import Config, set_gpu_allocator

from ..config.build import describe_paths, one_line, section_at
from ..config.schemas import ConfigSchemaTraining, rehearsal_settings
from ..data.annotations import check_annotations, fit_categories
from ..data.corpus import RecipeCorpus, corpus_files
from ..data.formats import Source
from ..data.oracle import ParseCheck
from ..data.summary import summarize
from ..errors import Errors, RecipeError, UsageError, unregistered
from ..output.failures import stage
from ..pipeline import trained_components
from .batching import resolve_batcher
from .plan import auto_settings
from .rehearsal import setup_rehearsal
from .schedules import Counted, as_schedule
from .training_data import TrainingData
from .transfer import Transfer, UnknownLabels, add_new_labels, pipeline_from_base


def read_training_data(nlp: Language, shuffle_buffer: int) -> TrainingData:
    """Read and check the data for the components being trained, as a fresh run and a resumed one both do."""
    # An exception from spaCy or thinc while reading: one line, the traceback in a temporary file (the CLI names it).
    with stage("Reading the data"):
        return read_data(nlp, trained_components(nlp), shuffle_buffer)


def fit_to_categories(nlp: Language, data: TrainingData, transfer: Transfer | None) -> tuple[dict[str, str], list[str]]:
    """Fit the text classifiers to the data's categories, before anything is initialised (a textcat given one
    yes/no label becomes a textcat_multilabel).

    RETURNS: the trained components (name → factory) and a line for each component switched.
    """
    trained = trained_components(nlp)
    switched = fit_categories(nlp, trained, data.train_summary, base=transfer is not None)
    return (trained_components(nlp) if switched else trained), switched


def add_base_labels(nlp: Language, T: dict[str, Any], data: TrainingData, transfer: Transfer | None) -> TrainingData:
    """Add the data's new labels to the base model's components that can grow, and refuse (E067) those that
    cannot unless training.unknown_labels = "missing": while the data is checked, before anything is initialised
    or written. RETURNS the data with a note for each component given labels."""
    if transfer is None:
        return data
    missing = T["unknown_labels"] == "missing"
    added = add_new_labels(nlp, transfer, data.train(), missing=missing)
    return data.noted(
        *(f"{name}: new labels added to the base model's: {', '.join(labels)}" for name, labels in added.items())
    )


def start_rehearsal(
    nlp: Language, T: dict[str, Any], data: TrainingData, recorded: Mapping[str, Any] | None = None
) -> TrainingData:
    """With [training.rehearsal] enabled, the base model's examples join the data; with fill_in, the training
    examples are the filled-in ones, kept in memory. What is rehearsed is recorded in the pipeline's meta.json
    ("rehearsal"), and a resumed run (recorded: that record) draws the same."""
    nlp.meta.pop("rehearsal", None)
    if not T["rehearsal"]["enabled"]:
        return data
    setup = setup_rehearsal(nlp, T, data.train, data.train_summary, recorded)
    nlp.meta["rehearsal"] = setup.record
    if setup.filled is not None:
        filled = setup.filled
        data = replace(data, train=lambda: filled, shuffle_buffer=0)
    data = replace(data, rehearsal=setup.rehearsal, warnings=(*data.warnings, *setup.warnings))
    return data.noted(*setup.notes)


def initialize(nlp: Language, T: dict[str, Any], data: TrainingData, transfer: Transfer | None) -> TrainingData:
    """Initialise the trained components on the training data (with a base model, only those it lacks), then
    check the gold parses again with the parser's own oracle. RETURNS the data as the run trains on it."""
    optimizer = T["optimizer"]
    keep_builtin_moves(nlp, trained_components(nlp))
    if transfer is None:
        with nlp.select_pipes(disable=T["frozen_components"]):
            nlp.initialize(data.train, sgd=optimizer)
    else:
        # The base's components keep their weights (the data's new labels added by add_base_labels); only added
        # components are initialised.
        data = leave_unknown_labels_missing(nlp, T, data)
        if transfer.added:
            with nlp.select_pipes(enable=transfer.added):
                nlp.initialize(data.train, sgd=optimizer)
        data = data.noted(*transfer.describe(), first=True)
    data = check_parses(data)
    return start_rehearsal(nlp, T, data)


def keep_builtin_moves(nlp: Language, trained: Iterable[str]) -> None:
    """Give each trained parser that is not initialised yet the moves every tree needs (shift, reduce, and the
    arcs and sentence break with the built-in labels), whatever the data.

    spaCy keeps a move only if the training data uses it min_action_freq times (30 by default) and adds back the
    built-in arcs and break, but not shift and reduce: a small corpus leaves the parser without shift, and no
    tree that needs it can be built (E1031 at the first update). The moves added here are kept by initialisation
    beside those it counts.
    """
    for name in trained:
        moves = getattr(nlp.get_pipe(name), "moves", None)
        if isinstance(moves, ArcEager) and moves.n_moves == 0:
            for action, labels in ArcEager.get_actions().items():
                for label in labels:
                    moves.add_action(action, label)


def check_parses(data: TrainingData) -> TrainingData:
    """Once the parser has its moves: check every training document again with its own oracle (the first pass
    dropped only head cycles, before initialisation), on the examples kept in memory, or on a pass over the
    files; those it cannot follow lose their parse with a warning, and none left is an error."""
    check = data.parse_check
    if check is None:
        return data
    dropped = len(check.dropped)
    if data.streamed:
        check.again()
        summary = summarize(data.train())
        if len(check.dropped) > dropped:
            data = replace(data, train_summary=summary)
    else:
        examples = list(data.train())
        check.check_kept(examples, list(data.origins))
        data = replace(data, train=lambda: examples)
        if len(check.dropped) > dropped:
            data = replace(data, train_summary=summarize(examples))
    check.check_left(data.train_path)
    if check.dropped:
        data = replace(data, warnings=(*data.warnings, check.warning()))
    return data


def leave_unknown_labels_missing(nlp: Language, T: dict[str, Any], data: TrainingData) -> TrainingData:
    """With [training] unknown_labels = "missing", the labels a trained component lacks and cannot add (a base
    model's tagger or morphologizer) are left unannotated in the training data, on every pass, and counted."""
    if T["unknown_labels"] != "missing":
        return data
    unknown = UnknownLabels.find(nlp, trained_components(nlp), data.train())
    if not unknown.counts:
        return data
    if data.streamed:
        data = replace(data, train=unknown.wrap(data.train))
    else:
        for eg in data.train():
            unknown.erase(eg)
    return data.noted(*unknown.describe())


def check_limits(T: Mapping[str, Any]) -> None:
    if T["max_epochs"] <= 0 and T["max_steps"] <= 0 and T["patience"] <= 0:
        raise RecipeError(Errors.E016)


def check_keep_epochs(keep_epochs: int) -> None:
    if keep_epochs < 0:
        raise UsageError(Errors.E065.format(value=keep_epochs))


def create_pipeline(config: Config) -> tuple[Language, Transfer | None]:
    """Create the pipeline (from paths.base_model if set, else uninitialised from the config), its config's
    [training] as given: every "auto" in it is still to be planned (plan.py) once the data is counted.

    RETURNS: the pipeline and how a base model was used.
    """
    _check_training_keys(config)
    config = config.copy()
    # spaCy fills [training] and checks it against the registered functions, which take no "auto": the blocks
    # that hold one (the batch size schedule, the dropout schedule) are set aside while it does and put back as
    # they are, to be checked when [training] is resolved.
    aside = {key.split(".")[0]: None for key in auto_settings(config["training"])}
    for block in aside:
        aside[block] = config["training"].pop(block)
    rehearsal = rehearsal_settings(config["training"])
    transfer = None
    try:
        interpolated = config.interpolate()
        fix_random_seed(interpolated["system"]["seed"])
        allocator = interpolated["system"]["gpu_allocator"]
        if allocator:
            set_gpu_allocator(allocator)
        base = interpolated["paths"].get("base_model")
        if base:
            distill = rehearsal.enabled and rehearsal.mode == "distill"
            nlp, transfer = pipeline_from_base(config, base, own_tok2vec=distill)
        else:
            vectors_file = _vectors_file(interpolated["paths"].get("vectors"))
            if vectors_file is not None:
                # A vectors file (not a pipeline): spaCy's `init vectors` conversion, straight into this vocab.
                config["paths"]["vectors"] = None
            nlp = load_model_from_config(config, auto_fill=True, validate=True)
            if vectors_file is not None:
                convert_vectors(nlp, vectors_file, truncate=0, prune=-1, name=None)
        # spaCy's fill drops [training] settings its own schema lacks; keep ours (checked above).
        for key, value in config["training"].items():
            nlp.config["training"].setdefault(key, value)
        nlp.config["training"].update(aside)
    except ConfigValidationError as e:
        raise RecipeError(Errors.E012.format(where="config", details=one_line(e))) from None
    except RegistryError as e:
        raise RecipeError(Errors.E012.format(where="config", details=unregistered(e))) from None
    except (KeyError, ValueError, ImportError) as e:
        raise RecipeError(Errors.E012.format(where="config", details=f"{type(e).__name__}: {e}")) from None
    return nlp, transfer


def check_settings(config: Config) -> dict[str, Any]:
    """The plain settings of [training] (not its registered blocks), checked against its schema before anything
    is read; the values the run needs before [training] is planned and resolved (shuffle_buffer, unknown_labels,
    the limits), each setting left out given its default."""
    training = config.interpolate()["training"]
    fields = ConfigSchemaTraining.model_fields
    settings: dict[str, Any] = {}
    for key, field in fields.items():
        value = training.get(key, field.default)
        if isinstance(value, dict) and any(name.startswith("@") for name in value):
            continue  # a registered function's block: checked when [training] is resolved
        if key not in training and field.is_required():
            continue  # spaCy fills it in (its own [training] defaults)
        try:
            settings[key] = _adapter(field.annotation).validate_python(value)
        except ValidationError as e:
            details = "; ".join(f"training.{key}: {err['msg']}" for err in e.errors())
            raise RecipeError(Errors.E012.format(where="[training]", details=details)) from None
    check_limits(settings)
    return settings


def _vectors_file(value: Any) -> Path | None:
    """The vectors file paths.vectors names, or None when it names a pipeline folder (or nothing)."""
    if not value:
        return None
    path = Path(str(value))
    if not path.exists():
        raise RecipeError(Errors.E020.format(path=path))
    return None if path.is_dir() else path


def _check_training_keys(config: Config) -> None:
    """Refuse unknown [training] settings: spaCy and confection drop them silently, typos included."""
    known = ConfigSchemaTraining.model_fields
    for key in config.get("training", {}):
        if key not in known:
            close = get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise RecipeError(Errors.E012.format(where="[training]", details=f"training.{key}: unknown setting{hint}"))


def _adapter(annotation: Any) -> TypeAdapter:
    """A validator for one [training] setting's type (a block with a schema of its own validates itself)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return TypeAdapter(annotation)
    return TypeAdapter(annotation or Any, config=ConfigDict(arbitrary_types_allowed=True))


def resolve_training(config: Config) -> dict[str, Any]:
    """Resolve [training] once, planned (no "auto" left: plan.plan_run): its schedules are stateful and must not
    restart.

    T["batcher"] is resolved with its size schedule counted (T["batch_sizes"]), for the training state.
    """
    try:
        T = registry.resolve(config.interpolate()["training"], schema=ConfigSchemaTraining)
    except ConfigValidationError as e:
        raise RecipeError(Errors.E012.format(where="[training]", details=one_line(e, "training."))) from None
    except RegistryError as e:
        raise RecipeError(Errors.E012.format(where="[training]", details=unregistered(e))) from None
    except (ValueError, TypeError) as e:
        raise RecipeError(Errors.E012.format(where="[training]", details=f"{type(e).__name__}: {e}")) from None
    # The dropout becomes a schedule here, once: the loop draws from it, counted for the training state.
    T["dropout"] = Counted(as_schedule(T["dropout"]))
    T["batcher"], T["batch_sizes"] = resolve_training_batcher(config)
    return T


def resolve_training_batcher(config: Config) -> tuple[Any, Counted | None]:
    """Resolve the batcher alone (again once its automatic maximum size is known), its sizes counted."""
    try:
        return resolve_batcher(config.interpolate()["training"]["batcher"])
    except ConfigValidationError as e:
        raise RecipeError(
            Errors.E012.format(where="[training.batcher]", details=one_line(e, "training.batcher."))
        ) from None


def check_corpus_paths(config: Config, interpolated: Config, names: list[str]) -> None:
    """A corpus whose path is empty (a generated spaCy config's paths.train = "", not set on the command line) is
    refused (E034) before a reader takes it for the working folder, naming the setting to give: the [paths]
    variable it refers to, or its own path."""
    for name in names:
        block = section_at(interpolated, name)
        if "path" in block and block["path"] in ("", None, []):
            raw = section_at(config, name).get("path")
            setting = f"{name}.path"
            if isinstance(raw, str) and raw.startswith("${") and raw.endswith("}"):
                setting = raw[2:-1]
            raise RecipeError(Errors.E034.format(corpus=name, setting=setting))


def read_data(nlp: Language, trained: dict[str, str], shuffle_buffer: int) -> TrainingData:
    """Read the dev examples, and count the training examples in one pass, keeping them in memory unless they
    are more than shuffle_buffer (> 0), in which case every later pass streams them from the files again.

    Checks that both can teach the trained components; training documents whose gold parse the trained parser's
    oracle cannot follow lose that parse, on every pass (oracle.ParseCheck). A parser not initialised yet has no
    moves: then only head cycles are dropped here, and initialize() checks the documents again with its oracle.
    """
    config = nlp.config.interpolate()
    T = config["training"]
    check_corpus_paths(nlp.config, config, [T["train_corpus"], T["dev_corpus"]])
    try:
        train_corpus, dev_corpus = resolve_dot_names(config, [T["train_corpus"], T["dev_corpus"]])
    except ConfigValidationError as e:
        raise RecipeError(Errors.E012.format(where="[corpora]", details=one_line(e))) from None
    train_cfg = section_at(config, T["train_corpus"])
    dev_cfg = section_at(config, T["dev_corpus"])
    train_path, dev_path = describe_paths(train_cfg.get("path")), describe_paths(dev_cfg.get("path"))
    train_files = tuple(corpus_files(train_corpus))
    # Each training document's parse is checked on this first pass; those that fail lose their parse.
    parse_check = ParseCheck.for_pipeline(nlp, trained)
    if parse_check is not None:
        if isinstance(train_corpus, RecipeCorpus):
            train_corpus.parse_check = parse_check
        else:
            train_corpus = parse_check.wrap(train_corpus, train_path)
    # One counting pass; the examples are kept while they fit in the shuffle buffer (0: no bound).
    kept: list[Example] | None = []
    origins: list[tuple[int, Source]] = []

    def counted() -> Iterator[Example]:
        nonlocal kept
        for eg in train_corpus(nlp):
            if kept is not None:
                kept.append(eg)
                if parse_check is not None and parse_check.current is not None:
                    origins.append(parse_check.current)
                if 0 < shuffle_buffer < len(kept):
                    kept = None  # more than the buffer holds: stream it, reading the files on every pass
                    origins.clear()
            yield eg

    train_summary = summarize(counted())
    if not train_summary.docs:
        raise RecipeError(Errors.E028.format(path=train_path))
    if parse_check is not None:
        parse_check.check_left(train_path)
    examples = kept
    if examples is not None:
        # In memory: read once. A corpus that fits in the buffer is shuffled exactly as a streamed one would be.
        shuffle_buffer = 0

        def train() -> Iterable[Example]:
            return examples
    else:

        def train() -> Iterable[Example]:
            return train_corpus(nlp)

    dev = list(dev_corpus(nlp))
    if not dev:
        raise RecipeError(Errors.E028.format(path=dev_path))
    check_annotations(train(), trained, train_path, n=train_summary.docs)
    check_annotations(dev, trained, dev_path, n=len(dev))
    return TrainingData(
        train=train,
        dev=dev,
        train_summary=train_summary,
        dev_summary=summarize(dev),
        train_path=train_path,
        dev_path=dev_path,
        heldout=dev_cfg.get("part") == "heldout",
        shuffle_buffer=max(0, shuffle_buffer),
        parse_check=parse_check,
        origins=tuple(origins),
        train_files=train_files,
    )
