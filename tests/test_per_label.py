"""recipe-eval's per-label tables, on examples built by hand so that every number can be read off them."""

import pytest
from spacy.scorer import Scorer
from spacy.tokens import Doc, Span
from spacy.training import Example

from recipe_cli.evaluation.per_label import per_label_tables


def _ner_examples(nlp):
    words = ["Anna", "met", "Bob", "in", "Paris", "and", "Rome", "at", "Acme"]
    gold = Doc(nlp.vocab, words=words)
    gold.ents = [Span(gold, 0, 1, "PER"), Span(gold, 2, 3, "PER"), Span(gold, 4, 5, "LOC"), Span(gold, 6, 7, "LOC")]
    gold.ents = [*gold.ents, Span(gold, 8, 9, "ORG")]
    predicted = Doc(nlp.vocab, words=words)
    # Anna right, Bob missed, Paris called a person, Rome right, Acme missed; a second doc adds one more LOC.
    predicted.ents = [Span(predicted, 0, 1, "PER"), Span(predicted, 4, 5, "PER"), Span(predicted, 6, 7, "LOC")]
    gold2 = Doc(nlp.vocab, words=["Oslo"])
    gold2.ents = [Span(gold2, 0, 1, "LOC")]
    return [Example(predicted, gold), Example(Doc(nlp.vocab, words=["Oslo"]), gold2)]


def test_entity_table_rows_are_spacys_per_type_scores_with_gold_counts(nlp):
    examples = _ner_examples(nlp)
    scores = Scorer.score_spans(examples, "ents")
    tables = per_label_tables(scores, examples)
    assert list(tables) == ["ents"]
    table = tables["ents"]
    # Most frequent gold label first, then by name: LOC 3, PER 2, ORG 1.
    assert list(table) == ["LOC", "PER", "ORG"]
    assert table["LOC"] == {**scores["ents_per_type"]["LOC"], "support": 3}
    assert table["PER"]["p"] == pytest.approx(0.5) and table["PER"]["r"] == pytest.approx(0.5)
    assert table["LOC"]["p"] == pytest.approx(1.0) and table["LOC"]["r"] == pytest.approx(1 / 3)
    # A gold label the model never predicted and spaCy did not score still gets a row, with zeros.
    assert table["ORG"] == {"p": 0.0, "r": 0.0, "f": 0.0, "support": 1}


def test_a_label_spacy_scored_but_the_data_lacks_has_support_zero(nlp):
    examples = _ner_examples(nlp)
    zero = {"p": 0.0, "r": 0.0, "f": 0.0}
    scores = {"ents_per_type": {"PER": {"p": 0.5, "r": 0.5, "f": 0.5}, "MISC": zero, "BRAND": zero}}
    table = per_label_tables(scores, examples)["ents"]
    assert table["MISC"]["support"] == 0 and table["PER"] == {"p": 0.5, "r": 0.5, "f": 0.5, "support": 2}
    assert list(table)[-1] == "MISC"
    # Equal counts are ordered by name (BRAND, given after MISC, comes before it).
    assert [label for label, row in table.items() if row["support"] == 0] == ["BRAND", "MISC"]


def test_category_table_counts_positive_gold_values_and_adds_auc(nlp):
    examples = []
    for gold_cats, predicted_cats in [
        ({"POS": 1.0, "NEG": 0.0}, {"POS": 0.9, "NEG": 0.1}),
        ({"POS": 1.0, "NEG": 0.0}, {"POS": 0.2, "NEG": 0.8}),
        ({"POS": 0.0, "NEG": 1.0}, {"POS": 0.3, "NEG": 0.7}),
        ({"POS": 0.5, "NEG": 0.5}, {"POS": 0.6, "NEG": 0.4}),
    ]:
        gold, predicted = Doc(nlp.vocab, words=["text"]), Doc(nlp.vocab, words=["text"])
        gold.cats, predicted.cats = gold_cats, predicted_cats
        examples.append(Example(predicted, gold))
    scores = Scorer.score_cats(examples, "cats", labels=["POS", "NEG"], multi_label=True)
    scores["cats_auc_per_type"] = {"POS": 0.75, "NEG": 1.0, "OTHER": 0.5}
    table = per_label_tables(scores, examples)["cats"]
    # 0.5 counts as positive (spaCy's threshold is >= 0.5): POS 3, NEG 2.
    assert table["POS"]["support"] == 3 and table["NEG"]["support"] == 2
    assert table["POS"]["auc"] == 0.75 and table["NEG"]["auc"] == 1.0
    assert table["POS"]["f"] == scores["cats_f_per_type"]["POS"]["f"]
    # An AUC for a label without F scores still gets a row, with its count.
    assert table["OTHER"] == {"support": 0, "auc": 0.5}


def test_accuracy_tables_count_only_tokens_aligned_one_to_one(nlp):
    gold = Doc(nlp.vocab, words=["They", "ca", "n't", "read", "books"])
    for token, tag, pos in zip(
        gold, ["PRP", "MD", "RB", "VB", "NNS"], ["PRON", "AUX", "PART", "VERB", "NOUN"], strict=True
    ):
        token.tag_, token.pos_ = tag, pos
    # The prediction tokenises "can't" as one token: it aligns to two gold tokens and counts for neither.
    predicted = Doc(nlp.vocab, words=["They", "can't", "read", "books"])
    for token, tag, pos in zip(predicted, ["PRP", "MD", "VB", "NN"], ["PRON", "AUX", "VERB", "NOUN"], strict=True):
        token.tag_, token.pos_ = tag, pos
    gold2 = Doc(nlp.vocab, words=["books", "go"])
    gold2[0].tag_, gold2[0].pos_ = "NNS", "NOUN"  # "go" has no gold tag: not counted anywhere
    predicted2 = Doc(nlp.vocab, words=["books", "go"])
    predicted2[0].tag_, predicted2[1].tag_ = "NNS", "VB"
    predicted2[0].pos_ = "NOUN"
    examples = [Example(predicted, gold), Example(predicted2, gold2)]
    tables = per_label_tables({"tag_acc": 0.5, "pos_acc": 0.5}, examples)
    assert tables["tags"] == {
        "NNS": {"acc": 0.5, "support": 2},
        "PRP": {"acc": 1.0, "support": 1},
        "MD": {"acc": 0.0, "support": 1},
        "RB": {"acc": 0.0, "support": 1},
        "VB": {"acc": 1.0, "support": 1},
    }
    assert list(tables["tags"])[0] == "NNS"
    assert tables["pos"]["NOUN"] == {"acc": 1.0, "support": 2} and tables["pos"]["AUX"]["acc"] == 0.0
    # No accuracy score, no table.
    assert per_label_tables({"tag_acc": None}, examples) == {}


def test_morph_and_relation_tables_count_only_what_spacy_scored(nlp):
    gold = Doc(nlp.vocab, words=["Dogs", "bark", "."], heads=[1, 1, 1], deps=["nsubj", "ROOT", "punct"])
    gold[0].set_morph("Number=Plur")
    gold[1].set_morph("Number=Plur|Tense=Pres")
    predicted = Doc(nlp.vocab, words=["Dogs", "bark", "."])
    scores = {
        "morph_per_feat": {"Number": {"p": 1.0, "r": 0.5, "f": 0.667}},
        "dep_las_per_type": {"nsubj": {"p": 1.0, "r": 1.0, "f": 1.0}, "root": {"p": 1.0, "r": 1.0, "f": 1.0}},
    }
    tables = per_label_tables(scores, [Example(predicted, gold)])
    # Tense occurs in the data but spaCy did not score it; punct is left out of spaCy's relation scores.
    assert tables["morph"] == {"Number": {"p": 1.0, "r": 0.5, "f": 0.667, "support": 2}}
    assert tables["deps"] == {
        "nsubj": {"p": 1.0, "r": 1.0, "f": 1.0, "support": 1},
        "root": {"p": 1.0, "r": 1.0, "f": 1.0, "support": 1},
    }


def test_span_tables_are_named_by_their_key(nlp):
    gold = Doc(nlp.vocab, words=["New", "York", "City"])
    gold.spans["places"] = [Span(gold, 0, 2, "CITY"), Span(gold, 0, 3, "CITY"), Span(gold, 2, 3, "THING")]
    scores = {"spans_places_per_type": {"CITY": {"p": 1.0, "r": 0.5, "f": 0.667}}, "spans_places_f": 0.667}
    # A second document has no "places" group at all: it adds nothing.
    examples = [Example(Doc(nlp.vocab, words=["New", "York", "City"]), gold), Example(Doc(nlp.vocab, words=["Oslo"]),
                Doc(nlp.vocab, words=["Oslo"]))]  # fmt: skip
    tables = per_label_tables(scores, examples)
    assert list(tables) == ["spans_places"]
    assert tables["spans_places"] == {
        "CITY": {"p": 1.0, "r": 0.5, "f": 0.667, "support": 2},
        "THING": {"p": 0.0, "r": 0.0, "f": 0.0, "support": 1},
    }
