import random
from pathlib import Path

import pytest
from spacy.util import load_model_from_config

from recipe_cli.config.build import build_config
from recipe_cli.data.corpus import RecipeCorpus
from recipe_cli.training.loop import shuffled, train_epochs
from recipe_cli.training.schedules import linear_decay
from recipe_cli.training.setup import resolve_training

DATA = Path(__file__).parent / "data" / "ewt-train.conllu"


@pytest.fixture(scope="module")
def tagger_config():
    """The config of a tagger on 60 real EWT sentences, batch sizes compounding quickly from 1 to 8 (a Config is
    only read from here: each test builds its own pipeline, optimizer and batcher from it)."""
    overrides = {
        "paths.train": str(DATA),
        "paths.dev": str(DATA),
        "training.batcher.size.stop": 8,
        "training.batcher.size.compound": 1.05,
        "training.dropout.decay": 0.01,
        "corpora.train.limit": 60,
    }
    return build_config(["tagger"], overrides=overrides).config


@pytest.fixture
def setup(tagger_config):
    """A fresh initialised pipeline, its resolved [training] (optimizer, batcher schedules) and examples: training
    changes all three, so no test sees what another did."""
    nlp = load_model_from_config(tagger_config.copy(), auto_fill=True, validate=True)
    T = resolve_training(nlp.config)
    corpus = RecipeCorpus(DATA, format="auto", sents_per_doc=1, holdout=0.0, part="all", seed=0, limit=60)
    examples = list(corpus(nlp))
    nlp.initialize(lambda: examples, sgd=T["optimizer"])
    return nlp, T, examples


def test_yields_once_per_epoch_and_schedules_continue(setup):
    nlp, T, examples = setup
    seen_dropouts = []

    def dropouts():
        for value in linear_decay(start=0.6, stop=0.2, decay=0.01):
            seen_dropouts.append(value)
            yield value

    infos = list(
        train_epochs(
            nlp,
            T["optimizer"],
            lambda: examples,
            batcher=T["batcher"],
            dropouts=dropouts(),
            rng=random.Random(0),
            max_epochs=3,
        )  # fmt: skip
    )
    assert [i.epoch for i in infos] == [1, 2, 3]
    steps = [i.step for i in infos]
    assert steps[0] < steps[1] < steps[2]
    # One dropout value per update, and it keeps decaying across epochs.
    assert len(seen_dropouts) == steps[-1]
    assert infos[-1].dropout == pytest.approx(max(0.2, 0.6 - 0.01 * (steps[-1] - 1)))
    # The batch size keeps compounding across epochs (1.05 per batch up to 8).
    assert infos[0].batch_size < infos[-1].batch_size == 8
    words = sum(len(eg.predicted) for eg in examples)
    assert [i.words for i in infos] == [words, 2 * words, 3 * words]
    for info in infos:
        assert set(info.losses) == {"tok2vec", "tagger"}
        assert all(loss == loss and loss >= 0 for loss in info.losses.values())  # finite, not NaN
        assert info.learn_rate == pytest.approx(0.001)


def test_max_steps_cuts_the_epoch(setup):
    nlp, T, examples = setup
    dropouts = linear_decay(start=0.5, stop=0.5, decay=0.0)
    infos = list(
        train_epochs(
            nlp,
            T["optimizer"],
            lambda: examples,
            batcher=T["batcher"],
            dropouts=dropouts,
            rng=random.Random(0),
            max_epochs=0,
            max_steps=7,
        )  # fmt: skip
    )
    assert len(infos) == 1
    assert infos[0].step == 7 and infos[0].finished is False


def test_stops_when_consumer_leaves(setup):
    """Leaving after two epochs (as patience does) ends training there: no third pass over the data is begun,
    no update is made after the second epoch, and the closed loop yields nothing more."""
    nlp, T, examples = setup
    passes, updates = [], []

    def corpus():
        passes.append(len(passes) + 1)
        return examples

    epochs = train_epochs(nlp, T["optimizer"], corpus, batcher=T["batcher"], after_update=lambda info, batch: updates.append(info.step),
                          dropouts=linear_decay(start=0.5, stop=0.5, decay=0.0), rng=random.Random(0), max_epochs=0)  # fmt: skip
    first = next(epochs)
    second = next(epochs)
    assert (first.epoch, second.epoch) == (1, 2) and first.finished and second.finished
    weights = nlp.get_pipe("tagger").model.to_bytes()
    epochs.close()
    assert passes == [1, 2]
    assert updates == list(range(1, second.step + 1))
    assert nlp.get_pipe("tagger").model.to_bytes() == weights
    with pytest.raises(StopIteration):
        next(epochs)
    assert passes == [1, 2] and len(updates) == second.step


def test_accumulate_gradient_updates_once_per_batch(setup):
    nlp, T, examples = setup
    optimizer = T["optimizer"]
    before = dict(optimizer.nr_update)
    infos = list(
        train_epochs(
            nlp,
            optimizer,
            lambda: examples[:16],
            batcher=lambda egs: (lambda egs: [egs[:8], egs[8:]])(list(egs)),
            dropouts=linear_decay(start=0.1, stop=0.1, decay=0.0),
            rng=random.Random(0),
            max_epochs=1,
            accumulate_gradient=4,
        )  # fmt: skip
    )
    assert infos[0].step == 2
    # Each parameter got one optimizer update per batch, not one per sub-batch.
    assert {optimizer.nr_update[key] - before.get(key, 0) for key in optimizer.nr_update} == {2}


def test_shuffle_buffer_larger_than_the_data_is_a_whole_shuffle():
    items = list(range(500))
    assert list(shuffled(iter(items), random.Random(3), 500)) == list(shuffled(items, random.Random(3), 0))
    assert list(shuffled(iter(items), random.Random(3), 10_000)) == list(shuffled(items, random.Random(3), 0))
    assert list(shuffled(items, random.Random(3), 0)) != items


def test_shuffle_buffer_is_bounded_and_keeps_every_item():
    """A 100-item buffer never holds more than 100 items it has not yet given back, and loses none."""
    read = []

    def stream():
        for i in range(5_000):
            read.append(i)
            yield i

    out = []
    for item in shuffled(stream(), random.Random(0), 100):
        out.append(item)
        assert len(read) - len(out) <= 100
    assert sorted(out) == list(range(5_000)) and out != list(range(5_000))
    # Seeded: the same generator state gives the same order.
    assert list(shuffled(range(5_000), random.Random(0), 100)) == out


def _epochs(nlp, T, examples, **kwargs):
    """train_epochs on the first 8 examples in batches of 4 (two updates an epoch), without dropout."""
    batcher = lambda egs: (lambda egs: [egs[i : i + 4] for i in range(0, len(egs), 4)])(list(egs))  # noqa: E731
    kwargs = {"max_epochs": 1, "rng": random.Random(0), **kwargs}
    return train_epochs(nlp, T["optimizer"], lambda: examples[:8], batcher=batcher,
                        dropouts=linear_decay(start=0.0, stop=0.0, decay=0.0), **kwargs)  # fmt: skip


def test_a_resumed_run_goes_on_from_its_epoch_step_and_words(setup):
    nlp, T, examples = setup
    words = sum(len(eg.predicted) for eg in examples[:8])
    seen = []
    infos = list(_epochs(nlp, T, examples, first_epoch=3, step=10, words=100, max_epochs=4,
                         before_update=lambda nlp, info: seen.append(info)))  # fmt: skip
    assert [(i.epoch, i.step, i.words) for i in infos] == [(3, 12, 100 + words), (4, 14, 100 + 2 * words)]
    assert seen == [{"step": 10, "epoch": 3}, {"step": 11, "epoch": 3}, {"step": 12, "epoch": 4},
                    {"step": 13, "epoch": 4}]  # fmt: skip
    assert all(i.finished and not i.interrupted and 0 < i.seconds < 600 for i in infos)
    # Already at max_epochs: nothing more.
    assert list(_epochs(nlp, T, examples, first_epoch=5, max_epochs=4)) == []


def test_should_stop_ends_the_epoch_after_the_update_and_the_loop(setup):
    nlp, T, examples = setup
    asked = []

    def should_stop():
        asked.append(len(asked))
        return len(asked) > 2  # before epoch 1, after update 1: go on; after update 2 of 2: stop

    infos = list(_epochs(nlp, T, examples, max_epochs=3, should_stop=should_stop))
    assert [(i.epoch, i.step, i.finished, i.interrupted) for i in infos] == [(1, 2, False, True)]
    assert list(_epochs(nlp, T, examples, should_stop=lambda: True)) == []


class _Rehearse:
    """A rehearsal stand-in: `per` extra examples per new one, recording the batch sizes asked for."""

    def __init__(self, examples, per, distill=False):
        self.examples, self.per, self.distill, self.asked = examples, per, distill, []

    def __call__(self, n):
        self.asked.append(n)
        return self.examples[: self.per * n]


def test_rehearsal_examples_join_the_update_or_make_a_rehearse_step(setup, monkeypatch):
    nlp, T, examples = setup
    updated, rehearsed = [], []
    update, rehearse = nlp.update, nlp.rehearse
    monkeypatch.setattr(nlp, "update", lambda egs, **kw: updated.append(len(egs)) or update(egs, **kw))
    monkeypatch.setattr(nlp, "rehearse", lambda egs, **kw: rehearsed.append(len(egs)) or rehearse(egs, **kw))
    joined = _Rehearse(examples[8:], 1)
    (info,) = _epochs(nlp, T, examples, rehearse=joined)
    # Each batch of 4 gets 4 more; steps and words count the new examples only.
    assert joined.asked == [4, 4] and updated == [8, 8] and rehearsed == []
    assert (info.step, info.words) == (2, sum(len(eg.predicted) for eg in examples[:8])) and info.batch_size == 4
    updated.clear()
    distill = _Rehearse(examples[8:], 2, distill=True)
    list(_epochs(nlp, T, examples, rehearse=distill))
    assert distill.asked == [4, 4] and updated == [4, 4] and rehearsed == [8, 8]


def test_by_default_each_epoch_shuffles_the_whole_corpus_at_once(setup):
    """With no shuffle_buffer, an epoch's examples come in the order one whole-corpus shuffle by the rng gives."""
    nlp, T, examples = setup
    order = []
    list(
        train_epochs(nlp, T["optimizer"], lambda: examples, batcher=T["batcher"], dropouts=iter(lambda: 0.1, None),
                     rng=random.Random(5), max_epochs=1,
                     after_update=lambda info, batch: order.extend(id(eg) for eg in batch))
    )  # fmt: skip
    expected = [id(eg) for eg in shuffled(examples, random.Random(5), 0)]
    assert order == expected and order != [id(eg) for eg in examples]


def test_a_shuffle_buffer_shuffles_the_stream_through_it(setup):
    nlp, T, examples = setup
    order = []
    list(
        train_epochs(nlp, T["optimizer"], lambda: examples, batcher=T["batcher"], dropouts=iter(lambda: 0.1, None),
                     rng=random.Random(5), max_epochs=1, shuffle_buffer=7,
                     after_update=lambda info, batch: order.extend(id(eg) for eg in batch))
    )  # fmt: skip
    assert order == [id(eg) for eg in shuffled(examples, random.Random(5), 7)]
    assert order != [id(eg) for eg in shuffled(examples, random.Random(5), 0)]


def test_an_epoch_without_examples_keeps_the_counters_it_started_with(setup):
    nlp, T, _ = setup
    (info,) = train_epochs(nlp, T["optimizer"], lambda: [], batcher=T["batcher"], dropouts=iter(lambda: 0.1, None),
                           rng=random.Random(0), max_epochs=3, first_epoch=3, step=40, words=900)  # fmt: skip
    assert (info.epoch, info.step, info.words, info.finished) == (3, 40, 900, True)


def test_a_failed_update_names_the_stage_the_epoch_the_step_and_the_batch(setup):
    from recipe_cli.errors import Errors, StageError
    from recipe_cli.output.failures import describe_batch

    nlp, T, examples = setup
    batches = []

    def batcher(stream):
        for batch in T["batcher"](stream):
            batches.append(batch)
            yield batch

    def before_update(nlp, info):
        if info["step"] == 2:
            raise ValueError("boom")

    with pytest.raises(StageError) as caught:
        list(
            train_epochs(nlp, T["optimizer"], lambda: examples, batcher=batcher, dropouts=iter(lambda: 0.1, None),
                         rng=random.Random(0), max_epochs=2, first_epoch=2, before_update=before_update)
        )  # fmt: skip
    error = caught.value
    assert len(batches) == 3
    where = f" in epoch 2, step 3 ({describe_batch(batches[-1])})"
    assert (error.stage, error.where) == ("Update", where)
    assert isinstance(error.error, ValueError)
    assert str(error) == Errors.E070.format(stage="Update", where=where, error="ValueError: boom")
    assert error.details and error.details[0].startswith("batch: ")


def _spied(nlp, monkeypatch):
    """nlp.update and nlp.rehearse recording what they were given (update still updates)."""
    calls = []
    real_update = nlp.update

    def update(batch, **kwargs):
        calls.append(("update", len(batch), kwargs))
        return real_update(batch, **kwargs)

    def rehearse(examples, **kwargs):
        calls.append(("rehearse", len(examples), kwargs))
        return {}

    monkeypatch.setattr(nlp, "update", update)
    monkeypatch.setattr(nlp, "rehearse", rehearse)
    return calls


@pytest.mark.parametrize("distill", [True, False])
def test_rehearsal_examples_join_the_batch_or_follow_it_in_a_distill_step(setup, monkeypatch, distill):
    """A rehearse callable without `distill` (or with it false) adds its examples to the batch; with distill, they
    go to nlp.rehearse after the update, with the run's optimizer. The update gets the schedule's dropout, the
    run's optimizer and the epoch's losses; before_update gets the pipeline."""
    nlp, T, examples = setup
    calls = _spied(nlp, monkeypatch)

    def rehearse(n):
        return examples[:2]

    if distill:
        rehearse.distill = True  # type: ignore[attr-defined]
    seen = []
    (info,) = train_epochs(nlp, T["optimizer"], lambda: examples[:6], batcher=lambda stream: [list(stream)],
                           dropouts=iter(lambda: 0.25, None), rng=random.Random(0), max_epochs=1, rehearse=rehearse,
                           before_update=lambda pipeline, state: seen.append(pipeline is nlp),
                           exclude=["not-a-component"], annotating_components=["tagger"])  # fmt: skip
    assert seen == [True]
    if distill:
        assert [(name, n) for name, n, _ in calls] == [("update", 6), ("rehearse", 2)]
        assert calls[1][2] == {"sgd": T["optimizer"], "losses": {}, "exclude": ["not-a-component"]}
    else:
        assert [(name, n) for name, n, _ in calls] == [("update", 8)]
    kwargs = calls[0][2]
    assert kwargs["drop"] == 0.25 and kwargs["sgd"] is T["optimizer"] and kwargs["exclude"] == ["not-a-component"]
    assert kwargs["annotates"] == ["tagger"]
    assert kwargs["losses"] is info.losses and set(info.losses) == {"tok2vec", "tagger"}


@pytest.mark.parametrize("accumulate,sub_batches", [(1, [8, 8]), (2, [4, 4, 4, 4]), (3, [3, 3, 2, 3, 3, 2])])
def test_accumulate_gradient_splits_each_batch_into_that_many_sub_batches(setup, monkeypatch, accumulate, sub_batches):
    """1: one nlp.update per batch, with the optimizer; N > 1: N sub-batches per batch (sizes rounded up), each
    without the optimizer (sgd=False), their summed gradients applied once per batch."""
    nlp, T, examples = setup
    calls = _spied(nlp, monkeypatch)
    list(
        train_epochs(nlp, T["optimizer"], lambda: examples[:16], batcher=lambda egs: (lambda e: [e[:8], e[8:]])(list(egs)),
                     dropouts=iter(lambda: 0.1, None), rng=random.Random(0), max_epochs=1, accumulate_gradient=accumulate)
    )  # fmt: skip
    assert [n for _, n, _ in calls] == sub_batches
    assert {id(kwargs["sgd"]) for _, _, kwargs in calls} == {id(T["optimizer"]) if accumulate == 1 else id(False)}


def test_a_shuffle_buffer_of_one_keeps_the_order_and_none_shuffles_everything():
    items = list(range(50))
    assert list(shuffled(items, random.Random(3), 1)) == items
    assert list(shuffled(items, random.Random(3))) == list(shuffled(items, random.Random(3), 0)) != items


@pytest.mark.parametrize("accumulate,sub_batches", [(2, [4, 4, 4, 4]), (8, [1] * 16)])
def test_sub_batches_get_the_updates_settings_and_function_components_are_left_alone(
    setup, monkeypatch, accumulate, sub_batches
):
    """Every sub-batch's nlp.update gets the dropout, the epoch's losses, the excluded and the annotating
    components; finishing the update skips components that are plain functions (no model, no is_trainable)."""
    from spacy.language import Language

    @Language.component("recipe_test_passthrough")
    def passthrough(doc):
        return doc

    nlp, T, examples = setup
    nlp.add_pipe("recipe_test_passthrough")
    calls = _spied(nlp, monkeypatch)
    (info,) = train_epochs(nlp, T["optimizer"], lambda: examples[:16], batcher=lambda e: (lambda e: [e[:8], e[8:]])(list(e)),
                           dropouts=iter(lambda: 0.3, None), rng=random.Random(0), max_epochs=1,
                           accumulate_gradient=accumulate, exclude=["not-a-component"],
                           annotating_components=["tagger"])  # fmt: skip
    assert [n for _, n, _ in calls] == sub_batches
    for _, _, kwargs in calls:
        assert kwargs == {"drop": 0.3, "sgd": False, "losses": info.losses, "exclude": ["not-a-component"],
                          "annotates": ["tagger"]}  # fmt: skip
        assert kwargs["losses"] is info.losses
