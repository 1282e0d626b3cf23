"""Environment-variable overrides of the recipe's settings.

This table is the only place the environment reaches the configuration. The overrides are applied
to the config before it is resolved, above the config file and below the command line.
"""

import math
import shlex
from collections.abc import Mapping
from typing import Any

from thinc.api import Config

from ..errors import Errors, RecipeError
from .overrides import parse_overrides

# Variable → dotted config path. Every value must parse as a float.
ENV_OVERRIDES: dict[str, str] = {
    "RECIPE_LEARN_RATE": "training.optimizer.learn_rate",
    "RECIPE_OPTIMIZER_B1": "training.optimizer.beta1",
    "RECIPE_OPTIMIZER_B2": "training.optimizer.beta2",
    "RECIPE_OPTIMIZER_EPS": "training.optimizer.eps",
    "RECIPE_L2_PENALTY": "training.optimizer.L2",
    "RECIPE_GRAD_NORM_CLIP": "training.optimizer.grad_clip",
    "RECIPE_DROPOUT_FROM": "training.dropout.start",
    "RECIPE_DROPOUT_TO": "training.dropout.stop",
    "RECIPE_DROPOUT_DECAY": "training.dropout.decay",
    "RECIPE_BATCH_FROM": "training.batcher.size.start",
    "RECIPE_BATCH_TO": "training.batcher.size.stop",
    "RECIPE_BATCH_COMPOUND": "training.batcher.size.compound",
}

# spaCy's own override string ("--a.b value ..."), applied before the RECIPE_* variables.
SPACY_OVERRIDES_VAR = "SPACY_CONFIG_OVERRIDES"


def env_overrides(config: Config, environ: Mapping[str, str]) -> dict[str, tuple[str, Any]]:
    """Collect the overrides the environment asks for, checked against the config they apply to.

    config (Config): the config before overrides (not interpolated).
    environ (Mapping[str, str]): the environment, usually os.environ.
    RETURNS (Dict[str, Tuple[str, Any]]): dotted config path → (variable, value), in the order they apply.
    """
    overrides: dict[str, tuple[str, Any]] = {}
    if environ.get(SPACY_OVERRIDES_VAR, "").strip():
        try:
            parsed = parse_overrides(shlex.split(environ[SPACY_OVERRIDES_VAR]))
        except (RecipeError, ValueError) as e:
            raise RecipeError(Errors.E015.format(reason=str(e))) from None
        overrides.update({path: (SPACY_OVERRIDES_VAR, value) for path, value in parsed.items()})
    for var, path in ENV_OVERRIDES.items():
        if var not in environ:
            continue
        raw = environ[var]
        try:
            value = float(raw)
        except ValueError:
            raise RecipeError(Errors.E013.format(var=var, value=raw, kind="number", path=path)) from None
        if not math.isfinite(value):
            raise RecipeError(Errors.E013.format(var=var, value=raw, kind="finite number", path=path))
        reason = _missing_reason(config, path)
        if reason:
            raise RecipeError(Errors.E014.format(var=var, path=path, reason=reason))
        # A later source replaces an earlier one, and moves to the end of the order.
        overrides.pop(path, None)
        overrides[path] = (var, value)
    return overrides


def _missing_reason(config: Config, path: str) -> str:
    """Why a dotted path cannot be set in config ("" when it can)."""
    *sections, key = path.split(".")
    node: Any = config
    for i, section in enumerate(sections):
        if not isinstance(node, dict) or section not in node:
            return f"{'.'.join(sections[: i + 1])} is not a section"
        node = node[section]
    if not isinstance(node, dict):
        return f"{'.'.join(sections)} is {node!r}, not a block with '{key}'"
    if key not in node:
        func = next((v for k, v in node.items() if k.startswith("@")), "this block")
        return f"{func} takes no '{key}'"
    return ""
