"""The training state: what is saved with an epoch comes back exactly, in the pipeline loaded from the epoch's folder
(its layers new objects with new ids, as when a resumed run loads it; test_resume.py resumes in another process)."""

import random

import numpy
import pytest
import spacy
import srsly
from spacy.training import Example
from thinc.api import Adam

from recipe_cli.errors import Errors
from recipe_cli.output.layout import ARRAYS_FILE, STATE_FILE
from recipe_cli.output.state import (
    TrainingState,
    encode_arrays,
    read_state,
    restore_rngs,
    restore_state,
    rng_states,
    save_state,
)
from recipe_cli.training.schedules import Counted

SENTENCES = [
    (["I", "like", "green", "eggs"], ["PRP", "VBP", "JJ", "NNS"]),
    (["Eat", "blue", "ham"], ["VB", "JJ", "NN"]),
    (["They", "eat", "eggs"], ["PRP", "VBP", "NNS"]),
]


def _examples(nlp):
    return [
        Example.from_dict(nlp.make_doc(" ".join(words)), {"words": words, "tags": tags}) for words, tags in SENTENCES
    ]


def _trained(steps=3):
    """A tagger after a few updates, with the optimizer that made them."""
    nlp = spacy.blank("en")
    nlp.add_pipe("tagger")
    examples = _examples(nlp)
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.01, use_averages=True)
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    return nlp, optimizer


def _weights(nlp):
    return [
        (i, name, node.get_param(name).copy())
        for _, proc in nlp.pipeline
        for i, node in enumerate(proc.model.walk())
        for name in node.param_names
        if node.has_param(name)
    ]


def _by_stable_key(nlp, table):
    """An optimizer table (keyed by node id) keyed by component/position/name instead."""
    ids = {
        (node.id, name): (component, i, name)
        for component, proc in nlp.pipeline
        for i, node in enumerate(proc.model.walk())
        for name in node.param_names
    }
    return {ids[key]: value for key, value in table.items()}


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert numpy.array_equal(numpy.asarray(a[key]), numpy.asarray(b[key])), key


def _saved_and_restored(tmp_path):
    """Save the state of a trained tagger; load its averaged pipeline as recipe-train does, restore into it."""
    nlp, optimizer = _trained()
    # A best score with all 17 digits: a resumed run compares its epochs with exactly this number.
    state = TrainingState(epoch=2, step=3, words=30, best_score=0.2341772151898734, best_epoch=1, draws={"dropout": 3},
                          rngs={})  # fmt: skip
    with nlp.use_params(optimizer.averages):
        nlp.to_disk(tmp_path / "epoch")
    save_state(nlp, optimizer, state, tmp_path / "state")
    loaded = spacy.load(tmp_path / "epoch")
    fresh = Adam(0.01, use_averages=True)
    restore_state(loaded, fresh, tmp_path / "state")
    return nlp, optimizer, loaded, fresh, state


def test_restored_pipeline_has_the_live_weights_and_the_optimizer_its_state(tmp_path):
    nlp, optimizer, loaded, fresh, _ = _saved_and_restored(tmp_path)
    live, restored = _weights(nlp), _weights(loaded)
    assert [(i, name) for i, name, _ in live] == [(i, name) for i, name, _ in restored]
    for (_, _, a), (_, _, b) in zip(live, restored, strict=True):
        assert a.dtype == b.dtype and numpy.array_equal(a, b)
    for table in ("mom1", "mom2", "averages"):
        _assert_same(_by_stable_key(nlp, getattr(optimizer, table)), _by_stable_key(loaded, getattr(fresh, table)))
    assert _by_stable_key(nlp, optimizer.nr_update) == _by_stable_key(loaded, fresh.nr_update)
    assert all(count == 3 for count in fresh.nr_update.values())


def test_an_update_after_restoring_equals_the_update_without_interruption(tmp_path):
    nlp, optimizer, loaded, fresh, _ = _saved_and_restored(tmp_path)
    nlp.update(_examples(nlp), sgd=optimizer, drop=0.0)
    loaded.update(_examples(loaded), sgd=fresh, drop=0.0)
    for (_, _, a), (_, _, b) in zip(_weights(nlp), _weights(loaded), strict=True):
        assert numpy.allclose(a, b, atol=1e-7)
    with nlp.use_params(optimizer.averages), loaded.use_params(fresh.averages):
        for (_, _, a), (_, _, b) in zip(_weights(nlp), _weights(loaded), strict=True):
            assert numpy.allclose(a, b, atol=1e-7)


def test_the_state_file_round_trips(tmp_path):
    *_, state = _saved_and_restored(tmp_path)
    assert (tmp_path / "state" / ARRAYS_FILE).is_file() and (tmp_path / "state" / STATE_FILE).is_file()
    assert read_state(tmp_path / "state") == state
    # Both files carry the format's version, for a later recipe-train to read them by.
    assert srsly.read_msgpack(tmp_path / "state" / ARRAYS_FILE)["version"] == 1
    assert srsly.read_json(tmp_path / "state" / STATE_FILE)["version"] == 1


def test_pending_gradients_are_saved_and_restored(tmp_path):
    nlp, optimizer = _trained()
    # A gradient computed but not yet applied (as with a shared tok2vec between updates).
    nlp.update(_examples(nlp), sgd=False, drop=0.0)
    pending = {(i, name): node.get_grad(name).copy() for _, proc in nlp.pipeline
               for i, node in enumerate(proc.model.walk()) for name in node.param_names if node.has_grad(name)}  # fmt: skip
    assert pending and any(numpy.abs(g).sum() > 0 for g in pending.values())
    state = TrainingState(epoch=1, step=3, words=0, best_score=0.0, best_epoch=0, draws={}, rngs={})
    nlp.to_disk(tmp_path / "epoch")
    save_state(nlp, optimizer, state, tmp_path / "state", arrays=encode_arrays(nlp, optimizer))
    loaded = spacy.load(tmp_path / "epoch")
    restore_state(loaded, Adam(0.01, use_averages=True), tmp_path / "state")
    restored = {(i, name): node.get_grad(name) for _, proc in loaded.pipeline
                for i, node in enumerate(proc.model.walk()) for name in node.param_names if node.has_grad(name)}  # fmt: skip
    _assert_same(pending, restored)


def test_a_state_for_another_pipeline_is_refused(tmp_path):
    nlp, optimizer = _trained()
    state = TrainingState(epoch=1, step=3, words=0, best_score=0.0, best_epoch=0, draws={}, rngs={})
    save_state(nlp, optimizer, state, tmp_path / "state")
    other = spacy.blank("en")
    other.add_pipe("textcat")
    other.initialize(lambda: [Example.from_dict(other.make_doc("a b"), {"cats": {"A": 1.0, "B": 0.0}})])
    with pytest.raises(ValueError) as info:
        restore_state(other, Adam(0.01), tmp_path / "state")
    # The first three of the 26 names, in order.
    assert str(info.value) == Errors.E075.format(names="tagger/29/E, tagger/31/E, tagger/33/E")


@pytest.mark.parametrize(
    "array",
    [
        numpy.arange(12, dtype="float32").reshape(3, 4) / 7,
        numpy.arange(6, dtype="int64").reshape(2, 3, 1) - 3,
        numpy.zeros((0, 5), dtype="float32"),
        numpy.array([1, 2, 255], dtype="uint8"),
    ],
    ids=["float32", "int64-3d", "empty", "uint8"],
)
def test_arrays_of_every_shape_and_type_round_trip(tmp_path, array):
    nlp, optimizer = _trained(steps=1)
    node = list(nlp.get_pipe("tagger").model.walk())[-1]
    node.attrs["unseen_classes"] = {3, 1}  # a parser layer's classes not yet seen in gold
    optimizer.mom1[(node.id, "b")] = array
    state = TrainingState(epoch=1, step=1, words=0, best_score=0.0, best_epoch=0, draws={}, rngs={})
    save_state(nlp, optimizer, state, tmp_path / "state")
    node.attrs["unseen_classes"] = {0, 1, 2, 3}  # seen since: the saved set comes back
    fresh = Adam(0.01, use_averages=True)
    restore_state(nlp, fresh, tmp_path / "state")
    restored = fresh.mom1[(node.id, "b")]
    assert restored.dtype == array.dtype and restored.shape == array.shape
    assert numpy.array_equal(restored, array)
    assert node.attrs["unseen_classes"] == {1, 3}


def test_a_state_saved_before_layer_attributes_were_kept_still_restores(tmp_path):
    nlp, optimizer = _trained()
    state = TrainingState(epoch=1, step=3, words=0, best_score=0.0, best_epoch=0, draws={}, rngs={})
    save_state(nlp, optimizer, state, tmp_path / "state")
    arrays = srsly.read_msgpack(tmp_path / "state" / ARRAYS_FILE)
    del arrays["attrs"]
    srsly.write_msgpack(tmp_path / "state" / ARRAYS_FILE, arrays)
    nlp.to_disk(tmp_path / "epoch")
    loaded = spacy.load(tmp_path / "epoch")
    restore_state(loaded, Adam(0.01, use_averages=True), tmp_path / "state")
    for (_, _, a), (_, _, b) in zip(_weights(nlp), _weights(loaded), strict=True):
        assert numpy.array_equal(a, b)


def test_generators_go_on_where_they_were():
    shuffle, rehearsal = random.Random(1), random.Random(2)
    random.seed(3)
    numpy.random.seed(4)
    states = rng_states(shuffle, rehearsal)
    expected = (shuffle.random(), rehearsal.random(), random.random(), numpy.random.rand())
    # Different generators, drawn further: restoring puts every one back.
    other_shuffle, other_rehearsal = random.Random(9), random.Random(9)
    random.seed(9)
    numpy.random.seed(9)
    numpy.random.rand(5)
    restore_rngs(states, other_shuffle, other_rehearsal)
    assert (other_shuffle.random(), other_rehearsal.random(), random.random(), numpy.random.rand()) == expected


def test_a_run_without_rehearsal_restores_the_other_generators():
    shuffle = random.Random(1)
    states = rng_states(shuffle)
    assert states["rehearsal_rng"] is None
    expected = shuffle.random()
    fresh = random.Random(5)
    untouched = random.Random(6)
    restore_rngs(states, fresh, untouched)
    assert fresh.random() == expected and untouched.random() == random.Random(6).random()


def test_counted_replays_a_saved_position():
    values = Counted(iter(range(100)))
    assert [next(values) for _ in range(3)] == [0, 1, 2] and values.drawn == 3
    replayed = Counted(iter(range(100)), drawn=values.drawn)
    assert replayed.drawn == 3 and next(replayed) == next(values) == 3
    assert iter(replayed) is replayed


def test_layers_are_named_past_components_without_a_model_and_a_shared_layer_once():
    """The saved arrays are named component/position of each layer: a component without a model (first here)
    neither stops the naming nor takes a name, and a model two components share is saved once, under the first."""
    nlp, optimizer = _trained()
    tagger = nlp.get_pipe("tagger")
    expected = {f"tagger/{i}/{name}" for i, node in enumerate(tagger.model.walk()) for name in node.param_names
                if node.has_param(name)}  # fmt: skip
    nlp.add_pipe("sentencizer", first=True)  # no model at all
    assert set(encode_arrays(nlp, optimizer)()["params"]) == expected
    nlp.add_pipe("tagger", name="again")
    nlp.get_pipe("again").model = tagger.model
    assert set(encode_arrays(nlp, optimizer)()["params"]) == expected


def test_the_state_folder_is_made_with_its_parents_and_may_exist_already(tmp_path):
    nlp, optimizer = _trained()
    state = TrainingState(epoch=1, step=3, words=30, best_score=0.5, best_epoch=1, draws={}, rngs={})
    folder = tmp_path / ".epoch-001.tmp" / "state"
    save_state(nlp, optimizer, state, folder)
    save_state(nlp, optimizer, state, folder)  # written again over itself (a retried save)
    assert read_state(folder) == state
