"""recipe_cli.transfer piece by piece, in seconds: building a pipeline from a base model, new labels, raw texts,
the rehearsal draw, the base model's annotation (rehearsal examples, fill-in) and setting rehearsal up. The base
pipelines are tiny and learn a few hand-made sentences by heart; teachers that must predict exactly given
entities or scores are entity rulers or text classifiers with set weights."""

import math
import random
from collections import Counter

import numpy
import pytest
import spacy
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import fix_random_seed, load_model_from_config
from thinc.api import Adam

from recipe_cli.config.build import build_config
from recipe_cli.config.schemas import RehearsalSchema, rehearsal_settings
from recipe_cli.data.summary import DataSummary
from recipe_cli.errors import Errors, RecipeError
from recipe_cli.training.rehearsal import (
    Rehearsal,
    fill_in,
    fill_in_copy,
    read_raw_texts,
    rehearsal_examples,
    rehearsed_components,
    set_tutors,
)
from recipe_cli.training.setup import start_rehearsal
from recipe_cli.training.training_data import TrainingData
from recipe_cli.training.transfer import Transfer, UnknownLabels, add_new_labels, doc_labels, pipeline_from_base

LISTENER = "spacy.Tok2VecListener.v1"
# A tiny tok2vec, so that building, training and loading take a fraction of a second.
SMALL = {"components.tok2vec.model.encode.width": 32, "components.tok2vec.model.encode.depth": 1,
         "components.tok2vec.model.embed.rows": [500, 100, 100, 100], "training.batcher.size.stop": 4}  # fmt: skip
# (text, tags, entities): what the base's tagger and ner learn by heart.
SENTENCES = [
    ("Tim Cook visited Apple in Paris", ["NNP", "NNP", "VBD", "NNP", "IN", "NNP"], [(0, 2, "PERSON"), (3, 4, "ORG"), (5, 6, "GPE")]),
    ("Apple hired Tim in London", ["NNP", "VBD", "NNP", "IN", "NNP"], [(0, 1, "ORG"), (2, 3, "PERSON"), (4, 5, "GPE")]),
    ("Sara works for Google", ["NNP", "VBZ", "IN", "NNP"], [(0, 1, "PERSON"), (3, 4, "ORG")]),
    ("Google opened an office in Berlin", ["NNP", "VBD", "DT", "NN", "IN", "NNP"], [(0, 1, "ORG"), (5, 6, "GPE")]),
    ("the office is big", ["DT", "NN", "VBZ", "JJ"], []),
]  # fmt: skip


def _doc(vocab, text, ents=(), tags=None):
    words = text.split()
    doc = Doc(vocab, words=words, spaces=[True] * (len(words) - 1) + [False], tags=tags)
    doc.ents = [Span(doc, start, end, label=label) for start, end, label in ents]
    return doc


def _ents(doc):
    return [(ent.start, ent.end, ent.label_) for ent in doc.ents]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A base pipeline whose tok2vec is shared by a tagger and a ner, both knowing SENTENCES by heart."""
    fix_random_seed(0)
    config = build_config(["tagger", "ner"], overrides=SMALL).config
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    examples = [Example(nlp.make_doc(text), _doc(nlp.vocab, text, ents, tags)) for text, tags, ents in SENTENCES]
    optimizer = Adam(0.01)
    nlp.initialize(lambda: examples, sgd=optimizer)
    rng = random.Random(0)
    for _ in range(30):
        rng.shuffle(examples)
        nlp.update(examples, sgd=optimizer, drop=0.1)
    for text, tags, ents in SENTENCES:
        doc = nlp(text)
        assert _ents(doc) == ents and [t.tag_ for t in doc] == tags, "the base knows its sentences"
    path = tmp_path_factory.mktemp("base") / "base"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def ner_base(base, tmp_path_factory):
    """The base without its tagger: a tok2vec only its ner listens to."""
    nlp = spacy.load(base)
    nlp.remove_pipe("tagger")
    path = tmp_path_factory.mktemp("ner-base") / "base"
    nlp.to_disk(path)
    return path


def _recipe(components, base, **overrides):
    return build_config(components, overrides={**SMALL, "paths.base_model": str(base), **overrides}).config


def _bytes(nlp, name):
    return nlp.get_pipe(name).model.to_bytes()


def _listens(model):
    return any(node.name == "tok2vec-listener" for node in model.walk())


def _ruler(name="ner", patterns=(), nlp=None):
    """A pipeline whose component `name` is an entity ruler finding exactly `patterns` ((label, text) pairs)."""
    nlp = nlp or spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler", name=name)
    ruler.add_patterns([{"label": label, "pattern": [{"ORTH": w} for w in text.split()]} for label, text in patterns])
    return nlp


def _textcat(factory, biases, labels=("A", "B", "C")):
    """A text classifier (bag of words) named as its factory, whose scores are its biases (softmax or logistic)."""
    nlp = spacy.blank("en")
    exclusive = factory == "textcat"
    model = {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": exclusive, "ngram_size": 1,
             "no_output_layer": False}  # fmt: skip
    proc = nlp.add_pipe(factory, config={"model": model})
    for label in labels:
        proc.add_label(label)
    nlp.initialize()
    for node in proc.model.walk():
        if node.name == "sparse_linear":
            node.set_param("W", numpy.zeros_like(node.get_param("W")))
            node.set_param("b", numpy.asarray(biases, dtype="float32"))
    return nlp


# --- Transfer.describe ---


def test_describe_lists_what_was_done():
    transfer = Transfer(base="en_base", updated=["ner", "tagger"], added=["textcat", "senter"],
                        frozen=["tok2vec", "parser"], own_tok2vec=["ner", "tagger"])  # fmt: skip
    assert transfer.describe() == [
        "base model en_base",
        "updated in place: ner, tagger",
        "added: textcat, senter",
        "given a copy of the shared tok2vec: ner, tagger",
        "kept unchanged: tok2vec, parser",
    ]
    assert Transfer(base="b").describe() == ["base model b"]
    assert Transfer(base="b", frozen=["tok2vec"]).describe() == ["base model b", "kept unchanged: tok2vec"]


# --- pipeline_from_base ---


def test_updated_component_gets_a_copy_of_the_tok2vec_it_shares_with_kept_ones(base):
    overrides = {"paths.train": "new.conll", "training.max_epochs": 7, "system.seed": 5, "corpora.train.limit": 13}
    nlp, transfer = pipeline_from_base(_recipe(["ner"], base, **overrides), base)
    original = spacy.load(base)
    assert transfer == Transfer(base=str(base), updated=["ner"], frozen=["tok2vec", "tagger"], own_tok2vec=["ner"])
    assert nlp.pipe_names == ["tok2vec", "tagger", "ner"]
    # The kept tagger still listens to the base's tok2vec; both are the base's, weight for weight.
    assert nlp.get_pipe("tok2vec").listening_components == ["tagger"]
    for name in ("tok2vec", "tagger"):
        assert _bytes(nlp, name) == _bytes(original, name), name
    assert nlp.config["components"]["tagger"]["model"]["tok2vec"]["@architectures"] == LISTENER
    # The ner has its own copy of it (the same weights: it still finds what the base found).
    assert not _listens(nlp.get_pipe("ner").model)
    assert nlp.config["components"]["ner"]["model"]["tok2vec"]["@architectures"] == "spacy.Tok2Vec.v2"
    with nlp.select_pipes(enable=["ner"]):
        assert [_ents(nlp(text)) for text, _, _ in SENTENCES] == [ents for _, _, ents in SENTENCES]
    # The run's [paths], [corpora], [training] and [system] replace the base's.
    assert nlp.config["paths"]["train"] == "new.conll" and nlp.config["paths"]["base_model"] == str(base)
    assert original.config["paths"]["train"] is None
    assert nlp.config["training"]["max_epochs"] == 7
    assert nlp.config["system"]["seed"] == 5
    assert nlp.config["corpora"]["train"]["limit"] == 13
    assert nlp.config["training"]["frozen_components"] == ["tok2vec", "tagger"]


def test_new_component_is_added_beside_with_the_recipes_tok2vec(base):
    # The recipe's tok2vec is wider than the base's: the added component gets the recipe's, as values.
    config = _recipe(["morphologizer"], base, **{"components.tok2vec.model.encode.width": 48})
    nlp, transfer = pipeline_from_base(config, base)
    assert transfer == Transfer(base=str(base), added=["morphologizer"], frozen=["tok2vec", "tagger", "ner"])
    assert nlp.pipe_names == ["tok2vec", "tagger", "ner", "morphologizer"]
    assert nlp.get_pipe_meta("morphologizer").factory == "morphologizer"
    assert nlp.get_pipe("tok2vec").listening_components == ["tagger", "ner"]
    block = nlp.config["components"]["morphologizer"]["model"]["tok2vec"]
    assert block["@architectures"] == "spacy.Tok2Vec.v2"
    assert block["encode"]["width"] == block["embed"]["width"] == 48
    assert not _listens(nlp.get_pipe("morphologizer").model)
    assert nlp.config["training"]["frozen_components"] == ["tok2vec", "tagger", "ner"]


def test_a_component_is_added_under_its_own_name_beside_one_of_its_factory(base):
    config = _recipe(["ner"], base)
    config["nlp"]["pipeline"] = ["tok2vec", "products"]
    config["components"]["products"] = config["components"].pop("ner")
    nlp, transfer = pipeline_from_base(config, base)
    assert transfer == Transfer(base=str(base), added=["products"], frozen=["tok2vec", "tagger", "ner"])
    assert nlp.pipe_names == ["tok2vec", "tagger", "ner", "products"]
    assert nlp.get_pipe_meta("products").factory == "ner"


def test_the_pipelines_settings_are_its_own_copy_of_the_runs(base):
    config = _recipe(["ner"], base, **{"corpora.train.limit": 13})
    nlp, _ = pipeline_from_base(config, base)
    # Resuming rebases the pipeline's corpus paths in place: the run's config stays as it was given.
    nlp.config["corpora"]["train"]["limit"] = 99
    nlp.config["training"]["optimizer"]["learn_rate"] = 0.5
    assert config["corpora"]["train"]["limit"] == 13
    assert config["training"]["optimizer"]["learn_rate"] != 0.5


def test_component_of_another_factory_in_the_base_is_refused(tmp_path):
    _ruler("ner", [("ORG", "Apple")]).to_disk(tmp_path / "base")
    base = str(tmp_path / "base")
    message = Errors.E066.format(base=base, name="ner", factory="entity_ruler", want="ner")
    with pytest.raises(RecipeError) as info:
        pipeline_from_base(_recipe(["ner"], base), base)
    assert str(info.value) == message


def test_tok2vec_listened_to_by_trained_components_only_is_trained_with_them(base, ner_base):
    nlp, transfer = pipeline_from_base(_recipe(["ner"], ner_base), ner_base)
    assert transfer == Transfer(base=str(ner_base), updated=["ner"])
    assert nlp.pipe_names == ["tok2vec", "ner"]
    assert nlp.get_pipe("tok2vec").listening_components == ["ner"]
    assert nlp.config["training"]["frozen_components"] == []
    nlp, transfer = pipeline_from_base(_recipe(["tagger", "ner"], base), base)
    assert transfer == Transfer(base=str(base), updated=["tagger", "ner"])
    assert nlp.get_pipe("tok2vec").listening_components == ["tagger", "ner"]


def test_own_tok2vec_copies_it_and_removes_the_tok2vec_nobody_listens_to(ner_base, tmp_path):
    nlp, transfer = pipeline_from_base(_recipe(["ner"], ner_base), ner_base, own_tok2vec=True)
    assert transfer == Transfer(base=str(ner_base), updated=["ner"], own_tok2vec=["ner"])
    assert nlp.pipe_names == ["ner"]
    assert not _listens(nlp.get_pipe("ner").model)
    # The copy's settings are values now: the config holds no reference to the removed tok2vec, and the
    # pipeline saves and loads, predicting what the base predicted.
    assert "${" not in str(nlp.config["components"])
    assert nlp.config.interpolate()["components"]["ner"]["model"]["tok2vec"]["encode"]["width"] == 32
    nlp.to_disk(tmp_path / "out")
    loaded = spacy.load(tmp_path / "out")
    assert loaded.pipe_names == ["ner"]
    assert [_ents(loaded(text)) for text, _, _ in SENTENCES] == [ents for _, _, ents in SENTENCES]


def test_frozen_components_from_the_config_win(base):
    config = _recipe(["ner"], base, **{"training.frozen_components": ["tagger"]})
    nlp, transfer = pipeline_from_base(config, base)
    assert transfer.frozen == ["tagger"]
    assert nlp.config["training"]["frozen_components"] == ["tagger"]


# --- add_new_labels ---


def _examples(nlp, *docs):
    return [Example(nlp.make_doc(doc.text), doc) for doc in docs]


def test_new_entity_labels_are_added_to_the_base_ner(base):
    nlp = spacy.load(base)
    old = set(nlp.get_pipe("ner").labels)
    assert old == {"PERSON", "ORG", "GPE"}
    examples = _examples(nlp, _doc(nlp.vocab, "Tim bought an iPhone", [(0, 1, "PERSON"), (3, 4, "PRODUCT")]),
                         _doc(nlp.vocab, "WWDC in Paris", [(0, 1, "EVENT"), (2, 3, "GPE")]))  # fmt: skip
    transfer = Transfer(base="b", updated=["ner"])
    assert add_new_labels(nlp, transfer, examples) == {"ner": ["EVENT", "PRODUCT"]}
    assert set(nlp.get_pipe("ner").labels) == old | {"EVENT", "PRODUCT"}
    assert add_new_labels(nlp, transfer, examples) == {}
    # Components not updated in place are not looked at.
    assert add_new_labels(nlp, Transfer(base="b"), examples) == {}


def test_labels_of_a_component_that_cannot_grow_are_refused(base):
    nlp = spacy.load(base)
    transfer = Transfer(base="the-base", updated=["tagger"])
    known = _examples(nlp, _doc(nlp.vocab, "Sara works", tags=["NNP", "VBZ"]), _doc(nlp.vocab, "x y", tags=["", ""]))
    assert add_new_labels(nlp, transfer, known) == {}
    tags = [f"T{i}" for i in range(9, -1, -1)]
    new = _examples(nlp, _doc(nlp.vocab, " ".join("w" * 10), tags=tags))
    message = Errors.E067.format(name="tagger", labels="T0, T1, T2, T3, T4, T5, T6, T7", base="the-base")
    with pytest.raises(RecipeError) as info:
        add_new_labels(nlp, transfer, new)
    assert str(info.value) == message
    assert "NN" in nlp.get_pipe("tagger").labels and "T0" not in nlp.get_pipe("tagger").labels


@pytest.mark.parametrize("factory", ["textcat", "textcat_multilabel"])
def test_a_resizable_text_classifier_grows_and_keeps_its_old_scores(factory):
    nlp = _textcat(factory, [2.0, 1.0, 0.0])
    before = nlp("hello").cats
    doc = nlp.make_doc("hello")
    doc.cats = {"A": 0.0, "E": 1.0, "D": 0.0}
    added = add_new_labels(nlp, Transfer(base="b", updated=[factory]), [Example(nlp.make_doc("hello"), doc)])
    assert added == {factory: ["D", "E"]}
    assert nlp.get_pipe(factory).labels == ("A", "B", "C", "D", "E")
    after = nlp("hello").cats
    # The new classes start from the old ones' mean bias (1 here: not 0, which a new class given no bias at all
    # would also score as), not from spaCy's -5000, so they can be learnt.
    if factory == "textcat_multilabel":
        # Independent classes: the old scores are unchanged; a new class scores as a bias of 1 does.
        assert [round(after[k], 5) for k in "ABC"] == [round(before[k], 5) for k in "ABC"]
        assert round(after["D"], 5) == round(after["E"], 5) == round(1 / (1 + math.exp(-1.0)), 5)
    else:
        # Exclusive classes: the old scores keep their ratios, and share the mass with the new ones.
        assert round(after["A"] / after["B"], 4) == round(before["A"] / before["B"], 4)
        assert round(after["D"], 5) == round(after["E"], 5) == round(after["B"], 5)
        assert round(sum(after.values()), 5) == 1.0


def _ensemble(factory):
    """A text classifier whose model spaCy cannot resize (TextCatEnsemble), trained on one document."""
    nlp = spacy.blank("en")
    nlp.add_pipe(factory)
    doc = nlp.make_doc("hello there")
    doc.cats = {"A": 1.0, "B": 0.0}
    nlp.initialize(lambda: [Example(nlp.make_doc(doc.text), doc)])
    return nlp


@pytest.mark.parametrize("factory", ["textcat", "textcat_multilabel"])
def test_a_text_classifier_that_cannot_grow_is_refused_unless_its_new_categories_are_left_missing(factory):
    nlp = _ensemble(factory)
    docs = [nlp.make_doc(text) for text in ("one", "two", "three")]
    docs[0].cats = {"A": 0.0, "B": 0.0, "E": 1.0}  # its class unknown
    docs[1].cats = {"A": 1.0, "B": 0.0, "E": 0.0}  # its class known
    docs[2].cats = {"A": 1.0, "B": 1.0}
    examples = _examples(nlp, *docs)
    transfer = Transfer(base="the-base", updated=[factory])
    with pytest.raises(RecipeError) as info:
        add_new_labels(nlp, transfer, examples)
    assert str(info.value) == Errors.E067.format(name=factory, labels="E", base="the-base")
    assert add_new_labels(nlp, transfer, examples, missing=True) == {}
    assert nlp.get_pipe(factory).labels == ("A", "B")
    unknown = UnknownLabels.find(nlp, {factory: factory}, examples)
    assert unknown.counts == {factory: Counter({"E": 2})}
    assert unknown.describe() == [
        f"{factory}: 2 documents left unannotated, their labels unknown to the base model's {factory}: E (2)"
    ]
    for eg in examples:
        unknown.erase(eg)
    # Exclusive classes: the document whose class is unknown keeps no category; independent ones keep the others.
    first = {} if factory == "textcat" else {"A": 0.0, "B": 0.0}
    assert [eg.reference.cats for eg in examples] == [first, {"A": 1.0, "B": 0.0}, {"A": 1.0, "B": 1.0}]


def test_unknown_tags_are_left_missing_token_by_token(base):
    nlp = spacy.load(base)
    transfer = Transfer(base="the-base", updated=["tagger", "ner"])
    examples = _examples(
        nlp,
        _doc(nlp.vocab, "Sara works for Zorg", [(3, 4, "PRODUCT")], tags=["NNP", "T1", "IN", "T1"]),
        _doc(nlp.vocab, "x y", tags=["T2", "NN"]),
    )
    # The ner grows; the tagger cannot, and its new tags are left for UnknownLabels.
    assert add_new_labels(nlp, transfer, examples, missing=True) == {"ner": ["PRODUCT"]}
    unknown = UnknownLabels.find(nlp, {"tagger": "tagger", "ner": "ner"}, examples)
    assert unknown.counts == {"tagger": Counter({"T1": 2, "T2": 1})}
    assert unknown.describe() == [
        "tagger: 3 tokens left unannotated, their labels unknown to the base model's tagger: T1 (2), T2 (1)"
    ]
    erased = [unknown.erase(eg) for eg in examples]
    assert [[t.tag_ for t in eg.reference] for eg in erased] == [["NNP", "", "IN", ""], ["", "NN"]]
    assert _ents(erased[0].reference) == [(3, 4, "PRODUCT")]
    # Nothing unknown is left.
    assert UnknownLabels.find(nlp, {"tagger": "tagger"}, examples).counts == {}


def test_unknown_morphology_is_left_missing_and_more_than_eight_labels_are_counted():
    nlp = spacy.blank("en")
    morphologizer = nlp.add_pipe("morphologizer")
    doc = Doc(nlp.vocab, words=["Dogs", "run"], morphs=["Number=Plur", ""], pos=["NOUN", "VERB"])
    nlp.initialize(lambda: [Example(nlp.make_doc(doc.text), doc)])
    assert set(morphologizer.labels) == {"Number=Plur|POS=NOUN", "POS=VERB"}
    words = [f"w{i}" for i in range(10)]
    new = Doc(nlp.vocab, words=["Cats", *words, "x"], morphs=["Number=Plur", *[f"Case=C{i}" for i in range(10)], ""],
              pos=["NOUN", *["NOUN"] * 10, ""])  # fmt: skip
    examples = [Example(nlp.make_doc(new.text), new)]
    unknown = UnknownLabels.find(nlp, {"morphologizer": "morphologizer"}, examples)
    assert sorted(unknown.counts["morphologizer"]) == sorted(f"Case=C{i}|POS=NOUN" for i in range(10))
    (line,) = unknown.describe()
    assert line.startswith("morphologizer: 10 tokens left unannotated, their labels unknown to the base model's ")
    assert line.endswith(" and 2 more") and line.count("(1)") == 8
    unknown.erase(examples[0])
    ref = examples[0].reference
    assert [(t.pos_, str(t.morph)) for t in ref] == [("NOUN", "Number=Plur"), *[("", "")] * 10, ("", "")]


def test_a_component_without_labels_has_none_to_add(base):
    nlp = spacy.load(base)
    nlp.add_pipe("merge_entities")
    examples = _examples(nlp, _doc(nlp.vocab, "Tim bought an iPhone", [(0, 1, "PERSON"), (3, 4, "PRODUCT")]))
    added = add_new_labels(nlp, Transfer(base="b", updated=["merge_entities", "ner"]), examples)
    assert added == {"ner": ["PRODUCT"]}


def test_morphologizer_labels_are_the_tokens_with_a_pos_or_features():
    nlp = spacy.blank("en")
    doc = Doc(nlp.vocab, words=["Dogs", "run", ".", "x"], morphs=["Number=Plur", "Tense=Pres", "", ""])
    doc[0].pos_, doc[2].pos_ = "NOUN", "PUNCT"
    # "x" has neither: no label for it.
    assert doc_labels(doc, "morphologizer") == {"Number=Plur|POS=NOUN", "Tense=Pres", "POS=PUNCT"}


def test_every_updated_component_is_looked_at_when_an_earlier_one_has_nothing_new(base):
    nlp = spacy.load(base)
    examples = _examples(nlp, _doc(nlp.vocab, "Tim bought an iPhone", [(0, 1, "PERSON"), (3, 4, "PRODUCT")]))
    # The tagger comes first and has nothing new (no tags in the data); the ner after it still grows.
    added = add_new_labels(nlp, Transfer(base="b", updated=["tagger", "ner"]), examples)
    assert added == {"ner": ["PRODUCT"]}


# --- read_raw_texts ---


def test_raw_texts_from_txt_skip_blank_lines_and_keep_the_rest(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_bytes(b"\xef\xbb\xbffirst text\r\n\n   \n  second, spaced  \nthird\n")
    assert read_raw_texts(path) == ["first text", "  second, spaced  ", "third"]
    assert read_raw_texts(str(path)) == ["first text", "  second, spaced  ", "third"]


def test_raw_texts_from_jsonl(tmp_path):
    path = tmp_path / "texts.JSONL"
    path.write_text('{"text": "one", "id": 1}\n\n  \n{"text": " two "}\n', encoding="utf8")
    assert read_raw_texts(path) == ["one", " two "]


@pytest.mark.parametrize(
    "name,content,error,details",
    [("texts.jsonl", '{"text": "a"}\n\n{"text": \n', "E026", {"line": 3, "reason": "invalid JSON at column 10: Expecting value"}),
     ("texts.jsonl", '{"text": "a"}\n{"tokens": []}\n', "E026", {"line": 2, "reason": "record without text"}),
     ("texts.jsonl", '["a"]\n', "E026", {"line": 1, "reason": "record without text"}),
     ("texts.jsonl", '{"text": 3}\n', "E026", {"line": 1, "reason": "record without text"}),
     ("texts.jsonl", '{"text": "a"}\n{"text": "  "}\n', "E026", {"line": 2, "reason": "record without text"}),
     ("texts.txt", "", "E022", {}),
     ("texts.jsonl", "\n  \n", "E022", {})],
)  # fmt: skip
def test_raw_texts_that_cannot_be_read_name_the_file_and_line(tmp_path, name, content, error, details):
    path = tmp_path / name
    path.write_text(content, encoding="utf8")
    with pytest.raises(RecipeError) as info:
        read_raw_texts(path)
    assert str(info.value) == getattr(Errors, error).format(path=path, **details)


def test_missing_raw_texts_file(tmp_path):
    with pytest.raises(RecipeError) as info:
        read_raw_texts(tmp_path / "absent.txt")
    assert str(info.value) == Errors.E020.format(path=tmp_path / "absent.txt")
    (tmp_path / "folder.txt").mkdir()
    with pytest.raises(RecipeError, match="Data file not found"):
        read_raw_texts(tmp_path / "folder.txt")


# --- Rehearsal ---


@pytest.mark.parametrize(
    "ratio,batch_size,n",
    [(1.0, 3, 3), (0.5, 4, 2), (0.1, 4, 1), (0.01, 1, 1), (2.0, 3, 6), (0.25, 10, 2), (0.3, 10, 3)],
)
def test_rehearsal_draws_ratio_times_the_batch_size_at_least_one(ratio, batch_size, n):
    examples = list(range(5))
    drawn = Rehearsal(examples, ratio, seed=1)(batch_size)
    rng = random.Random(1)
    assert drawn == [examples[rng.randrange(5)] for _ in range(n)]


def test_rehearsal_draws_nothing_without_ratio_or_examples():
    assert Rehearsal([1, 2], 0.0, seed=0)(8) == []
    assert Rehearsal([1, 2], -1.0, seed=0)(8) == []
    assert Rehearsal([], 1.0, seed=0)(8) == []
    assert Rehearsal([7], 1.0, seed=0)(3) == [7, 7, 7]


def test_rehearsal_is_seeded_and_draws_every_example():
    examples = list(range(10))
    first, again, other = (
        Rehearsal(examples, 1.0, seed=4),
        Rehearsal(examples, 1.0, seed=4),
        Rehearsal(examples, 1.0, seed=5),
    )
    draws = [first(50) for _ in range(4)]
    assert draws == [again(50) for _ in range(4)]
    assert draws != [other(50) for _ in range(4)]
    assert set().union(*draws) == set(examples)
    assert draws[0] != draws[1], "the generator goes on between batches"
    assert first.distill is False and Rehearsal(examples, 1.0, seed=4, distill=True).distill is True


# --- rehearsal_examples ---


TEXTS = ["Apple opened a store in Paris", "Tim likes New York", "nothing here"]


def test_rehearsal_examples_are_the_teachers_entities_with_the_rest_outside_or_missing():
    teacher = _ruler("ner", [("ORG", "Apple"), ("GPE", "Paris"), ("GPE", "New York")])
    # A component not rehearsed does not run: its entities would be taken.
    _ruler("other", [("PERSON", "Tim"), ("PERSON", "store")], nlp=teacher)
    nlp = spacy.blank("en")
    expected = [[(0, 1, "ORG"), (5, 6, "GPE")], [(2, 4, "GPE")], []]
    for unannotated, outside in (("outside", "O"), ("missing", "")):
        examples = rehearsal_examples(teacher, nlp, TEXTS, ["ner"], unannotated=unannotated)
        assert [_ents(eg.reference) for eg in examples] == expected
        iob = [[t.ent_iob_ for t in eg.reference] for eg in examples]
        assert iob == [["B", outside, outside, outside, outside, "B"], [outside, outside, "B", "I"], [outside] * 2]
        for eg, text in zip(examples, TEXTS, strict=True):
            assert eg.predicted.text == eg.reference.text == text
            assert eg.predicted.vocab is nlp.vocab and not eg.predicted.has_annotation("ENT_IOB")
    assert [t.ent_iob_ for t in rehearsal_examples(teacher, nlp, TEXTS[:1], ["ner"])[0].reference][1] == "O"


def test_rehearsal_examples_run_the_tok2vec_the_component_listens_to(base):
    teacher, nlp = spacy.load(base), spacy.load(base)
    texts = [text for text, _, _ in SENTENCES]
    examples = rehearsal_examples(teacher, nlp, texts, ["ner"])
    assert [_ents(eg.reference) for eg in examples] == [ents for _, _, ents in SENTENCES]
    # The tagger is not rehearsed: it did not run.
    assert not any(eg.reference.has_annotation("TAG") for eg in examples)
    assert teacher.disabled == []


@pytest.mark.parametrize(
    "factory,biases,cats",
    [
        # softmax(0.1, 0.5, 0.4) = (0.27, 0.40, 0.33): the best category only, though under 0.5
        ("textcat", [0.1, 0.5, 0.4], {"A": 0.0, "B": 1.0, "C": 0.0}),
        ("textcat", [0.9, 0.5, 0.4], {"A": 1.0, "B": 0.0, "C": 0.0}),
        # logistic(0, 1, -1) = (0.5, 0.73, 0.27): every category at 0.5 or more
        ("textcat_multilabel", [0.0, 1.0, -1.0], {"A": 1.0, "B": 1.0, "C": 0.0}),
        ("textcat_multilabel", [-0.01, -2.0, 3.0], {"A": 0.0, "B": 0.0, "C": 1.0}),
    ],
)
def test_rehearsal_examples_of_text_classifiers_are_decided(factory, biases, cats):
    teacher = _textcat(factory, biases)
    examples = rehearsal_examples(teacher, spacy.blank("en"), ["some text", "more"], [factory])
    assert [eg.reference.cats for eg in examples] == [cats, cats]
    assert all(eg.predicted.cats == {} for eg in examples)


# --- fill_in ---


def test_fill_in_adds_the_teachers_entities_of_labels_the_new_data_lacks():
    teacher = _ruler("ner", [("DATE", "Yesterday"), ("PERSON", "Tim Cook"), ("ORG", "Apple"), ("GPE", "Paris"),
                             ("ORG", "Hilton"), ("DATE", "today")])  # fmt: skip
    nlp = spacy.blank("en")
    examples = _examples(
        nlp,
        # DATE and ORG are not in the new data: added, also right beside a gold entity.
        _doc(nlp.vocab, "Yesterday Tim Cook visited Apple today", [(1, 3, "PERSON")]),
        # ORG "Hilton" overlaps the gold PERSON: not added; GPE is in the new data: never added.
        _doc(nlp.vocab, "Paris Hilton flew to Paris", [(0, 2, "PERSON"), (4, 5, "GPE")]),
        _doc(nlp.vocab, "Apple opened in Paris"),
    )
    filled = list(fill_in(teacher, examples, ["ner"], {"ner": "ner"}))
    assert [_ents(eg.reference) for eg in filled] == [
        [(0, 1, "DATE"), (1, 3, "PERSON"), (4, 5, "ORG"), (5, 6, "DATE")],
        [(0, 2, "PERSON"), (4, 5, "GPE")],
        [(0, 1, "ORG")],
    ]
    assert filled == examples and filled[0] is examples[0]
    assert not any(eg.predicted.ents for eg in filled)


def test_fill_in_gives_multilabel_categories_the_new_data_lacks_and_keeps_the_others():
    # logistic(-1, 0, 2) = (0.27, 0.5, 0.88)
    teacher = _textcat("textcat_multilabel", [-1.0, 0.0, 2.0], labels=("joy", "anger", "thanks"))
    nlp = spacy.blank("en")
    given = nlp.make_doc("what a game")
    given.cats = {"joy": 1.0, "anger": 0.0, "sport": 1.0}
    examples = _examples(nlp, given, nlp.make_doc("no categories"))
    filled = list(fill_in(teacher, examples, ["textcat_multilabel"], {"textcat_multilabel": "textcat_multilabel"}))
    assert filled[0].reference.cats == {"joy": 1.0, "anger": 0.0, "sport": 1.0, "thanks": 1.0}
    assert filled[1].reference.cats == {}
    given = nlp.make_doc("what a game")
    given.cats = {"sport": 0.0}
    (eg,) = fill_in(
        teacher, _examples(nlp, given), ["textcat_multilabel"], {"textcat_multilabel": "textcat_multilabel"}
    )
    assert eg.reference.cats == {"sport": 0.0, "joy": 0.0, "anger": 1.0, "thanks": 1.0}


def test_fill_in_leaves_exclusive_categories_alone():
    teacher = _textcat("textcat", [0.0, 3.0, 0.0])
    nlp = spacy.blank("en")
    doc = nlp.make_doc("a text")
    doc.cats = {"D": 1.0}
    (eg,) = fill_in(teacher, _examples(nlp, doc), ["textcat"], {"textcat": "textcat"})
    assert eg.reference.cats == {"D": 1.0}


# --- rehearsed_components ---


def test_rehearsed_components_are_the_trained_ones_the_base_has_of_the_same_factory():
    nlp = spacy.blank("en")
    for name in ("tagger", "ner", "textcat"):
        nlp.add_pipe(name)
    nlp.add_pipe("entity_ruler", name="ruler")
    nlp.add_pipe("parser")
    nlp.config["training"]["frozen_components"] = ["textcat"]
    teacher = spacy.blank("en")
    teacher.add_pipe("tagger")
    teacher.add_pipe("entity_ruler", name="ner")  # another factory
    teacher.add_pipe("textcat")  # frozen in nlp
    teacher.add_pipe("entity_ruler", name="ruler")  # not trainable
    assert rehearsed_components(nlp, teacher) == ["tagger"]
    teacher = spacy.blank("en")
    for name in ("parser", "ner", "tagger"):
        teacher.add_pipe(name)
    assert rehearsed_components(nlp, teacher) == ["tagger", "ner", "parser"]
    nlp.config["training"]["frozen_components"] = ["tagger", "parser"]
    assert rehearsed_components(nlp, teacher) == ["ner"]
    # A function component (no is_trainable at all) in both is not one that learns.
    nlp.add_pipe("merge_entities")
    teacher.add_pipe("merge_entities")
    assert rehearsed_components(nlp, teacher) == ["ner"]


# --- start_rehearsal (setup_rehearsal), set_tutors, fill_in_copy ---

# The new data: PERSON (known to the base) and PRODUCT (new). The base adds ORG and GPE where they overlap nothing.
NEW = [("Tim Cook visited Apple in Paris", [(0, 2, "PERSON")]), ("Apple hired Tim in London", [(0, 1, "PRODUCT")])]
FILLED = [[(0, 2, "PERSON"), (3, 4, "ORG"), (5, 6, "GPE")], [(0, 1, "PRODUCT"), (4, 5, "GPE")]]


def _finetune(base, new=NEW, **overrides):
    """The pipeline fine-tuned from the base (its ner updated in place) and its training data."""
    nlp, transfer = pipeline_from_base(_recipe(["ner"], base, **overrides), base)
    examples = [Example(nlp.make_doc(text), _doc(nlp.vocab, text, ents)) for text, ents in new]
    add_new_labels(nlp, transfer, examples)
    entities = Counter(ent.label_ for eg in examples for ent in eg.reference.ents)
    # As the data summary has it: a label layer the data does not use is not there.
    labels = {"entities": entities} if entities else {}
    data = TrainingData(train=lambda: examples, dev=[], train_summary=DataSummary(labels=labels),
                        dev_summary=DataSummary(), train_path="new.spacy", dev_path="dev.spacy", heldout=False,
                        shuffle_buffer=100)  # fmt: skip
    return nlp, data, examples


# The line said when the base model names no training data (the unit tests' bases are trained here, from memory).
NONE_NAMED = (
    "rehearsal: the base model records no training files and its config names none: the training texts are "
    "rehearsed instead; texts of the base model's own domain (--rehearse RAW) keep more of what it knew: it finds "
    "fewer of its labels in texts of another domain"
)


def _T(seed=3, **settings):
    """What start_rehearsal gets of the resolved [training]: the rehearsal settings filled in by their schema."""
    return {"rehearsal": RehearsalSchema(enabled=True, **settings).model_dump(), "seed": seed}


def test_rehearsal_needs_a_base_model(base):
    nlp, data, _ = _finetune(base)
    nlp.config["paths"]["base_model"] = None
    with pytest.raises(RecipeError) as info:
        start_rehearsal(nlp, _T(), data)
    assert str(info.value) == Errors.E068


def test_nothing_to_rehearse_when_no_trained_component_comes_from_the_base(base):
    nlp, _ = pipeline_from_base(_recipe(["morphologizer"], base), base)
    examples = [Example(nlp.make_doc("a b"), nlp.make_doc("a b"))]
    data = TrainingData(train=lambda: examples, dev=[], train_summary=DataSummary(), dev_summary=DataSummary(),
                        train_path="", dev_path="", heldout=False, shuffle_buffer=100)  # fmt: skip
    train = data.train
    data = start_rehearsal(nlp, _T(), data)
    assert list(data.notes) == ["rehearsal: no trained component comes from the base model; nothing to rehearse"]
    assert data.rehearsal is None and data.train is train and data.shuffle_buffer == 100


def test_rehearsal_on_the_filled_in_training_texts_by_default(base):
    nlp, data, examples = _finetune(base)
    data = start_rehearsal(nlp, _T(seed=None), data)
    assert data.train() is data.train() and data.shuffle_buffer == 0
    assert [_ents(eg.reference) for eg in data.train()] == FILLED
    assert data.train() == examples
    assert list(data.notes) == [
        "fill-in: the base model added 3 entities of the types the new data lacks",
        NONE_NAMED,
        "rehearsal: 2 examples (the training texts, with the base model's annotation filled in) for ner; "
        "1 per new example in each batch",
    ]
    assert nlp.meta["rehearsal"] == {"texts": "training"} and data.warnings == ()
    assert data.rehearsal.examples is data.train() and data.rehearsal.distill is False
    assert data.rehearsal.ratio == 1.0
    assert data.rehearsal(8) == Rehearsal(data.train(), 1.0, seed=0)(8)


def test_fill_in_counts_every_entity_it_adds_to_data_without_entities(base):
    nlp, data, _ = _finetune(base, new=[(text, []) for text, _ in NEW])
    data = start_rehearsal(nlp, _T(), data)
    assert [_ents(eg.reference) for eg in data.train()] == [ents for text, _, ents in SENTENCES[:2]]
    assert data.notes[0] == "fill-in: the base model added 6 entities of the types the new data lacks"


def test_rehearsal_names_every_rehearsed_component(base):
    nlp, transfer = pipeline_from_base(_recipe(["tagger", "ner"], base), base)
    examples = [Example(nlp.make_doc(text), _doc(nlp.vocab, text, ents, tags)) for text, tags, ents in SENTENCES[:2]]
    add_new_labels(nlp, transfer, examples)
    data = TrainingData(train=lambda: examples, dev=[], train_summary=DataSummary(), dev_summary=DataSummary(),
                        train_path="", dev_path="", heldout=False, shuffle_buffer=100)  # fmt: skip
    data = start_rehearsal(nlp, _T(fill_in=False), data)
    assert list(data.notes) == [
        NONE_NAMED,
        "rehearsal: 2 examples (the training texts, with the base model's annotation filled in) for tok2vec, tagger, "
        "ner; 1 per new example in each batch",
    ]


def test_rehearsal_without_fill_in_leaves_the_training_data_alone(base):
    nlp, data, examples = _finetune(base)
    train = data.train
    data = start_rehearsal(nlp, _T(fill_in=False, ratio=0.5), data)
    assert data.train is train and data.shuffle_buffer == 100
    assert [_ents(eg.reference) for eg in examples] == [ents for _, ents in NEW]
    assert [_ents(eg.reference) for eg in data.rehearsal.examples] == FILLED
    assert not any(eg in examples for eg in data.rehearsal.examples)
    assert list(data.notes) == [
        NONE_NAMED,
        "rehearsal: 2 examples (the training texts, with the base model's annotation filled in) for ner; "
        "0.5 per new example in each batch",
    ]
    assert data.rehearsal(8) == Rehearsal(data.rehearsal.examples, 0.5, seed=3)(8)


@pytest.mark.parametrize("unannotated,outside", [(None, "O"), ("outside", "O"), ("missing", "")])
def test_rehearsal_on_raw_texts_annotated_by_the_base(base, tmp_path, unannotated, outside):
    raw = tmp_path / "raw.txt"
    raw.write_text("Sara works for Google\n\nthe office is big\n", encoding="utf8")
    nlp, data, _ = _finetune(base)
    settings = {"raw": str(raw), "ratio": 2.0} | ({"unannotated": unannotated} if unannotated else {})
    data = start_rehearsal(nlp, _T(**settings), data)
    examples = data.rehearsal.examples
    assert [eg.reference.text for eg in examples] == ["Sara works for Google", "the office is big"]
    assert [_ents(eg.reference) for eg in examples] == [[(0, 1, "PERSON"), (3, 4, "ORG")], []]
    assert [t.ent_iob_ for t in examples[1].reference] == [outside] * 4
    assert data.rehearsal.ratio == 2.0 and data.rehearsal.distill is False
    # Fill-in (on by default) still annotates the training examples.
    assert [_ents(eg.reference) for eg in data.train()] == FILLED and data.shuffle_buffer == 0
    assert (
        data.notes[-1]
        == f"rehearsal: 2 examples ({raw}, annotated by the base model) for ner; 2 per new example in each batch"
    )


def test_distill_rehearsal_sets_tutors_and_draws_raw_texts(base, tmp_path):
    raw = tmp_path / "raw.jsonl"
    raw.write_text('{"text": "Sara works for Google"}\n{"text": "Tim Cook visited Apple in Paris"}\n', encoding="utf8")
    nlp, data, _ = _finetune(base)
    ner = nlp.get_pipe("ner")
    assert ner._rehearsal_model is None
    data = start_rehearsal(nlp, _T(mode="distill", raw=str(raw), fill_in=False, ratio=0.5), data)
    assert ner._rehearsal_model is not None and ner._rehearsal_model is not ner.model
    assert data.rehearsal.distill is True and data.rehearsal.ratio == 0.5
    examples = data.rehearsal.examples
    assert [eg.reference.text for eg in examples] == ["Sara works for Google", "Tim Cook visited Apple in Paris"]
    assert not any(eg.reference.ents for eg in examples)
    assert data.rehearsal(4) == Rehearsal(examples, 0.5, seed=3)(4)
    assert list(data.notes) == [
        f"rehearsal (distill): 2 raw texts ({raw}); 0.5 per new example, in an nlp.rehearse() step after each update"
    ]
    # Without raw texts: the training texts (filled in first); without a seed, drawn as with seed 0.
    nlp, data, _ = _finetune(base)
    data = start_rehearsal(nlp, _T(seed=None, mode="distill"), data)
    assert [eg.reference.text for eg in data.rehearsal.examples] == [text for text, _ in NEW]
    assert data.rehearsal(8) == Rehearsal(data.rehearsal.examples, 1.0, seed=0)(8)
    assert [_ents(eg.reference) for eg in data.train()] == FILLED
    assert data.notes[-1] == (
        "rehearsal (distill): 2 raw texts (the training texts); 1 per new example, in an nlp.rehearse() step after "
        "each update"
    )


@pytest.mark.parametrize(
    "settings,details",
    [({"mode": "both"}, "training.rehearsal.mode: Input should be 'targets' or 'distill'"),
     ({"unannotated": "none"}, "training.rehearsal.unannotated: Input should be 'outside' or 'missing'")],
)  # fmt: skip
def test_unknown_rehearsal_mode_or_unannotated_setting_is_refused(settings, details):
    """Checked by [training.rehearsal]'s schema, before anything is annotated."""
    with pytest.raises(RecipeError) as info:
        rehearsal_settings({"rehearsal": settings})
    assert str(info.value) == Errors.E012.format(where="[training.rehearsal]", details=details)


def test_tutor_is_the_base_component_with_its_own_tok2vec_and_the_new_labels(base):
    nlp, _, _ = _finetune(base)
    original = spacy.load(base)
    nlp.add_pipe("entity_ruler", name="ruler")
    ner, tagger = nlp.get_pipe("ner"), nlp.get_pipe("tagger")
    set_tutors(nlp, ["ruler", "ner", "tagger"], str(base))
    tutor = ner._rehearsal_model
    assert tutor is not None and tutor is not ner.model
    assert not _listens(tutor)
    # Sized for the new label PRODUCT, as the trained ner is, unlike the base's.
    upper = tutor.get_ref("upper").get_dim("nO")
    assert (
        upper
        == ner.model.get_ref("upper").get_dim("nO")
        > original.get_pipe("ner").model.get_ref("upper").get_dim("nO")
    )
    # The base's weights: the lower layer and the tok2vec copy.
    assert numpy.array_equal(
        tutor.get_ref("lower").get_param("W"), original.get_pipe("ner").model.get_ref("lower").get_param("W")
    )
    embed = [node for node in tutor.walk() if node.name == "hashembed"][0]
    base_embed = [node for node in original.get_pipe("tok2vec").model.walk() if node.name == "hashembed"][0]
    assert numpy.array_equal(embed.get_param("E"), base_embed.get_param("E"))
    assert tagger._rehearsal_model is not None and not _listens(tagger._rehearsal_model)


def test_fill_in_copy_leaves_the_training_data_as_it_is(base):
    nlp, data, examples = _finetune(base)
    teacher = spacy.load(base)
    copies = fill_in_copy(teacher, data.train(), ["ner"], {"ner": "ner"})
    assert [_ents(eg.reference) for eg in copies] == FILLED
    assert [eg.reference.text for eg in copies] == [eg.predicted.text for eg in copies] == [text for text, _ in NEW]
    assert [_ents(eg.reference) for eg in data.train()] == [ents for _, ents in NEW]
    assert all(copy.reference is not eg.reference for copy, eg in zip(copies, examples, strict=True))


def test_fill_in_leaves_tokens_the_new_data_did_not_annotate_unannotated():
    """Partly annotated data: the teacher's entities are added, and the tokens nobody annotated stay missing
    (they would otherwise teach that they are not entities)."""
    teacher = _ruler("ner", [("ORG", "Apple")])
    nlp = spacy.blank("en")
    gold = Doc(nlp.vocab, words=["Tim", "left", "Apple", "in", "May"], ents=["B-PERSON", "O", "", "", ""])
    [filled] = fill_in(teacher, _examples(nlp, gold), ["ner"], {"ner": "ner"})
    assert _ents(filled.reference) == [(0, 1, "PERSON"), (2, 3, "ORG")]
    assert [t.ent_iob_ for t in filled.reference] == ["B", "O", "B", "", ""]


def test_own_tok2vec_for_several_updated_components_saves_and_loads(base, tmp_path):
    """Both components that listened to the removed tok2vec get its settings as values, not only the last."""
    nlp, transfer = pipeline_from_base(_recipe(["tagger", "ner"], base), base, own_tok2vec=True)
    assert transfer.own_tok2vec == ["tagger", "ner"] and "tok2vec" not in nlp.pipe_names
    assert "${" not in str(nlp.config["components"])
    nlp.to_disk(tmp_path / "out")
    loaded = spacy.load(tmp_path / "out")
    assert loaded.pipe_names == ["tagger", "ner"]
    assert [_ents(loaded(text)) for text, _, _ in SENTENCES] == [ents for _, _, ents in SENTENCES]


def test_a_morphologizer_updated_in_place_takes_its_own_data():
    """The labels read from the data are named as the morphologizer names them (features and POS)."""
    nlp = spacy.blank("en")
    nlp.add_pipe("morphologizer")
    words, pos = ["Dogs", "run", "."], ["NOUN", "VERB", "PUNCT"]
    gold = Doc(nlp.vocab, words=words, pos=pos, morphs=["Number=Plur", "Tense=Pres|VerbForm=Fin", ""])
    nlp.initialize(lambda: _examples(nlp, gold))
    transfer = Transfer(base="b", updated=["morphologizer"])
    assert add_new_labels(nlp, transfer, _examples(nlp, gold)) == {}
    new = Doc(nlp.vocab, words=["Cats", "sleep"], pos=["NOUN", "VERB"], morphs=["Number=Plur", "Mood=Ind"])
    with pytest.raises(RecipeError, match="E067.*Mood=Ind\\|POS=VERB"):
        add_new_labels(nlp, transfer, _examples(nlp, new))


# --- rehearsal on the base model's own training texts (base_texts.py) ---


def _conll(sentences):
    """SENTENCES as a token-per-line file (token, tab, BIO tag; a blank line between sentences), as WNUT17 is."""
    lines = []
    for text, _, ents in sentences:
        tags = ["O"] * len(text.split())
        for start, end, label in ents:
            tags[start:end] = [f"B-{label}"] + [f"I-{label}"] * (end - start - 1)
        lines.extend(f"{word}\t{tag}" for word, tag in zip(text.split(), tags, strict=True))
        lines.append("")
    return "\n".join(lines) + "\n"


def _base_with_data(base, folder, *, how="recorded", path="train.conll"):
    """The base pipeline saved in folder/training/model-best with its training data (SENTENCES) in folder/data:
    recorded in its meta.json as a recipe-train run records it ("recorded"), named by its config only, relative to
    where it was trained ("config"), or a .spacy file named by spaCy's own corpus reader ("spacy")."""
    from spacy.tokens import DocBin

    from recipe_cli.data.sources import file_records

    nlp = spacy.load(base)
    data = folder / "data" / path
    data.parent.mkdir(parents=True)
    if how == "spacy":
        docs = [_doc(nlp.vocab, text, ents, tags) for text, tags, ents in SENTENCES]
        DocBin(docs=docs).to_disk(data)
        for part in ("train", "dev"):
            nlp.config["corpora"][part] = {"@readers": "spacy.Corpus.v1", "path": "${paths." + part + "}",
                                           "max_length": 0, "gold_preproc": False, "limit": 0, "augmenter": None}  # fmt: skip
    else:
        data.write_text(_conll(SENTENCES), encoding="utf8")
    if how == "recorded":
        nlp.config["paths"]["train"] = str(data)
        nlp.meta["sources"] = [{"name": "a corpus", "url": "https://example.org"}, *file_records([data])]
    else:
        nlp.config["paths"]["train"] = f"data/{path}"
    model = folder / "training" / "model-best"
    model.parent.mkdir()
    nlp.to_disk(model)
    return model, data


BASE_TEXTS = [text for text, _, _ in SENTENCES]


@pytest.mark.parametrize("how", ["recorded", "config", "spacy"])
def test_rehearsal_without_raw_draws_the_base_models_own_training_texts(base, tmp_path, how):
    path = "train.spacy" if how == "spacy" else "train.conll"
    model, data = _base_with_data(base, tmp_path, how=how, path=path)
    nlp, training, _ = _finetune(model)
    training = start_rehearsal(nlp, _T(), training)
    examples = training.rehearsal.examples
    assert [eg.reference.text for eg in examples] == BASE_TEXTS
    # Annotated by the base model (which knows these sentences by heart), not read from the file.
    assert [_ents(eg.reference) for eg in examples] == [ents for _, _, ents in SENTENCES]
    assert [_ents(eg.reference) for eg in training.train()] == FILLED
    assert training.notes[-1] == (
        f"rehearsal: 5 examples (all 5 texts of the base model's training data, {data}, annotated by the base "
        "model) for ner; 1 per new example in each batch"
    )
    assert training.warnings == ()
    from recipe_cli.data.sources import file_record

    assert nlp.meta["rehearsal"] == {"texts": "base", "files": [file_record(data)], "sample": 5000}
    # spaCy's rehearse() step (distill) draws the same texts, unannotated.
    nlp, training, _ = _finetune(model)
    training = start_rehearsal(nlp, _T(mode="distill", fill_in=False), training)
    assert [eg.reference.text for eg in training.rehearsal.examples] == BASE_TEXTS and training.rehearsal.distill
    assert training.notes[-1] == (
        f"rehearsal (distill): 5 raw texts (all 5 texts of the base model's training data, {data}); 1 per new "
        "example, in an nlp.rehearse() step after each update"
    )


def test_the_sample_of_the_base_texts_is_seeded_and_in_file_order(base, tmp_path):
    model, data = _base_with_data(base, tmp_path)
    drawn = {}
    for seed in range(8):
        nlp, training, _ = _finetune(model)
        training = start_rehearsal(nlp, _T(seed=seed, base_sample=2), training)
        drawn[seed] = [eg.reference.text for eg in training.rehearsal.examples]
        assert len(drawn[seed]) == 2 and drawn[seed] == sorted(drawn[seed], key=BASE_TEXTS.index)
        assert f"2 of the 5 texts of the base model's training data, {data}" in training.notes[-1]
    nlp, training, _ = _finetune(model)
    again = start_rehearsal(nlp, _T(seed=3, base_sample=2), training)
    assert [eg.reference.text for eg in again.rehearsal.examples] == drawn[3]
    assert len({tuple(texts) for texts in drawn.values()}) > 1


def test_reservoir_sample_is_uniform():
    """Each of 10 texts is kept in a sample of 3 with probability 0.3. Over 2,000 seeds its share has sd
    sqrt(0.3 * 0.7 / 2000) = 0.0102: a share off by more than 0.05 (about 5 sd) fails. Keeping the first 3, or the
    last, gives shares of 0 and 1."""
    from recipe_cli.training.base_texts import reservoir_sample

    texts = [f"text {i}" for i in range(10)]
    counts = Counter()
    for seed in range(2000):
        sample, total = reservoir_sample(iter([*texts[:4], " ", *texts[4:]]), 3, seed)
        assert total == 10 and len(sample) == 3 and sample == sorted(sample, key=texts.index)
        counts.update(sample)
    assert all(abs(counts[text] / 2000 - 0.3) < 0.05 for text in texts), counts
    assert reservoir_sample(iter(texts), 20, 0) == (texts, 10)


@pytest.mark.parametrize("change", ["edited", "same size", "moved"])
def test_a_recorded_training_file_that_changed_is_not_rehearsed(base, tmp_path, change):
    model, data = _base_with_data(base, tmp_path)
    size = data.stat().st_size
    if change == "edited":
        data.write_text(_conll(SENTENCES[:3]), encoding="utf8")
        why = f"{data} has changed ({data.stat().st_size:,} bytes, {size:,} when recorded)"
    elif change == "same size":
        data.write_text(data.read_text(encoding="utf8").replace("Tim", "Tom"), encoding="utf8")
        why = f"{data} has changed (same size, other bytes: its SHA-256 differs)"
    else:
        data.rename(tmp_path / "elsewhere.conll")
        why = f"{data} is no longer there"
    nlp, training, _ = _finetune(model)
    training = start_rehearsal(nlp, _T(), training)
    assert training.warnings == (
        f"rehearsal: the base model's training file {why}: the training texts are rehearsed instead; texts of the "
        "base model's own domain (--rehearse RAW) keep more of what it knew: it finds fewer of its labels in texts of "
        "another domain",
    )
    assert not any(why in note for note in training.notes)
    assert [eg.reference.text for eg in training.rehearsal.examples] == [text for text, _ in NEW]
    assert nlp.meta["rehearsal"] == {"texts": "training"}


def test_training_texts_named_by_the_config_but_not_found_or_not_readable(base, tmp_path):
    model, data = _base_with_data(base, tmp_path, how="config")
    data.unlink()
    nlp, training, _ = _finetune(model)
    training = start_rehearsal(nlp, _T(), training)
    assert training.notes[1].startswith(
        "rehearsal: the base model's config names data/train.conll as its training data, which is not found here: "
        "the training texts are rehearsed instead;"
    )
    assert training.warnings == ()
    data.write_text("not\ta\tconll\tfile\n", encoding="utf8")
    nlp, training, _ = _finetune(model)
    training = start_rehearsal(nlp, _T(), training)
    assert training.notes[1].startswith("rehearsal: the base model's training data cannot be read: ")
    assert [eg.reference.text for eg in training.rehearsal.examples] == [text for text, _ in NEW]


def test_base_sample_0_rehearses_the_training_texts(base, tmp_path):
    model, _ = _base_with_data(base, tmp_path)
    nlp, training, _ = _finetune(model)
    training = start_rehearsal(nlp, _T(base_sample=0), training)
    assert [eg.reference.text for eg in training.rehearsal.examples] == [text for text, _ in NEW]
    assert not any("instead" in note for note in training.notes) and training.warnings == ()


def test_a_resumed_run_rehearses_what_its_record_says(base, tmp_path):
    model, data = _base_with_data(base, tmp_path)
    nlp, training, _ = _finetune(model)
    fresh = start_rehearsal(nlp, _T(base_sample=3), training)
    record = nlp.meta["rehearsal"]
    texts = [eg.reference.text for eg in fresh.rehearsal.examples]
    # The same sample from the recorded files, even where the base's own record now says otherwise.
    base_nlp = spacy.load(model)
    base_nlp.meta["sources"] = []
    base_nlp.to_disk(model)
    nlp, training, _ = _finetune(model)
    resumed = start_rehearsal(nlp, _T(base_sample=3), training, recorded=record)
    assert [eg.reference.text for eg in resumed.rehearsal.examples] == texts and resumed.warnings == ()
    assert [eg.reference.text for eg in resumed.rehearsal(8)] == [eg.reference.text for eg in fresh.rehearsal(8)]
    # A run that rehearsed the training texts (or predates the record) goes on doing so.
    for recorded in ({"texts": "training"}, {}):
        nlp, training, _ = _finetune(model)
        resumed = start_rehearsal(nlp, _T(), training, recorded=recorded)
        assert [eg.reference.text for eg in resumed.rehearsal.examples] == [text for text, _ in NEW]
        assert nlp.meta["rehearsal"] == {"texts": "training"}
    # The recorded files changed since: a warning, and the training texts.
    data.write_text(_conll(SENTENCES[:2]), encoding="utf8")
    nlp, training, _ = _finetune(model)
    resumed = start_rehearsal(nlp, _T(), training, recorded=record)
    assert resumed.warnings == (
        f"rehearsal: the base model's training file {data} has changed ({data.stat().st_size:,} bytes, "
        f"{int(record['files'][0]['bytes']):,} when recorded); this resumed run rehearses the training texts from "
        "here on",
    )
    assert [eg.reference.text for eg in resumed.rehearsal.examples] == [text for text, _ in NEW]


def test_a_run_records_its_training_files_beside_the_base_models_named_sources(tmp_path):
    """meta.json "sources": this run's files (path, size, SHA-256), after the base's published corpora, which
    stay, as records when the base gave bare names; the base's own file records go (its data is not this run's).
    The result is valid for spaCy's meta schema (`spacy package` checks it)."""
    from spacy.schemas import ModelMetaSchema, validate

    from recipe_cli.data.sources import file_record
    from recipe_cli.training.train import record_sources

    data = tmp_path / "train.conll"
    data.write_text(_conll(SENTENCES), encoding="utf8")
    old = tmp_path / "old.conll"
    old.write_text(_conll(SENTENCES[:1]), encoding="utf8")
    nlp = spacy.blank("en")
    nlp.meta["sources"] = ["OntoNotes 5", file_record(old)]
    record_sources(nlp, [data])
    digest = __import__("hashlib").sha256(data.read_bytes()).hexdigest()
    assert nlp.meta["sources"] == [
        {"name": "OntoNotes 5"},
        {"name": "train.conll", "path": str(data.resolve()), "bytes": str(data.stat().st_size), "sha256": digest},
    ]
    assert validate(ModelMetaSchema, nlp.meta) == []
    nlp.meta["sources"] = [{"name": "OntoNotes 5", "url": "https://catalog.ldc.upenn.edu/LDC2013T19"}]
    record_sources(nlp, [])
    assert nlp.meta["sources"] == [{"name": "OntoNotes 5", "url": "https://catalog.ldc.upenn.edu/LDC2013T19"}]
