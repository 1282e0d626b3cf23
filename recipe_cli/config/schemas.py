"""The schema [training] is resolved against: spaCy's, with a dropout that may be a schedule, a shuffle buffer and
pseudo-rehearsal. Every default of these settings is here."""

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError
from spacy.language import Language
from spacy.schemas import Batcher, Logger, Optimizer

from ..errors import Errors, RecipeError


class RehearsalSchema(BaseModel):
    # fmt: off
    enabled: StrictBool = Field(False, title="Pseudo-rehearsal on (needs paths.base_model)")
    raw: StrictStr | None = Field(None, title="Raw texts the base model annotates (.txt or .jsonl); null: the base model's own training texts if found, else the training texts")
    base_sample: StrictInt = Field(5000, ge=0, title="With raw null: texts drawn from the base model's own training data (0: rehearse the training texts)")
    mode: Literal["targets", "distill"] = Field("targets", title="The base's annotations as examples in the batch, or spaCy's nlp.rehearse() step")
    ratio: StrictFloat | StrictInt = Field(1.0, title="Rehearsal examples per new example in a batch")
    fill_in: StrictBool = Field(True, title="The base model also annotates the new examples with the labels they do not use")
    unannotated: Literal["outside", "missing"] = Field("outside", title="ner: what the tokens outside the base's entities teach")
    # fmt: on

    model_config = ConfigDict(extra="forbid")


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
    rehearsal: RehearsalSchema = Field(RehearsalSchema(), title="Pseudo-rehearsal when fine-tuning a base model")
    unknown_labels: Literal["refuse", "missing"] = Field("refuse", title="Labels a base model's component lacks and cannot add: stop, or leave them unannotated")
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


def rehearsal_settings(training: Mapping[str, Any]) -> RehearsalSchema:
    """[training.rehearsal] of a config not yet resolved (the section may be left out), checked and filled in by
    its schema: what is needed before [training] is (whether rehearsal is on, and its mode)."""
    try:
        return RehearsalSchema.model_validate(dict(training.get("rehearsal") or {}))
    except ValidationError as e:
        details = "; ".join(f"training.rehearsal.{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise RecipeError(Errors.E012.format(where="[training.rehearsal]", details=details)) from None
