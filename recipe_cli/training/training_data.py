"""TrainingData: what a run trains and evaluates on, as a value.

setup.read_data() makes it from the readers; each transform (the base model's new labels, the parses checked by
the parser's own oracle, unknown labels left missing, fill-in and rehearsal) returns a new value with what it
changed (dataclasses.replace), so the data a run trains on is the chain of calls that made it.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from spacy.training import Example

from ..data.formats import Source
from ..data.oracle import ParseCheck
from ..data.summary import DataSummary
from .rehearsal import Rehearsal


@dataclass(frozen=True)
class TrainingData:
    """The training corpus (a fresh pass over it per call, from memory or streamed from disk) and the dev examples."""

    train: Callable[[], Iterable[Example]]
    dev: list[Example]
    train_summary: DataSummary
    dev_summary: DataSummary
    train_path: str
    dev_path: str
    heldout: bool
    shuffle_buffer: int
    # Pseudo-rehearsal: draws base-annotated examples to join each batch (None: no rehearsal).
    rehearsal: Rehearsal | None = None
    # What reading and the transforms did, for the run's header ("Transfer" lines).
    notes: tuple[str, ...] = ()
    # Warnings found while reading the data, printed with those of the summaries.
    warnings: tuple[str, ...] = ()
    # The check of the gold parses (None: no parser trained), and where each example kept in memory comes from.
    parse_check: ParseCheck | None = None
    origins: tuple[tuple[int, Source], ...] = ()
    # The training files the reader reads (absolute; none for a reader that names no path).
    train_files: tuple[Path, ...] = ()

    @property
    def n_train(self) -> int:
        return self.train_summary.docs

    @property
    def streamed(self) -> bool:
        return self.shuffle_buffer > 0

    def noted(self, *notes: str, first: bool = False) -> "TrainingData":
        """The same data with notes added (at the end, or before the others with first)."""
        return replace(self, notes=(*notes, *self.notes) if first else (*self.notes, *notes))
