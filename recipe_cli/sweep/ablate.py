"""`recipe-sweep ablate`: a spec whose variants are the recipe, each of its elements off in turn, the packaged
defaults and spaCy's own default training settings for the same architecture, so that "the recipe vs spaCy" is one
row of every table. The recipe is RECIPE.md's letter (configs/recipe-literal.cfg, the task's config; the row
`recipe-literal`): the packaged defaults depart from it where the evidence said so (the row `packaged-default`,
what `recipe-train COMPONENT DATA` trains with), and an element is turned off from the recipe, not from a default
that already has."""

from pathlib import Path
from typing import Any

import srsly
from spacy.cli.init_config import init_config
from thinc.api import Config

from ..config.build import LITERAL_RECIPE_FILE, configs_dir, parse_components, read_config, recipe_config
from ..errors import Errors, RecipeError, UsageError
from .spec import is_name

# Each element of the recipe, off: the override that turns it off (the rest of the recipe as it is).
ELEMENTS_OFF: dict[str, dict[str, Any]] = {
    # Batch size constant at the recipe's maximum: compounding from "auto" to "auto" never moves.
    "constant-batch": {"training.batcher.size.start": "auto"},
    "no-averaging": {"training.optimizer.use_averages": False},
    "constant-dropout": {"training.dropout": 0.2},
    "no-grad-clip": {"training.optimizer.grad_clip": 0.0},
    "no-l2": {"training.optimizer.L2": 0.0},
}
RECIPE = "recipe-literal"
PACKAGED = "packaged-default"
SPACY_DEFAULT = "spacy-default"
# The [training] settings taken from spaCy's generated config: how it batches, drops out and optimises. The loop
# (epochs, patience, evaluation after every epoch) stays the recipe-train one, so that both rows train alike.
SPACY_TRAINING_KEYS = ("batcher", "dropout", "optimizer", "accumulate_gradient")


def spacy_default_config(component: str, lang: str = "en") -> Config:
    """spaCy's `init config` training settings for the component (CPU, efficiency), as a user config."""
    generated = init_config(lang=lang, pipeline=component.split(","), optimize="efficiency", gpu=False, silent=True)
    training = {key: generated["training"][key] for key in SPACY_TRAINING_KEYS}
    return Config({"training": training})


def packaged_overrides(component: str) -> dict[str, Any]:
    """The overrides that make the literal recipe the packaged defaults for the component: every setting of the
    literal file's [training] blocks that the packaged config sets otherwise, as a dotted path."""
    packaged = recipe_config(parse_components(component))["training"]
    literal = read_config(configs_dir() / LITERAL_RECIPE_FILE)["training"]
    overrides: dict[str, Any] = {}

    def walk(path: str, ours: Any, theirs: Any) -> None:
        if isinstance(ours, dict) and isinstance(theirs, dict) and set(ours) == set(theirs):
            for key in ours:
                walk(f"{path}.{key}", ours[key], theirs[key])
        elif ours != theirs:
            if isinstance(ours, dict) or isinstance(theirs, dict):
                raise RecipeError(Errors.E097.format(path=path))
            overrides[path] = ours

    for key, block in literal.items():
        walk(f"training.{key}", packaged[key], block)
    return overrides


def ablation_spec(
    *,
    component: str,
    train: list[str],
    dev: list[str],
    test: list[str],
    out: Path,
    seeds: int,
    data_format: str | None = None,
    lang: str | None = None,
    common: dict[str, Any] | None = None,
    name: str | None = None,
) -> Path:
    """Write OUT/ablation.yml (and spaCy's settings as OUT/spacy-default.cfg); RETURNS the spec's path.

    name: the task's name in the spec, the report and the trials' folders (default: the training file's name)."""
    if name is not None and not is_name(name):
        raise UsageError(Errors.E096.format(name=name))
    out.mkdir(parents=True, exist_ok=True)
    spacy_cfg = out / f"{SPACY_DEFAULT}.cfg"
    spacy_default_config(component, lang or "en").to_disk(spacy_cfg)
    task: dict[str, Any] = {"component": component, "train": _absolute(train), "test": _absolute(test),
                            "config": str(configs_dir() / LITERAL_RECIPE_FILE)}  # fmt: skip
    if dev:
        task["dev"] = _absolute(dev)
    if data_format:
        task["format"] = data_format
    if lang:
        task["lang"] = lang
    name = name or "".join(c if c.isalnum() or c in "._-" else "_" for c in Path(train[0]).stem) or "task"
    spec = {
        "tasks": {name: task},
        "seeds": seeds,
        "common": dict(common or {}),
        "variants": {
            RECIPE: {},
            **ELEMENTS_OFF,
            PACKAGED: packaged_overrides(component),
            SPACY_DEFAULT: {"config": spacy_cfg.name},
        },
        "baseline": RECIPE,
    }
    path = out / "ablation.yml"
    srsly.write_yaml(path, spec)
    return path


def _absolute(paths: list[str]) -> list[str]:
    return [str(Path(p).resolve()) for p in paths]
