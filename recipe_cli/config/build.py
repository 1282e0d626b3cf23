"""Building the training config: packaged recipe < user config < environment < command line."""

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from confection import ConfigValidationError
from spacy.schemas import ConfigSchema
from thinc.api import Config

from ..errors import Errors, RecipeError, UsageError
from .environment import env_overrides

COMPONENTS = ("ner", "tagger", "parser", "morphologizer", "senter", "textcat", "textcat_multilabel")
# The value of [training.batcher.size] stop that asks for the recipe's automatic maximum.
AUTO = "auto"
# Sections taken from a user's config as a whole when it defines its own pipeline.
_PIPELINE_SECTIONS = ("nlp", "components")
# Readers that recipe.Corpus.v2 replaces: it takes their arguments and reads more formats.
_REPLACED_READERS = {"spacy.Corpus.v1"}
# The top-level sections of a spaCy training config: spaCy's schema and the two it leaves free for variables.
CONFIG_SECTIONS = ("paths", "system", *ConfigSchema.model_fields)
# A reference to another section's value: ${section.key}.
_REFERENCE = re.compile(r"\$\{([^.}\s]+)\.")
# A reference to a setting of another corpus: ${corpora.train.sents_per_doc}.
_CORPUS_REFERENCE = re.compile(r"\$\{corpora\.(\w+)\.(\w+)\}")
# Settings of [training] compared with the recipe to list a config's departures from it: RECIPE.md §1-§5's
# blocks and §6's limits of a run (spaCy's init config stops by max_steps and a patience counted in steps).
_RECIPE_SETTINGS = (
    "dropout", "batcher", "optimizer", "accumulate_gradient", "eval_frequency", "max_epochs", "patience", "max_steps"
)  # fmt: skip
# spaCy's console table, which a generated config names: the recipe's own (with the dropout and batch size of each
# epoch) replaces it where the recipe's training settings replace the file's. Any other logger is the user's.
_SPACY_CONSOLE_LOGGERS = ("spacy.ConsoleLogger.v1", "spacy.ConsoleLogger.v2", "spacy.ConsoleLogger.v3")
# The names a config file ends in, as recipe-train's first word (recipe-train CONFIG.cfg): spaCy's configs are
# INI files, named .cfg; no data format takes either suffix.
CONFIG_SUFFIXES = (".cfg", ".ini")


@dataclass
class TrainingConfig:
    """The config a run trains with, and how it came about."""

    config: Config
    # Dotted path → (environment variable, value) for each override the environment applied.
    env_applied: dict[str, tuple[str, Any]] = field(default_factory=dict)
    departures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The config file's [training] settings the recipe's replaced (recipe-train CONFIG.cfg), one line each:
    # "training.dropout: 0.1 → ...", and the file they were replaced in.
    replaced: list[str] = field(default_factory=list)
    config_path: Path | None = None


def planned_dropout(training: Mapping[str, Any]) -> bool:
    """Whether a [training] block (not interpolated) plans its dropout over the run's updates (total_steps =
    "auto", counted once the data is read): then the run's length decides its dropout from the first update."""
    dropout = training.get("dropout")
    return isinstance(dropout, Mapping) and dropout.get("total_steps") == AUTO


def configs_dir() -> Path:
    """The packaged configs: inside the installed package, or at the top of a source checkout."""
    package = Path(__file__).parent.parent
    installed = package / "configs"
    return installed if installed.is_dir() else package.parent / "configs"


def default_config_path(component: str) -> Path:
    return configs_dir() / f"{component}.cfg"


# RECIPE.md §1-§5 to the letter (build_config's recipe_name "literal"): its [training] blocks replace the packaged
# defaults' before a config file, the environment and the command line are applied.
LITERAL_RECIPE_FILE = "recipe-literal.cfg"


def parse_components(spec: str) -> list[str]:
    """Split "tagger,parser" into known component names, in order."""
    names = [name.strip() for name in spec.split(",") if name.strip()]
    if not names:
        raise UsageError(Errors.E001.format(name=spec, options=", ".join(COMPONENTS)))
    for name in names:
        if name not in COMPONENTS:
            raise UsageError(Errors.E001.format(name=name, options=", ".join(COMPONENTS)))
        if names.count(name) > 1:
            raise UsageError(Errors.E002.format(name=name))
    return names


def read_config(path: Path) -> Config:
    """Read a config file without interpolating it."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(Errors.E010.format(path=path))
    try:
        return Config().from_disk(path, interpolate=False)
    except ConfigValidationError as e:
        raise RecipeError(Errors.E011.format(path=path, error=one_line(e))) from None
    except Exception as e:  # configparser's own errors: duplicate sections, bad syntax
        raise RecipeError(Errors.E011.format(path=path, error=f"{type(e).__name__}: {e}".replace("\n", " "))) from None


def check_sections(path: Path, config: Config) -> None:
    """Refuse a top-level section that a spaCy config has not (spaCy drops it silently, a misspelled [training]
    with it); a section that the config's values refer to (${vars.width}) is the user's own and stays."""
    referred = set(_REFERENCE.findall(config.to_str(interpolate=False)))
    for section in config:
        if section not in CONFIG_SECTIONS and section not in referred:
            close = get_close_matches(section, CONFIG_SECTIONS, n=1)
            hint = f" (did you mean [{close[0]}]?)" if close else ""
            raise RecipeError(
                Errors.E017.format(path=path, section=section, hint=hint, known=", ".join(CONFIG_SECTIONS))
            )


def recipe_config(components: list[str]) -> Config:
    """The packaged config for one component, or the packaged configs of several merged into one pipeline."""
    configs = [read_config(default_config_path(name)) for name in components]
    if len(configs) == 1:
        return configs[0]
    merged = copy.deepcopy(configs[0])
    blocks: dict[str, Any] = {}
    for cfg in configs:
        blocks.update(cfg["components"])
    pipeline = (["tok2vec"] if "tok2vec" in blocks else []) + components
    merged["components"] = {name: blocks[name] for name in pipeline}
    merged["nlp"]["pipeline"] = pipeline
    # Empty weights: spaCy combines the components' default score weights into one main score.
    merged["training"]["score_weights"] = {}
    merged["corpora"]["train"]["sents_per_doc"] = max(cfg["corpora"]["train"]["sents_per_doc"] for cfg in configs)
    return Config(merged)


def merge_user_config(recipe: Config, user: Config) -> tuple[Config, list[str]]:
    """The user's config, with what it lacks filled in from the recipe.

    RETURNS (Tuple[Config, List[str]]): the merged config and notes on what was changed beyond filling.
    """
    merged = copy.deepcopy(dict(user))
    notes: list[str] = []
    if user.get("components"):
        recipe = Config({k: v for k, v in recipe.items() if k not in _PIPELINE_SECTIONS})
        # The recipe's score weights are its components'; where the file has none, spaCy gives its own
        # components' weights.
        recipe["training"] = {k: v for k, v in recipe["training"].items() if k != "score_weights"}
    else:
        # No pipeline of its own: the recipe's components, with the user's [nlp] settings (lang...).
        merged["components"] = copy.deepcopy(recipe["components"])
        nlp_settings = {k: v for k, v in merged.get("nlp", {}).items() if k != "pipeline"}
        merged["nlp"] = {**copy.deepcopy(recipe["nlp"]), **nlp_settings}
    _fill(merged, recipe)
    corpora = merged.get("corpora", {})
    replaced = [name for name, reader in corpora.items()
                if isinstance(reader, dict) and reader.get("@readers") in _REPLACED_READERS]  # fmt: skip
    for name in replaced:
        reader = corpora[name]
        ours = copy.deepcopy(recipe["corpora"].get(name, recipe["corpora"]["train"]))
        ours.update({k: v for k, v in reader.items() if k != "@readers"})
        corpora[name] = ours
        notes.append(
            f"corpora.{name}: {reader['@readers']} → recipe.Corpus.v2 (same arguments; reads every supported format)"
        )
    for name in replaced:
        # The recipe's dev reader follows its training reader's settings (${corpora.train.sents_per_doc}); where
        # the file's training reader is its own, which has no such setting, the recipe's value itself.
        for key, value in corpora[name].items():
            match = _CORPUS_REFERENCE.fullmatch(value) if isinstance(value, str) else None
            if match and match[2] not in corpora.get(match[1], {}):
                corpora[name][key] = copy.deepcopy(recipe["corpora"][match[1]][match[2]])
    return Config(merged), notes


def _fill(target: dict, source: Mapping) -> None:
    """Add keys of source missing in target, recursing into blocks that call the same function."""
    for key, value in source.items():
        if key not in target:
            target[key] = copy.deepcopy(value)
        elif isinstance(target[key], dict) and isinstance(value, Mapping) and _same_function(target[key], value):
            _fill(target[key], value)


def _same_function(a: Mapping, b: Mapping) -> bool:
    fa = {k: v for k, v in a.items() if k.startswith("@")}
    fb = {k: v for k, v in b.items() if k.startswith("@")}
    return fa == fb


def apply_overrides(config: Config, overrides: Mapping[str, Any]) -> Config:
    """Set dotted paths in config, as `spacy train --a.b value` does."""
    if not overrides:
        return config
    try:
        return Config().from_str(config.to_str(interpolate=False), overrides=dict(overrides), interpolate=False)
    except ConfigValidationError as e:
        raise RecipeError(Errors.E012.format(where="overrides", details=one_line(e))) from None


def departures(recipe: Config, final: Config, letter: Config | None = None) -> list[str]:
    """Where the [training] settings of final differ from the recipe's, one short line each, whichever source
    (recipe, config file, environment, command line) set them.

    letter (Optional[Config]): the recipe to the letter (literal_recipe), where recipe is the packaged defaults:
        a setting that is the letter's is no departure from the recipe either, and a block that names the letter's
        function where the packaged one names another (thinc's Adam.v1 where the default is recipe.SparseAdam.v2)
        is compared with the letter's, setting by setting.
    """
    lines: list[str] = []
    for key in _RECIPE_SETTINGS:
        ours, theirs = recipe["training"].get(key), final["training"].get(key)
        if letter is not None:
            literal = letter["training"].get(key)
            if not _diff(key, literal, theirs):
                continue
            if _blocks_alike(literal, theirs) and not _blocks_alike(ours, theirs):
                ours = literal
        lines.extend(_diff(f"training.{key}", ours, theirs))
    return lines


def _diff(path: str, ours: Any, theirs: Any, line: str = "{path}: {theirs}, recipe: {ours}") -> list[str]:
    if _blocks_alike(ours, theirs):
        lines = []
        for key in sorted(set(ours) | set(theirs)):
            if not key.startswith("@"):
                lines.extend(_diff(f"{path}.{key}", ours.get(key), theirs.get(key), line))
        return lines
    if ours == theirs:
        return []
    return [line.format(path=path, theirs=describe(theirs), ours=describe(ours))]


def recipe_training(user: Config, recipe: Config) -> tuple[Config, list[str]]:
    """The user's config with the recipe's training settings in place of its own (recipe-train CONFIG.cfg): each
    of RECIPE.md's settings of [training] (the departures' list) and spaCy's console logger. A generated spaCy
    config states spaCy's default for every one, so its values are no choice of the user's.

    RETURNS (Tuple[Config, List[str]]): the config, and a line for each setting replaced by another value:
        "training.dropout: 0.1 → recipe.linear_decay.v1(...)".
    """
    merged = copy.deepcopy(dict(user))
    training = merged.get("training")
    if not isinstance(training, dict):
        return Config(merged), []  # no [training]: the recipe fills it in whole
    keys = list(_RECIPE_SETTINGS)
    logger = training.get("logger")
    if isinstance(logger, Mapping) and logger.get("@loggers") in _SPACY_CONSOLE_LOGGERS:
        keys.append("logger")
    lines: list[str] = []
    for key in keys:
        if key in training and key in recipe["training"]:
            ours = recipe["training"][key]
            lines.extend(_diff(f"training.{key}", ours, training[key], "{path}: {theirs} → {ours}"))
            training[key] = copy.deepcopy(ours)
    return Config(merged), lines


def config_components(path: Path) -> list[str]:
    """The components whose packaged configs are the recipe for a config file's own pipeline
    (recipe-train CONFIG.cfg): the known factories of its [nlp] pipeline, in order, or the first packaged config
    for a pipeline of none of them (the packaged configs differ only in their components, score weights and
    sents_per_doc)."""
    user = read_config(path)
    pipeline = user.get("nlp", {}).get("pipeline") or []
    if not pipeline:
        raise RecipeError(Errors.E019.format(path=path))
    blocks = user.get("components", {})
    factories = [blocks.get(name, {}).get("factory", name) for name in pipeline]
    known = list(dict.fromkeys(factory for factory in factories if factory in COMPONENTS))
    return known or [COMPONENTS[0]]


def _blocks_alike(ours: Any, theirs: Any) -> bool:
    """Both are blocks naming the same registered function."""
    return isinstance(ours, Mapping) and isinstance(theirs, Mapping) and _same_function(ours, theirs)


def _function(block: Mapping) -> str | None:
    return next((str(v) for k, v in block.items() if k.startswith("@")), None)


def describe(value: Any) -> str:
    """A short, readable form of a config value or block."""
    if isinstance(value, Mapping):
        name = _function(value)
        args = ", ".join(f"{k}={describe(v)}" for k, v in value.items() if not k.startswith("@"))
        return f"{name}({args})" if name else "{" + args + "}"
    if value is None:
        return "null"
    return str(value)


def one_line(error: ConfigValidationError, prefix: str = "") -> str:
    """confection's validation error as one line: 'where: what; where: what'.

    prefix (str): the section the error's locations are relative to, e.g. "training.".
    """
    parts = []
    for err in error.errors or []:
        loc = prefix + ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg', '')}" if loc else str(err.get("msg", "")))
    text = "; ".join(parts) or (error.desc or error.title or str(error)).strip()
    return " ".join(text.split())


def config_paths(paths: Sequence[Path | str]) -> str | list[str]:
    """One data path as a string, several as a list (corpus readers take either)."""
    paths = [str(p) for p in paths]
    return paths[0] if len(paths) == 1 else paths  # type: ignore[return-value]


def describe_paths(value: Any) -> str:
    """A config path setting (one path or a list of them) for display."""
    return ", ".join(str(p) for p in value) if isinstance(value, (list, tuple)) else str(value)


def section_at(config: Mapping[str, Any], dot_name: str) -> dict[str, Any]:
    """The block a dotted name such as "corpora.dev" points to."""
    node: Any = config
    for part in dot_name.split("."):
        node = node[part]
    return node


def build_config(
    components: list[str],
    *,
    config_path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    recipe_name: str = "default",
    replace_training: bool = False,
    static_vectors: bool = True,
) -> TrainingConfig:
    """The config to train with: packaged recipe < config file < environment < command line.

    components (List[str]): components to train (their packaged configs are the recipe).
    recipe_name (str): "default" (the packaged configs) or "literal" (RECIPE.md's [training] blocks in their
        place); departures are reported against it.
    config_path (Optional[Path]): a user's spaCy config; what it sets wins over the recipe.
    overrides (Mapping[str, Any]): dotted command-line overrides, applied last.
    environ (Mapping[str, str]): environment with RECIPE_* / SPACY_CONFIG_OVERRIDES variables.
    replace_training (bool): the recipe's training settings replace the config file's (recipe_training), which
        otherwise win: recipe-train CONFIG.cfg without --keep-training-settings.
    static_vectors (bool): where paths.vectors is set, the embedding layers use them (use_static_vectors); False
        leaves the components as the config has them (recipe-train CONFIG.cfg --paths.vectors, as spacy train).
    RETURNS (TrainingConfig): the config (not interpolated) and what shaped it.
    """
    recipe = recipe_config(components)
    # Departures are listed against the recipe asked for; from the packaged defaults, the letter's settings are
    # the recipe too (-c recipe-literal.cfg departs from nothing).
    literal = literal_recipe(recipe)
    letter: Config | None = None if recipe_name == "literal" else literal
    recipe = literal if recipe_name == "literal" else recipe
    config = recipe
    notes: list[str] = []
    replaced: list[str] = []
    if config_path is not None:
        user = read_config(config_path)
        check_sections(config_path, user)
        if replace_training:
            user, replaced = recipe_training(user, recipe)
        config, notes = merge_user_config(recipe, user)
    env = env_overrides(config, environ or {})
    config = apply_overrides(config, {path: value for path, (_, value) in env.items()})
    config = apply_overrides(config, overrides or {})
    if static_vectors and config.get("paths", {}).get("vectors"):
        notes.extend(use_static_vectors(config))
    return TrainingConfig(config=config, env_applied=env, departures=departures(recipe, config, letter), notes=notes,
                          replaced=replaced, config_path=config_path)  # fmt: skip


def literal_recipe(recipe: Config) -> Config:
    """The packaged config with the literal recipe's [training] blocks (recipe-literal.cfg) in place of its own."""
    literal = read_config(configs_dir() / LITERAL_RECIPE_FILE)
    merged = copy.deepcopy(dict(recipe))
    for key, block in literal["training"].items():
        merged["training"][key] = copy.deepcopy(block)
    return Config(merged)


def use_static_vectors(config: Config) -> list[str]:
    """Turn on include_static_vectors wherever the config's embedding layers have it (for --vectors)."""
    changed: list[str] = []

    def visit(block: dict, where: str) -> None:
        for key, value in block.items():
            if isinstance(value, dict):
                visit(value, f"{where}.{key}" if where else key)
            elif key == "include_static_vectors" and value is not True:
                block[key] = True
                changed.append(f"{where}.{key}")

    visit(config.get("components", {}), "components")
    if not changed:
        return ["paths.vectors: no embedding layer of this config takes static vectors; they are loaded but unused"]
    return [f"{path} = true (static vectors from paths.vectors)" for path in changed]
