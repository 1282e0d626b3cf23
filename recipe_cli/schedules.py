"""Schedules that thinc 8.3 lacks, as infinite generators (thinc's protocol)."""

from collections.abc import Iterable, Iterator

from thinc.api import constant, registry


@registry.schedules("recipe.linear_decay.v1")
def linear_decay(*, start: float, stop: float, decay: float) -> Iterator[float]:
    """Linear decay per step with a floor: max(stop, start - decay * t) (spaCy v2's dropout decay)."""
    t = 0
    while True:
        yield max(stop, start - decay * t)
        t += 1


def as_schedule(value: float | Iterable[float]) -> Iterator[float]:
    """Normalise a float to a constant schedule; pass schedules through."""
    if isinstance(value, (int, float)):
        return constant(float(value))
    return iter(value)
