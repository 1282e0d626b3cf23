import math
from itertools import islice

import pytest
from spacy.util import registry
from thinc.api import Config

from recipe_cli.schedules import as_schedule, linear_decay


def test_linear_decay_values_from_recipe():
    values = list(islice(linear_decay(start=0.6, stop=0.2, decay=1e-4), 5001))
    assert values[0] == pytest.approx(0.6)
    assert values[1000] == pytest.approx(0.5)
    assert values[2000] == pytest.approx(0.4)
    assert values[3999] == pytest.approx(0.2001)
    assert values[4000] == pytest.approx(0.2)
    assert values[5000] == pytest.approx(0.2)


def test_linear_decay_is_linear_and_floored():
    values = list(islice(linear_decay(start=0.5, stop=0.1, decay=0.1), 8))
    assert values == pytest.approx([0.5, 0.4, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1])


def test_linear_decay_resolves_from_config():
    cfg = Config().from_str('[d]\n@schedules = "recipe.linear_decay.v1"\nstart = 0.6\nstop = 0.2\ndecay = 0.0001\n')
    schedule = registry.resolve(cfg)["d"]
    assert next(schedule) == pytest.approx(0.6)
    assert next(schedule) == pytest.approx(0.5999)


def test_as_schedule_float_is_constant():
    schedule = as_schedule(0.3)
    assert [next(schedule) for _ in range(3)] == [0.3, 0.3, 0.3]


def test_as_schedule_passes_generators_through():
    schedule = as_schedule(linear_decay(start=0.6, stop=0.2, decay=0.1))
    assert next(schedule) == pytest.approx(0.6)
    assert next(schedule) == pytest.approx(0.5)


@pytest.mark.parametrize("m,first", [(4, 1387), (8, 2081), (16, 2774), (32, 3468), (64, 4161)])
def test_compounding_reaches_max_at_recipe_step(m, first):
    """The recipe: compounding(1, m, 1.001) first reaches m after ceil(ln m / ln 1.001) batches."""
    assert first == math.ceil(math.log(m) / math.log(1.001))
    cfg = Config().from_str(f'[s]\n@schedules = "compounding.v1"\nstart = 1\nstop = {m}\ncompound = 1.001\n')
    sizes = [int(v) for v in islice(registry.resolve(cfg)["s"], first + 10)]
    assert sizes[0] == 1
    assert sizes[first - 1] < m
    assert sizes[first] == m
    assert sizes[-1] == m


def test_batches_follow_the_schedule_across_epochs():
    """The batcher holds its size schedule: a second epoch continues where the first stopped."""
    cfg = Config().from_str(
        '[b]\n@batchers = "spacy.batch_by_sequence.v1"\nget_length = null\n'
        '[b.size]\n@schedules = "compounding.v1"\nstart = 1\nstop = 4\ncompound = 1.5\n'
    )
    batcher = registry.resolve(cfg)["b"]
    first = [len(b) for b in batcher(list(range(10)))]
    second = [len(b) for b in batcher(list(range(10)))]
    assert first == [1, 1, 2, 3, 3]  # 1, 1.5, 2.25, 3.375, 5.06→4 (last batch holds what is left)
    assert second == [4, 4, 2]
