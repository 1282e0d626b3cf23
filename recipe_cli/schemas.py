"""The schema [training] is resolved against: spaCy's, with a dropout that may be a schedule."""

from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr
from spacy.language import Language
from spacy.schemas import Batcher, Logger, Optimizer


class ConfigSchemaTraining(BaseModel):
    # fmt: off
    dev_corpus: StrictStr = Field(..., title="Path in the config to the dev data")
    train_corpus: StrictStr = Field(..., title="Path in the config to the training data")
    batcher: Batcher = Field(..., title="Batcher for the training data")
    dropout: StrictFloat | Iterator[float] = Field(..., title="Dropout rate: a float or a schedule, advanced once per update")
    patience: StrictInt = Field(..., title="Epochs without a better main dev score before stopping (0: never)")
    max_epochs: StrictInt = Field(..., title="Maximum number of epochs (0: no limit, then max_steps must be set)")
    max_steps: StrictInt = Field(..., title="Maximum number of updates (0: no limit)")
    eval_frequency: StrictInt = Field(..., title="spaCy's evaluation interval in steps; recipe-train evaluates every epoch")
    seed: StrictInt | None = Field(..., title="Random seed")
    gpu_allocator: StrictStr | None = Field(..., title="Memory allocator when running on GPU")
    shuffle_buffer: StrictInt = Field(0, title="Examples held to shuffle a corpus streamed from disk (0: read it all into memory)")
    rehearsal: dict[StrictStr, Any] = Field({"enabled": False, "raw": None, "mode": "targets", "ratio": 1.0, "fill_in": True, "unannotated": "outside"}, title="Pseudo-rehearsal when fine-tuning a base model")
    accumulate_gradient: StrictInt = Field(..., title="Sub-batches whose gradients are summed per update")
    score_weights: dict[StrictStr, StrictFloat | StrictInt | None] = Field(..., title="Scores to report and their weights for the main score")
    optimizer: Optimizer = Field(..., title="The optimizer to use")
    logger: Logger = Field(..., title="The logger fed once per epoch")
    frozen_components: list[str] = Field(..., title="Pipeline components that are not updated")
    annotating_components: list[str] = Field(..., title="Pipeline components that set annotations during training")
    before_to_disk: Callable[[Any], Any] | None = Field(..., title="Callback applied to the nlp object before it is saved")
    before_update: Callable[[Any, dict[str, Any]], None] | None = Field(..., title="Callback invoked before each update")
    # fmt: on

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


# spaCy's Logger type names "Language" as a forward reference.
ConfigSchemaTraining.model_rebuild(_types_namespace={"Language": Language})
