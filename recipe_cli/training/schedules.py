"""Schedules that thinc 8.3 lacks, as infinite generators (thinc's protocol), and a counter of the values drawn
from one, so that a resumed run replays it to where it was."""

from collections.abc import Iterable, Iterator
from typing import Any

from thinc.api import constant, registry


@registry.schedules("recipe.linear_decay.v1")
def linear_decay(*, start: float, stop: float, decay: float) -> Iterator[float]:
    """Linear decay per step with a floor: max(stop, start - decay * t) (spaCy v2's dropout decay)."""
    t = 0
    while True:
        yield max(stop, start - decay * t)
        t += 1


@registry.schedules("recipe.linear_decay_share.v1")
def linear_decay_share(*, start: float, stop: float, share: float, total_steps: int) -> Iterator[float]:
    """Linear decay from start to stop over the first `share` of total_steps updates, then stop."""
    span = max(1.0, share * total_steps)
    t = 0
    while True:
        yield max(stop, start - (start - stop) * t / span)
        t += 1


def as_schedule(value: float | Iterable[float]) -> Iterator[float]:
    """Normalise a float to a constant schedule; pass schedules through."""
    if isinstance(value, (int, float)):
        return constant(float(value))  # type: ignore[return-value]
    return iter(value)


class Counted:
    """An iterator that counts the values drawn from it, so a schedule's position can be saved and replayed."""

    def __init__(self, values: Iterator[Any], drawn: int = 0) -> None:
        self.values = values
        self.drawn = 0
        self.skip(drawn)

    def __iter__(self) -> "Counted":
        return self

    def __next__(self) -> Any:
        value = next(self.values)
        self.drawn += 1
        return value

    def skip(self, n: int) -> None:
        """Draw and drop n values (replaying a saved position on a fresh schedule)."""
        for _ in range(n):
            next(self)
