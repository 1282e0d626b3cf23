"""The automatic maximum batch size of the recipe, and batchers whose size schedule can be saved."""

import sys
from collections.abc import Callable, Iterable
from typing import Any

from spacy.util import registry

from .schedules import Counted

# Largest batch, in examples, by the factory of the trained component.
MAX_BATCH_SIZE: dict[str, int] = {
    "tagger": 32,
    "morphologizer": 32,
    "senter": 32,
    "parser": 16,
    "ner": 16,
    "spancat": 16,
    "textcat": 64,
    "textcat_multilabel": 64,
}
# Used when none of the trained components is in the table.
FALLBACK_MAX_BATCH_SIZE = 16
# What the size of spaCy's batchers counts: the recipe's examples, or v3's default words.
SIZE_UNITS: dict[str, str] = {
    "spacy.batch_by_sequence.v1": "examples",
    "spacy.batch_by_words.v1": "words",
    "spacy.batch_by_padded.v1": "words, padded to each batch's longest example",
}


def batch_size_unit(block: dict[str, Any]) -> str:
    """What a [training.batcher] block's size counts ("examples", "words", ...), named by its batcher."""
    name = str(block.get("@batchers", ""))
    return SIZE_UNITS.get(name, f"as {name} counts them")


def auto_max_batch_size(factories: list[str], n_examples: int) -> int:
    """The recipe's MAX: the smallest of the trained components' maxima, halved below 1000
    training examples and halved again below 500.

    factories (List[str]): factory names of the components being trained.
    n_examples (int): number of training examples.
    RETURNS (int): the largest batch size, at least 1.
    """
    known = [MAX_BATCH_SIZE[f] for f in factories if f in MAX_BATCH_SIZE]
    size = min(known) if known else FALLBACK_MAX_BATCH_SIZE
    if n_examples < 1000:
        size //= 2
    if n_examples < 500:
        size //= 2
    return max(1, size)


def resolve_batcher(block: dict[str, Any]) -> tuple[Callable[[Iterable[Any]], Iterable[list[Any]]], Counted | None]:
    """The batcher of an interpolated [training.batcher] block, with its size schedule counted.

    A batcher keeps its size schedule to itself; this resolves the schedule first, wraps it so the
    number of sizes drawn can be saved with the training state and replayed on resume, and hands
    the counted schedule to the registered batcher function.
    RETURNS: the batcher, and the counted size schedule (None when the size is a plain number).
    """
    size = block.get("size")
    if not (isinstance(size, dict) and any(key.startswith("@") for key in size)):
        return registry.resolve({"batcher": block})["batcher"], None
    # Validate the block as a whole with a plain size standing in for the schedule.
    registry.resolve({"batcher": {**block, "size": 1}})
    sizes = Counted(registry.resolve({"size": size})["size"])
    args = {key: value for key, value in block.items() if not key.startswith("@") and key != "size"}
    make_batcher = registry.get("batchers", block["@batchers"])
    return make_batcher(**registry.resolve(args), size=sizes), sizes


def planned_updates(
    batcher: Callable[[Iterable[Any]], Iterable[list[Any]]],
    examples: Callable[[], Iterable[Any]],
    *,
    max_epochs: int,
    max_steps: int,
) -> int:
    """The updates a run plans: the batches a fresh batcher makes over max_epochs passes over the training
    examples (0: no limit), stopping at max_steps (0: no limit). Early stopping by patience is not foreseen.

    batcher: a batcher with its own, unused size schedule (not the run's: drawing from it would move the run).
    """
    steps = 0
    for _ in range(max_epochs if max_epochs > 0 else sys.maxsize):
        for _batch in batcher(examples()):
            steps += 1
            if 0 < max_steps <= steps:
                return steps
    return steps
