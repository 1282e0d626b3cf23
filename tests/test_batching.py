from itertools import islice

import pytest
from spacy.util import minibatch

from recipe_cli.training.batching import (
    MAX_BATCH_SIZE,
    auto_max_batch_size,
    batch_size_unit,
    planned_updates,
    resolve_batcher,
)
from recipe_cli.training.schedules import Counted

RECIPE_TABLE = {
    "tagger": 32,
    "morphologizer": 32,
    "senter": 32,
    "parser": 16,
    "ner": 16,
    "spancat": 16,
    "textcat": 64,
    "textcat_multilabel": 64,
}


@pytest.mark.parametrize("factory,size", sorted(RECIPE_TABLE.items()))
def test_every_row_of_the_table(factory, size):
    assert MAX_BATCH_SIZE[factory] == size
    assert auto_max_batch_size([factory], 1000) == size
    assert auto_max_batch_size([factory], 50_000) == size


@pytest.mark.parametrize(
    "n,expected",
    [(1000, 16), (999, 8), (500, 8), (499, 4), (1, 4), (10_000, 16)],
)
def test_halved_below_1000_and_again_below_500(n, expected):
    size = auto_max_batch_size(["ner"], n)
    # A batch size is a whole number of examples: 8, never 8.0.
    assert type(size) is int and size == expected


def test_halvings_for_textcat_and_tagger():
    assert auto_max_batch_size(["textcat"], 999) == 32
    assert auto_max_batch_size(["textcat"], 499) == 16
    assert auto_max_batch_size(["tagger"], 700) == 16
    assert auto_max_batch_size(["tagger"], 200) == 8


def test_several_components_take_the_smallest():
    assert auto_max_batch_size(["tagger", "parser"], 5000) == 16
    assert auto_max_batch_size(["textcat", "tagger"], 5000) == 32
    assert auto_max_batch_size(["textcat", "ner", "tagger"], 400) == 4


def test_unknown_components_do_not_count():
    assert auto_max_batch_size(["tok2vec", "textcat"], 5000) == 64
    assert auto_max_batch_size(["entity_ruler"], 5000) == 16
    assert auto_max_batch_size([], 999) == 8 and auto_max_batch_size(["entity_ruler"], 499) == 4


def test_planned_updates_count_the_batches_of_every_epoch():
    def batcher(items):
        return minibatch(items, size=4)

    ten = lambda: range(10)  # noqa: E731 — ten examples: batches of 4, 4 and 2 per epoch
    assert planned_updates(batcher, ten, max_epochs=3, max_steps=0) == 9
    assert planned_updates(batcher, ten, max_epochs=3, max_steps=5) == 5
    assert planned_updates(batcher, ten, max_epochs=3, max_steps=1) == 1
    assert planned_updates(batcher, ten, max_epochs=0, max_steps=7) == 7
    assert planned_updates(batcher, ten, max_epochs=1, max_steps=0) == 3


def test_resolve_batcher_counts_the_sizes_a_schedule_gives_and_leaves_a_plain_size_alone():
    """The counted schedule is what the training state saves and a resumed run replays: each batch draws one size."""
    block = {"@batchers": "spacy.batch_by_sequence.v1", "get_length": None,
             "size": {"@schedules": "compounding.v1", "start": 1, "stop": 8, "compound": 2.0}}  # fmt: skip
    batcher, sizes = resolve_batcher(block)
    assert isinstance(sizes, Counted) and sizes.drawn == 0
    assert [len(batch) for batch in islice(batcher(range(20)), 3)] == [1, 2, 4]
    assert sizes.drawn == 3
    batcher, sizes = resolve_batcher({**block, "size": 4})
    assert sizes is None
    assert [len(batch) for batch in batcher(range(10))] == [4, 4, 2]


def test_the_batch_size_is_named_in_what_the_batcher_counts():
    assert batch_size_unit({"@batchers": "spacy.batch_by_sequence.v1"}) == "examples"
    assert batch_size_unit({"@batchers": "spacy.batch_by_words.v1", "discard_oversize": False}) == "words"
    assert batch_size_unit({"@batchers": "spacy.batch_by_padded.v1"}) == "words, padded to each batch's longest example"
    assert batch_size_unit({"@batchers": "my.batcher.v1"}) == "as my.batcher.v1 counts them"
