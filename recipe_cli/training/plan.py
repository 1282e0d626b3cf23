"""The plan of a run: every "auto" of [training] filled in from the trained components and the counted data, so
that [training] is resolved once, complete (setup.resolve_training).

    "auto"                                 filled in with
    training.batcher.size.start / .stop    the maximum batch size for the components and the number of examples
                                           (batching.auto_max_batch_size); start = "auto" keeps the size constant
    training.dropout.total_steps           the updates the run plans to make: its epochs (or max_steps) of batches
                                           of the planned sizes (batching.planned_updates)

The config a run records in run.json keeps "auto" (a run started again plans again); the pipeline's config, saved
with every epoch (what a resumed run and spaCy load), holds the planned numbers.
"""

from typing import Any

from confection import ConfigValidationError
from thinc.api import Config

from ..config.build import AUTO, one_line, planned_dropout
from ..errors import Errors, RecipeError
from .batching import auto_max_batch_size, planned_updates, resolve_batcher
from .training_data import TrainingData

BATCH_SIZE_AUTO = ("batcher.size.start", "batcher.size.stop")
DROPOUT_AUTO = "dropout.total_steps"


def auto_settings(training: dict[str, Any]) -> list[str]:
    """The settings of a [training] block (not interpolated) given as "auto", dotted under [training]; refused
    (E093) where the planned updates cannot be counted (neither max_epochs nor max_steps)."""
    size = training.get("batcher", {}).get("size", {})
    auto = [key for key in BATCH_SIZE_AUTO if isinstance(size, dict) and size.get(key.rsplit(".", 1)[1]) == AUTO]
    if planned_dropout(training):
        if not (training.get("max_epochs") or training.get("max_steps")):
            raise RecipeError(Errors.E093)
        auto.append(DROPOUT_AUTO)
    return auto


def plan_run(config: Config, factories: list[str], data: TrainingData) -> Config:
    """A copy of config with every "auto" of [training] filled in, for the trained components (their factories)
    and the counted training data."""
    config = config.copy()
    training = config["training"]
    auto = auto_settings(training)
    if any(key in BATCH_SIZE_AUTO for key in auto):
        # The recipe: the maximum batch size follows the components and the amount of data.
        largest = auto_max_batch_size(factories, data.n_train)
        for key in auto:
            if key in BATCH_SIZE_AUTO:
                training["batcher"]["size"][key.rsplit(".", 1)[1]] = largest
    if DROPOUT_AUTO in auto:
        # Counted with a batcher of the planned sizes, over the data as the run will see it; the run's own
        # batcher is built when [training] is resolved.
        interpolated = config.interpolate()["training"]
        try:
            batcher, _ = resolve_batcher(interpolated["batcher"])
        except ConfigValidationError as e:
            details = one_line(e, "training.batcher.")
            raise RecipeError(Errors.E012.format(where="[training.batcher]", details=details)) from None
        training["dropout"]["total_steps"] = planned_updates(
            batcher, data.train, max_epochs=interpolated["max_epochs"], max_steps=interpolated["max_steps"]
        )
    return config
