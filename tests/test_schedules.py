import json
import math
import subprocess
import sys
from itertools import islice

import pytest
from spacy.util import load_model_from_config, registry
from thinc.api import Config

from recipe_cli.config.build import AUTO, COMPONENTS, build_config, recipe_config
from recipe_cli.config.schemas import ConfigSchemaTraining
from recipe_cli.training.schedules import as_schedule, linear_decay, linear_decay_share


@pytest.mark.parametrize("component", COMPONENTS)
def test_packaged_dropout_is_0_2_and_the_literal_recipes_decays_as_the_recipe_says(component):
    """Each packaged config's dropout, resolved as training resolves it: 0.2 at every update (the default the
    evidence chose); --recipe literal's: 0.6 falling by 1e-4 per update to 0.2, reached after 4,000 updates and
    kept."""
    assert set(islice(_resolved(component)["dropout"], 5001)) == {0.2}
    literal = build_config([component], recipe_name="literal").config
    values = list(islice(_resolved(component, literal)["dropout"], 5001))
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


def test_as_schedule_int_is_a_constant_float():
    values = [next(as_schedule(1)), next(as_schedule(0))]
    assert values == [1.0, 0.0] and all(type(v) is float for v in values)


def test_as_schedule_passes_generators_through():
    schedule = as_schedule(linear_decay(start=0.6, stop=0.2, decay=0.1))
    assert next(schedule) == pytest.approx(0.6)
    assert next(schedule) == pytest.approx(0.5)


@pytest.mark.parametrize("m", [4, 8, 16, 32, 64])
def test_packaged_batch_size_reaches_its_stop_at_the_recipe_step(m):
    """The packaged batcher compounds from 1 by 1.001 per batch: with stop = m the size first reaches m after
    ceil(ln m / ln 1.001) batches (1,387 for 4, 4,161 for 64), and stays there."""
    config = recipe_config(["ner"])
    config["training"]["batcher"]["size"]["stop"] = m
    batcher = _resolved("ner", config)["batcher"]
    first = math.ceil(math.log(m) / math.log(1.001))
    sizes = [len(batch) for batch in batcher(range((first + 11) * m))][: first + 10]
    assert sizes[0] == 1
    assert sizes[first - 1] < m
    assert sizes[first] == m
    assert sizes[-1] == m


def _resolved(component, config=None):
    """The [training] block of a packaged config, resolved as a run resolves it."""
    config = config or recipe_config([component])
    if config["training"]["batcher"]["size"]["stop"] == AUTO:
        config["training"]["batcher"]["size"]["stop"] = 16
    config["paths"]["train"] = config["paths"]["dev"] = "unused.spacy"
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    return registry.resolve(nlp.config.interpolate()["training"], schema=ConfigSchemaTraining)


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


def test_linear_decay_share_reaches_its_floor_at_the_share_of_the_planned_updates():
    values = list(islice(linear_decay_share(start=0.6, stop=0.2, share=0.5, total_steps=100), 101))
    assert values[0] == pytest.approx(0.6)
    assert values[25] == pytest.approx(0.4)
    assert values[49] == pytest.approx(0.208)
    assert values[50:] == pytest.approx([0.2] * 51)
    # A run shorter than one update's share still starts at start and ends at the floor.
    assert list(islice(linear_decay_share(start=0.5, stop=0.1, share=0.1, total_steps=3), 3)) == pytest.approx(
        [0.5, 0.1, 0.1]
    )


@pytest.mark.parametrize(
    "block",
    [
        {"@schedules": "recipe.linear_decay.v1", "start": 0.6, "stop": 0.2, "decay": 0.1},
        {"@schedules": "recipe.linear_decay_share.v1", "start": 0.6, "stop": 0.2, "share": 0.5, "total_steps": 8},
    ],
)
def test_a_saved_schedule_resolves_in_a_process_that_never_imported_recipe_cli(block):
    """spaCy's tools (spacy debug config, spacy train on a run's config.cfg) find our schedules through the
    installed package's entry points alone (pyproject.toml; an editable install takes new ones on reinstalling)."""
    code = (
        "import json, sys; from spacy.util import registry; "
        "d = registry.resolve({'d': json.loads(sys.argv[1])})['d']; "
        "print(json.dumps([round(next(d), 6) for _ in range(6)])); "
        # The entry point imported the module it names, not the package's commands or its other modules.
        "print('recipe_cli.cli' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code, json.dumps(block)], capture_output=True, text=True,
                            cwd="/")  # fmt: skip
    assert result.returncode == 0, result.stderr
    values, imported_cli = result.stdout.splitlines()
    here = registry.resolve({"d": block})["d"]
    assert json.loads(values) == [round(next(here), 6) for _ in range(6)]
    assert imported_cli == "False"
