"""The training loop: a generator of per-epoch progress, with no printing and no disk I/O.

An exception from spaCy or thinc in an update is raised as a StageError naming the batch's documents.
"""

import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from spacy.language import Language
from spacy.training import Example
from spacy.util import minibatch
from thinc.api import Optimizer

from ..output.failures import stage

T = TypeVar("T")


@dataclass
class EpochInfo:
    """What one epoch did.

    epoch (int): 1-based epoch number.
    step (int): updates made so far, over all epochs.
    words (int): words seen so far, over all epochs.
    losses (Dict[str, float]): summed loss of each component over this epoch.
    dropout (float): the dropout rate of this epoch's last update.
    batch_size (int): the largest batch of this epoch (the compounding size it reached).
    learn_rate (float): the optimizer's learning rate after this epoch.
    seconds (float): time this epoch's updates took.
    finished (bool): False when max_steps or an interruption cut the epoch short.
    interrupted (bool): True when should_stop() ended the epoch before its end.
    """

    epoch: int
    step: int
    words: int
    losses: dict[str, float] = field(default_factory=dict)
    dropout: float = 0.0
    batch_size: int = 0
    learn_rate: float = 0.0
    seconds: float = 0.0
    finished: bool = True
    interrupted: bool = False


def shuffled(items: Iterable[T], rng: random.Random, buffer_size: int = 0) -> Iterator[T]:
    """The items in a random order drawn from rng.

    buffer_size 0 shuffles them all at once; N > 0 streams them through a buffer of N items, each
    new item taking the place of a randomly chosen one that is yielded. Items that fit in the
    buffer come out exactly as the all-at-once shuffle would give them.
    """
    if buffer_size <= 0:
        everything = list(items)
        rng.shuffle(everything)
        yield from everything
        return
    buffer: list[T] = []
    for item in items:
        if len(buffer) < buffer_size:
            buffer.append(item)
            continue
        i = rng.randrange(buffer_size)
        yield buffer[i]
        buffer[i] = item
    rng.shuffle(buffer)
    yield from buffer


def train_epochs(
    nlp: Language,
    optimizer: Optimizer,
    corpus: Callable[[], Iterable[Example]],
    *,
    batcher: Callable[[Iterable[Example]], Iterable[list[Example]]],
    dropouts: Iterator[float],
    rng: random.Random,
    shuffle_buffer: int = 0,
    max_epochs: int,
    max_steps: int = 0,
    first_epoch: int = 1,
    step: int = 0,
    words: int = 0,
    should_stop: Callable[[], bool] | None = None,
    rehearse: Callable[[int], list[Example]] | None = None,
    accumulate_gradient: int = 1,
    exclude: Iterable[str] = (),
    annotating_components: Iterable[str] = (),
    before_update: Callable[[Language, dict[str, Any]], None] | None = None,
    after_update: Callable[[EpochInfo, list[Example]], None] | None = None,
) -> Iterator[EpochInfo]:
    """Train nlp on the corpus, one shuffled pass per epoch, yielding after each epoch.

    corpus() gives the training examples in file order, afresh for each epoch: a list kept in memory,
    or a reader streaming them from disk, shuffled through a buffer of shuffle_buffer examples (0:
    all at once).

    The batcher and the dropout schedule are resolved once by the caller, so the batch size keeps
    compounding and the dropout keeps decaying across epochs. The consumer decides on stopping
    early (patience) by leaving the loop; max_epochs = 0 means no epoch limit. after_update, if
    given, sees the epoch's running info and the batch after every update (progress display).
    A resumed run starts at first_epoch with the step and word counters it had reached.
    should_stop, if given, is asked after every update and before every epoch (Ctrl-C): when it
    says so mid-epoch, the unfinished epoch is yielded with interrupted set, and the loop ends.
    rehearse(n), if given, returns examples to join a batch of n new examples in its update
    (pseudo-rehearsal), or, when it has distill set, raw examples for an nlp.rehearse() step after
    the update; they count in neither words nor steps.
    """
    exclude = list(exclude)
    annotating = list(annotating_components)
    epoch = first_epoch - 1
    while max_epochs <= 0 or epoch < max_epochs:
        if should_stop is not None and should_stop():
            return
        epoch += 1
        info = EpochInfo(epoch=epoch, step=step, words=words)
        start = time.perf_counter()
        # A fresh order each epoch from the run's own seeded generator.
        for batch in batcher(shuffled(corpus(), rng, shuffle_buffer)):
            # An exception from spaCy or thinc names the epoch, the step and the batch's documents.
            with stage("Update", f" in epoch {epoch}, step {step + 1}", batch=batch):
                if before_update is not None:
                    before_update(nlp, {"step": step, "epoch": epoch})
                # One next() per update: the only place the dropout schedule advances.
                dropout = next(dropouts)
                extra = rehearse(len(batch)) if rehearse is not None else []
                if extra and getattr(rehearse, "distill", False):
                    apply_update(nlp, batch, optimizer, dropout, info.losses, accumulate_gradient, exclude, annotating)
                    # spaCy's pseudo-rehearsal: a second step toward the original model's scores on raw texts.
                    nlp.rehearse(extra, sgd=optimizer, losses={}, exclude=exclude)
                else:
                    update = batch + extra
                    apply_update(nlp, update, optimizer, dropout, info.losses, accumulate_gradient, exclude, annotating)
                # Advance the optimizer's own schedules (e.g. a learn-rate schedule) once per update.
                optimizer.step_schedules()
            step += 1
            words += sum(len(eg.predicted) for eg in batch)
            info.step, info.words = step, words
            info.dropout, info.batch_size = dropout, max(info.batch_size, len(batch))
            if after_update is not None:
                after_update(info, batch)
            if max_steps and step >= max_steps:
                info.finished = False
                break
            if should_stop is not None and should_stop():
                info.finished, info.interrupted = False, True
                break
        info.learn_rate = float(optimizer.learn_rate)
        info.seconds = time.perf_counter() - start
        yield info
        if info.interrupted or (max_steps and step >= max_steps):
            return


def apply_update(
    nlp: Language,
    batch: list[Example],
    optimizer: Optimizer,
    dropout: float,
    losses: dict[str, float],
    accumulate_gradient: int,
    exclude: list[str],
    annotating: list[str],
) -> None:
    if accumulate_gradient <= 1:
        nlp.update(batch, drop=dropout, sgd=optimizer, losses=losses, exclude=exclude, annotates=annotating)
        return
    # Sum the gradients of several sub-batches, then apply them once (as spaCy's loop does).
    sub_size = max(1, -(-len(batch) // accumulate_gradient))
    for sub_batch in minibatch(batch, size=sub_size):
        nlp.update(sub_batch, drop=dropout, sgd=False, losses=losses, exclude=exclude, annotates=annotating)  # type: ignore[arg-type]
    for name, proc in nlp.pipeline:
        if name not in exclude and getattr(proc, "is_trainable", False) and proc.model not in (True, False, None):  # type: ignore[attr-defined]
            proc.finish_update(optimizer)  # type: ignore[attr-defined]
