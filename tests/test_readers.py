import json
import re
import warnings

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example, docs_to_json

from recipe_cli.data.corpus import RecipeCorpus, create_corpus_reader, heldout_count, split_docs
from recipe_cli.data.formats import detect_format, read_docs
from recipe_cli.errors import RecipeError, Warnings


def _count_iob(path):
    """Sentences and B- tags of a token-per-line file, counted independently of the reader."""
    sentences, entities, in_sent = 0, 0, False
    for line in path.read_text(encoding="utf8").splitlines():
        if not line.strip():
            sentences += in_sent
            in_sent = False
        else:
            in_sent = True
            entities += line.split()[-1].startswith("B-")
    return sentences + in_sent, entities


@pytest.mark.parametrize("name", ["wnut17-train.conll", "wnut17-dev.conll"])
def test_iob_sentences_and_entities(data_dir, nlp, name):
    n_sents, n_ents = _count_iob(data_dir / name)
    docs = list(read_docs(data_dir / name, nlp))
    assert len(docs) == n_sents
    assert sum(len(doc.ents) for doc in docs) == n_ents
    assert all(doc.has_unknown_spaces for doc in docs)


def test_iob_tab_only_lines_end_sentences(data_dir, nlp):
    """In WNUT17 train, sentence breaks are lines holding a single TAB: 400 sentences, not one."""
    assert (data_dir / "wnut17-train.conll").read_text().count("\n\t\n") > 300
    docs = list(read_docs(data_dir / "wnut17-train.conll", nlp))
    assert len(docs) == 400


def test_iob_tokens_and_tags_match_the_file(data_dir, nlp):
    lines = [line.split("\t") for line in (data_dir / "wnut17-dev.conll").read_text().splitlines() if line.strip()]
    docs = list(read_docs(data_dir / "wnut17-dev.conll", nlp))
    words = [t.text for doc in docs for t in doc]
    iob = [f"{t.ent_iob_}-{t.ent_type_}" if t.ent_iob_ != "O" else "O" for doc in docs for t in doc]
    assert words == [cols[0] for cols in lines]
    assert iob == [cols[-1] for cols in lines]


def test_iob_sentences_per_doc(data_dir, nlp):
    docs = list(read_docs(data_dir / "wnut17-dev.conll", nlp, sents_per_doc=10))
    assert len(docs) == 15
    assert [len(list(doc.sents)) for doc in docs] == [10] * 15


def test_iob_biluo_spaces_docstart_and_orphans(tmp_path, nlp):
    path = tmp_path / "x.iob"
    path.write_text("-DOCSTART- O\n\nNew U-LOC\nYork B-LOC\nCity L-LOC\nis O\ngreat I-MISC\n  \nok O\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        docs = list(read_docs(path, nlp))
    assert [[(e.text, e.label_) for e in doc.ents] for doc in docs] == [
        [("New", "LOC"), ("York City", "LOC"), ("great", "MISC")],
        [],
    ]
    assert any("1 I- tag(s)" in str(w.message) for w in caught)


def test_conllu_annotations_match_the_file(data_dir, nlp):
    path = data_dir / "ewt-dev.conllu"
    rows = [
        line.split("\t")
        for line in path.read_text(encoding="utf8").splitlines()
        if line and not line.startswith("#") and line.split("\t")[0].isdigit()
    ]
    docs = list(read_docs(path, nlp))
    assert len(docs) == 150
    tokens = [t for doc in docs for t in doc]
    assert [t.text for t in tokens] == [r[1] for r in rows]
    assert [t.lemma_ for t in tokens] == [r[2] for r in rows]
    assert [t.pos_ for t in tokens] == [r[3] for r in rows]
    assert [t.tag_ for t in tokens] == [r[4] for r in rows]
    feats = [dict(f.split("=", 1) for f in r[5].split("|")) if r[5] != "_" else {} for r in rows]
    assert [t.morph.to_dict() for t in tokens] == feats
    assert [t.dep_ for t in tokens] == ["ROOT" if r[7] == "root" else r[7] for r in rows]
    assert [t.head.i - t.sent.start + 1 if t.head.i != t.i else 0 for t in tokens] == [int(r[6]) for r in rows]
    assert all(len(list(doc.sents)) == 1 for doc in docs)


def test_conllu_multiword_tokens_keep_spacing(tmp_path, nlp):
    path = tmp_path / "mwt.conllu"
    rows = [
        "1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_",
        "1\tdo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_",
        "2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_",
        "3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\tSpaceAfter=No",
        "4\t!\t!\tPUNCT\t.\t_\t3\tpunct\t_\t_",
    ]
    path.write_text("# text = don't go!\n" + "\n".join(rows) + "\n\n")
    (doc,) = read_docs(path, nlp)
    assert doc.text == "don't go! "
    assert [t.text for t in doc] == ["do", "n't", "go", "!"]


def _conllu(*sentences):
    """CoNLL-U text from sentences given as rows of space-separated columns (a `~` stands for a space in FORM)."""
    return "".join("\n".join(row.replace(" ", "\t").replace("~", " ") for row in rows) + "\n\n" for rows in sentences)


def test_conllu_spacing_from_the_first_word_a_range_and_a_range_that_ends_the_sentence(tmp_path, nlp):
    path = tmp_path / "space.conllu"
    path.write_text(
        _conllu(
            [
                "# text = Hi, I can't.",
                "1 Hi hi INTJ UH _ 4 discourse _ SpaceAfter=No",
                "2 , , PUNCT , _ 1 punct _ _",
                "3 I I PRON PRP Case=Nom|Number=Sing|Person=1|PronType=Prs 4 nsubj _ _",
                "4-5 can't _ _ _ _ _ _ _ SpaceAfter=No",
                "4 ca can AUX MD VerbForm=Fin 0 root _ _",
                "5 n't not PART RB _ 4 advmod _ _",
                "6 . . PUNCT . _ 4 punct _ _",
            ],
            [
                "1 They they PRON PRP _ 2 nsubj _ _",
                "2-3 can't _ _ _ _ _ _ _ _",
                "2 ca can AUX MD _ 0 root _ _",
                "3 n't not PART RB _ 2 advmod _ _",
            ],
            ["1 They they PRON PRP _ 2 nsubj _ _", "2 left leave VERB VBD _ 0 root _ SpaceAfter=No"],
        )
    )
    docs = list(read_docs(path, nlp))
    assert [doc.text for doc in docs] == ["Hi, I can't. ", "They can't ", "They left"]
    assert [[t.head.i for t in doc] for doc in docs] == [[3, 0, 3, 3, 3, 3], [1, 1, 1], [1, 1]]
    assert [[t.dep_ for t in doc] for doc in docs][2] == ["nsubj", "ROOT"]


def test_conllu_words_may_hold_spaces(tmp_path, nlp):
    """UD allows spaces inside a word in some treebanks (Vietnamese): only TABs separate the columns."""
    path = tmp_path / "vi.conllu"
    path.write_text(_conllu(["1 Hà~Nội Hà~Nội PROPN NNP _ 2 nsubj _ _", "2 đẹp đẹp ADJ JJ _ 0 root _ SpaceAfter=No"]))
    (doc,) = read_docs(path, nlp)
    assert [(t.text, t.lemma_, t.head.i) for t in doc] == [("Hà Nội", "Hà Nội", 1), ("đẹp", "đẹp", 1)]


def test_conllu_missing_lemmas_heads_and_relations_leave_those_tokens_unannotated(tmp_path, nlp):
    """A `_` is a missing value: an empty lemma, the token as its own head with no relation, the UPOS as its tag.
    The word `_` keeps its lemma `_`."""
    path = tmp_path / "partial.conllu"
    path.write_text(
        _conllu(
            ["1 Press press VERB VB Mood=Imp|VerbForm=Fin 0 root _ _", "2 _ _ SYM NFP _ 1 obj _ SpaceAfter=No"],
            ["1 Thanks _ NOUN _ _ _ _ _ _", "2 again again ADV RB _ 1 advmod _ _", "3 ! ! PUNCT . _ 1 punct _ _"],
        )
    )
    (doc,) = read_docs(path, nlp, sents_per_doc=2)
    assert [t.lemma_ for t in doc] == ["press", "_", "", "again", "!"]
    assert [t.tag_ for t in doc] == ["VB", "NFP", "NOUN", "RB", "."]
    assert [t.head.i for t in doc] == [0, 0, 2, 2, 2]
    assert [t.dep_ for t in doc] == ["ROOT", "obj", "", "advmod", "punct"]
    assert [str(t.morph) for t in doc] == ["Mood=Imp|VerbForm=Fin", "", "", "", ""]


def test_conllu_upos_without_features_is_an_empty_morphology_and_no_upos_none(tmp_path, nlp):
    path = tmp_path / "morph.conllu"
    path.write_text(_conllu(["1 Thanks thanks NOUN NNS _ 0 root _ _", "2 ! ! PUNCT . _ 1 punct _ _"]))
    (doc,) = read_docs(path, nlp)
    assert [doc.has_annotation(layer) for layer in ("POS", "MORPH", "LEMMA")] == [True, True, True]
    path.write_text(_conllu(["1 Thanks _ _ _ _ 0 root _ _", "2 ! _ _ _ _ 1 punct _ _"]))
    (doc,) = read_docs(path, nlp)
    assert [doc.has_annotation(layer) for layer in ("POS", "MORPH", "LEMMA")] == [False, False, False]
    assert [(t.head.i, t.dep_) for t in doc] == [(0, "ROOT"), (0, "punct")]


@pytest.mark.parametrize(
    "rows",
    [
        ["1 Thanks thanks NOUN NNS _ 0 _ _ _", "2 ! ! PUNCT . _ 1 _ _ _"],
        ["1 Thanks thanks NOUN NNS _ _ root _ _", "2 ! ! PUNCT . _ _ punct _ _"],
    ],
    ids=["heads-without-relations", "relations-without-heads"],
)
def test_conllu_heads_or_relations_alone_give_no_parse(tmp_path, nlp, rows):
    path = tmp_path / "half.conllu"
    path.write_text(_conllu(rows))
    (doc,) = read_docs(path, nlp)
    assert not doc.has_annotation("DEP")
    assert [(t.head.i, t.dep_, t.tag_) for t in doc] == [(0, "", "NNS"), (1, "", ".")]


def test_conllu_sentences_per_doc(data_dir, nlp):
    docs = list(read_docs(data_dir / "ewt-dev.conllu", nlp, sents_per_doc=10))
    assert len(docs) == 15
    assert len(list(docs[0].sents)) == 10


def test_v2_json_round_trip_from_conllu(tmp_path, data_dir, nlp):
    """spaCy v2 JSON written by spaCy from the CoNLL-U slice reads back token for token."""
    originals = list(read_docs(data_dir / "ewt-dev.conllu", nlp, sents_per_doc=5))[:10]
    for doc in originals:
        doc.cats = {"A": 1.0, "B": 0.0}
    path = tmp_path / "v2.json"
    path.write_text(json.dumps([docs_to_json([doc], doc_id=i) for i, doc in enumerate(originals)]))
    docs = list(read_docs(path, nlp))
    assert len(docs) == len(originals)
    for doc, orig in zip(docs, originals, strict=True):
        assert [t.text for t in doc] == [t.text for t in orig]
        assert [t.tag_ for t in doc] == [t.tag_ for t in orig]
        assert [t.pos_ for t in doc] == [t.pos_ for t in orig]
        assert [t.dep_ for t in doc] == [t.dep_ for t in orig]
        assert [t.head.i for t in doc] == [t.head.i for t in orig]
        assert [s.start for s in doc.sents] == [s.start for s in orig.sents]
        assert doc.cats == {"A": 1.0, "B": 0.0}


def test_v2_json_entities(tmp_path, data_dir, nlp):
    originals = list(read_docs(data_dir / "wnut17-dev.conll", nlp))[:40]
    path = tmp_path / "v2.json"
    path.write_text(json.dumps([docs_to_json(originals, doc_id=0)]))
    docs = list(read_docs(path, nlp))  # one paragraph per original doc
    assert len(docs) == len(originals)
    assert [(e.text, e.label_) for d in docs for e in d.ents] == [(e.text, e.label_) for d in originals for e in d.ents]


def test_classic_json_list(tmp_path, nlp):
    path = tmp_path / "classic.json"
    records = [
        ["Apple buys a U.K. startup", {"entities": [[0, 5, "ORG"], [13, 17, "GPE"]]}],
        ["I loved it", {"cats": {"POS": 1.0, "NEG": 0.0}}],
        ["Apple buys a U.K. startup", {"entities": [[13, 17, "GPE"], [0, 5, "ORG"]]}],
    ]
    path.write_text(json.dumps(records))
    first, second, third = read_docs(path, nlp)
    assert [(e.text, e.label_) for e in first.ents] == [("Apple", "ORG"), ("U.K.", "GPE")]
    assert second.cats == {"POS": 1.0, "NEG": 0.0}
    assert [(e.text, e.label_) for e in third.ents] == [("Apple", "ORG"), ("U.K.", "GPE")]


def test_classic_json_with_its_own_words_takes_entities_on_those_words(tmp_path, nlp):
    """Given "words", entity offsets need only fall on those words, not on the tokenizer's tokens."""
    path = tmp_path / "words.json"
    words = ["a", "U.K.", "-", "based", "firm"]
    annots = {"words": words, "spaces": [True, False, False, True, False], "entities": [[2, 6, "GPE"]]}
    path.write_text(json.dumps([["a U.K.-based firm", annots]]))
    (doc,) = read_docs(path, nlp)
    assert [t.text for t in doc] == words
    assert [(e.text, e.label_) for e in doc.ents] == [("U.K.", "GPE")]


def test_goemotions_slice_has_cats(data_dir, nlp):
    docs = list(read_docs(data_dir / "goemotions-train.json", nlp))
    assert len(docs) == 500
    assert all(sum(doc.cats.values()) == 1.0 for doc in docs)


@pytest.mark.parametrize(
    "content,message",
    [
        (
            '[["Apple buys", {"entities": [[0, 3, "ORG"]]}]]',
            r"record 1: entity \[0, 3, 'ORG'\] \('App'\) does not fall on token boundaries",
        ),
        (
            '[["New York City", {"entities": [[0, 8, "LOC"], [4, 13, "LOC"]]}]]',
            "record 1: entity .* overlaps another entity",
        ),
        ('[["ok", {}], ["", {"cats": {}}]]', "record 2: record without text"),
        ('[["ok", {}], \n {"text": 1]', "invalid JSON: line 2, column"),
        ('{"text": "x"}', "top level is a dict"),
        ("[]", "holds no examples"),
        ('[{"id": 0}]', "unsupported JSON layout"),
    ],
)
def test_json_errors_name_the_file_and_record(tmp_path, nlp, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(RecipeError, match=message) as err:
        list(read_docs(path, nlp))
    assert "bad.json" in str(err.value)


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("bad.iob", "Paris B-LOC\nis\n", "line 2: expected a token and a tag"),
        ("bad.iob", "Paris X-LOC\n", "line 1: unknown tag 'X-LOC'"),
        ("bad.conllu", "1\tParis\n", "line 1: expected 10 tab-separated columns"),
        ("bad.conllu", "1\ta\ta\tX\tX\t_\t5\tdep\t_\t_\n", "line 1: head 5 outside the sentence"),
        ("bad.conllu", "2\ta\ta\tX\tX\t_\t0\troot\t_\t_\n", "line 1: token id 2 out of sequence"),
        ("empty.iob", "", "file is empty"),
        ("data.txt", "hello", "cannot tell the data format"),
        ("bad.spacy", "not a docbin", "not a spaCy DocBin"),
        ("a.tsv", "sentence\tfoo\nhi\tx\n", "line 1: the header must name a text column"),
        ("a.tsv", "text\tlabel\nhi\tx\nho\n", "line 3: expected 2 columns as in the header, got 1"),
        ("a.csv", 'text,label\n"hi",\n', "line 2: row without a label"),
        ("a.csv", "text,label\n ,x\n", "line 2: row without text"),
    ],
)
def test_text_format_errors_name_the_line(tmp_path, nlp, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(RecipeError, match=message):
        list(read_docs(path, nlp))


def test_undecodable_bytes(tmp_path, nlp):
    path = tmp_path / "latin1.iob"
    path.write_bytes("Zürich B-LOC\n".encode("latin-1"))
    with pytest.raises(RecipeError, match="latin1.iob: not valid UTF-8 text"):
        list(read_docs(path, nlp))


def test_missing_file(tmp_path, nlp):
    with pytest.raises(RecipeError, match="Data file not found"):
        list(read_docs(tmp_path / "none.iob", nlp))


def test_docbin_round_trip(tmp_path, data_dir, nlp):
    docs = list(read_docs(data_dir / "wnut17-dev.conll", nlp))
    DocBin(docs=docs).to_disk(tmp_path / "dev.spacy")
    again = list(read_docs(tmp_path / "dev.spacy", nlp))
    assert [d.to_json() for d in again] == [d.to_json() for d in docs]


@pytest.mark.parametrize(
    "suffix,fmt",
    [
        (".spacy", "spacy"),
        (".json", "json"),
        (".conllu", "conllu"),
        (".IOB", "iob"),
        (".bio", "iob"),
        (".conll", "iob"),
    ],
)
def test_detect_format(tmp_path, suffix, fmt):
    assert detect_format(tmp_path / f"data{suffix}") == fmt


def test_heldout_split_is_seeded_and_disjoint(data_dir):
    nlp = spacy.blank("en")
    args = {"format": "auto", "sents_per_doc": 1, "holdout": 0.1, "seed": 0}
    train = list(RecipeCorpus(data_dir / "wnut17-train.conll", part="train", **args)(nlp))
    dev = list(RecipeCorpus(data_dir / "wnut17-train.conll", part="heldout", **args)(nlp))
    assert len(train) + len(dev) == 400 and len(dev) == heldout_count(400, 0.1, 0)
    assert 25 <= len(dev) <= 55
    everything = list(RecipeCorpus(data_dir / "wnut17-train.conll", part="all", **args)(nlp))
    assert sorted(eg.reference.text for eg in train + dev) == sorted(eg.reference.text for eg in everything)
    again = list(RecipeCorpus(data_dir / "wnut17-train.conll", part="heldout", **args)(nlp))
    assert [eg.reference.text for eg in again] == [eg.reference.text for eg in dev]
    other = list(RecipeCorpus(data_dir / "wnut17-train.conll", part="heldout", **{**args, "seed": 1})(nlp))
    assert [eg.reference.text for eg in other] != [eg.reference.text for eg in dev]


def test_heldout_count_bounds():
    assert heldout_count(1, 0.1, 0) == 0
    assert heldout_count(2, 0.1, 0) == 1
    assert 80 <= heldout_count(1000, 0.1, 0) <= 120
    assert 9_000 <= heldout_count(100_000, 0.1, 3) <= 11_000


@pytest.mark.parametrize("n", [2, 3, 5, 12, 40])
def test_small_corpora_hold_out_one_and_keep_the_rest(n):
    """Too few documents to reach a held-out position: exactly one is held out, the rest train."""
    docs = list(range(n))
    train = list(split_docs(iter(docs), 0.05, 7, heldout=False, path=None))
    dev = list(split_docs(iter(docs), 0.05, 7, heldout=True, path=None))
    assert sorted(train + dev) == docs and len(dev) == heldout_count(n, 0.05, 7) >= 1 and train


def test_split_is_by_position_and_streams():
    """Held-out documents are chosen by position alone, and the split consumes its input lazily."""
    consumed = []

    def docs():
        for i in range(10_000):
            consumed.append(i)
            yield i

    dev = split_docs(docs(), 0.1, 0, heldout=True, path=None)
    first = [next(dev) for _ in range(5)]
    assert len(consumed) < 200
    everything = list(split_docs(iter(range(10_000)), 0.1, 0, heldout=True, path=None))
    assert first == everything[:5]


def test_holdout_out_of_range_is_refused():
    for bad in (1.0, -0.1, 1e-9):
        with pytest.raises(RecipeError, match="holdout"):
            create_corpus_reader(path=None, format="auto", sents_per_doc=1, span_alignment="strict", holdout=bad,
                                 part="train", seed=0)  # fmt: skip
    with pytest.raises(RecipeError, match=r"\[E076\] corpus span_alignment must be one of strict, expand, contract"):
        create_corpus_reader(path=None, format="auto", sents_per_doc=1, span_alignment="loose", holdout=0.1,
                             part="train", seed=0)  # fmt: skip


def test_heldout_needs_two_examples(tmp_path):
    path = tmp_path / "one.iob"
    path.write_text("Paris B-LOC\n")
    corpus = RecipeCorpus(path, format="auto", sents_per_doc=1, holdout=0.1, part="train", seed=0)
    with pytest.raises(RecipeError, match="holding out a dev split needs at least 2"):
        list(corpus(spacy.blank("en")))


def _prodigy_records(docs):
    for doc in docs:
        tokens = [
            {"text": t.text, "start": t.idx, "end": t.idx + len(t), "id": t.i, "ws": bool(t.whitespace_)} for t in doc
        ]
        spans = [{"start": e.start_char, "end": e.end_char, "label": e.label_} for e in doc.ents]
        yield {"text": doc.text, "tokens": tokens, "spans": spans, "answer": "accept"}


def test_jsonl_prodigy_matches_iob(tmp_path, data_dir, nlp):
    """The same WNUT17 sentences as IOB and as Prodigy JSONL give the same tokens and entities."""
    originals = [spacy.tokens.Doc(nlp.vocab, words=[t.text for t in d], ents=[f"{t.ent_iob_}-{t.ent_type_}" if t.ent_type_ else "O" for t in d])
                 for d in read_docs(data_dir / "wnut17-dev.conll", nlp)]  # fmt: skip
    records = list(_prodigy_records(originals))
    records.insert(3, {**records[0], "answer": "reject"})
    records.insert(5, {**records[1], "answer": "ignore"})
    path = tmp_path / "wnut.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        docs = list(read_docs(path, nlp))
    assert any("skipped 2 record(s)" in str(w.message) for w in caught)
    assert [[t.text for t in d] for d in docs] == [[t.text for t in d] for d in originals]
    assert [[(e.start, e.end, e.label_) for e in d.ents] for d in docs] == [
        [(e.start, e.end, e.label_) for e in d.ents] for d in originals
    ]


def test_jsonl_entities_cats_and_labels(tmp_path, data_dir, nlp):
    classic = json.loads((data_dir / "goemotions-train.json").read_text())[:50]
    path = tmp_path / "labels.jsonl"
    path.write_text("\n".join(json.dumps({"text": t, "label": max(a["cats"], key=a["cats"].get)}) for t, a in classic))
    docs = list(read_docs(path, nlp))
    labels = {max(a["cats"], key=a["cats"].get) for _, a in classic}
    assert [d.cats for d in docs] == [{k: v for k, v in a["cats"].items() if k in labels} for _, a in classic]
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        '{"text": "Apple buys a U.K. startup", "entities": [[0, 5, "ORG"], [13, 17, "GPE"]]}\n\n'
        '{"text": "I loved it", "cats": {"POS": 1.0, "NEG": 0.0}}\n'
    )
    first, second = read_docs(path, nlp)
    assert [(e.text, e.label_) for e in first.ents] == [("Apple", "ORG"), ("U.K.", "GPE")]
    assert second.cats == {"POS": 1.0, "NEG": 0.0}


@pytest.mark.parametrize(
    "content,message",
    [
        ('{"text": "ok"}\n{"text": "x",\n', "line 2: invalid JSON at column"),
        ('{"text": "ok"}\n\n{"entities": []}\n', "line 3: record without text"),
        ("[1, 2]\n", "line 1: expected a JSON object"),
        (
            '{"text": "Apple buys", "entities": [[0, 3, "ORG"]]}\n',
            "line 1: entity .* does not fall on token boundaries",
        ),
        (
            '{"text": "a b", "tokens": [{"text": "a", "ws": false}, {"text": "b"}]}\n',
            "line 1: the tokens do not spell out the text",
        ),
        ('{"text": "a", "cats": [1]}\n', "line 1: 'cats' is not an object"),
    ],
)
def test_jsonl_errors_name_the_line(tmp_path, nlp, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(RecipeError, match=message):
        list(read_docs(path, nlp))


def test_format_can_be_forced(tmp_path, data_dir, nlp):
    path = tmp_path / "emerging.test.annotated"
    path.write_text((data_dir / "wnut17-dev.conll").read_text())
    with pytest.raises(RecipeError, match="or pass --format"):
        list(read_docs(path, nlp))
    assert len(list(read_docs(path, nlp, format="iob"))) == 150
    with pytest.raises(RecipeError, match="Unknown data format 'xml'"):
        list(read_docs(path, nlp, format="xml"))


def test_folders_and_globs_with_mixed_formats(tmp_path, data_dir, nlp):
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.conll").write_text((data_dir / "wnut17-dev.conll").read_text())
    (folder / "sub" / "b.jsonl").write_text('{"text": "Paris is nice", "entities": [[0, 5, "LOC"]]}\n')
    (folder / "notes.txt").write_text("not data")
    docs = list(read_docs(folder, nlp))
    assert len(docs) == 151 and [(e.text, e.label_) for e in docs[-1].ents] == [("Paris", "LOC")]
    assert len(list(read_docs(f"{folder}/*.conll", nlp))) == 150
    assert len(list(read_docs(f"{folder}/**/*.jsonl", nlp))) == 1
    (tmp_path / "empty").mkdir()
    with pytest.raises(RecipeError, match="no data files found"):
        list(read_docs(tmp_path / "empty", nlp))
    with pytest.raises(RecipeError, match="no data files found"):
        list(read_docs(f"{folder}/*.conllu", nlp))


def test_default_output_names(tmp_path):
    from pathlib import Path

    from recipe_cli.output.layout import default_output

    assert default_output(Path("data/train.conll"), ["ner"]) == Path("train-ner")
    assert default_output(Path("data/train.conll"), ["tagger", "parser"]) == Path("train-tagger+parser")
    assert default_output(tmp_path, ["ner"]) == Path(f"{tmp_path.name}-ner")
    assert default_output(Path("corpus/*.conllu"), ["tagger"]) == Path("corpus-tagger")


def test_tsv_and_csv_text_classification(tmp_path, data_dir, nlp):
    """The GoEmotions multi-label slice as TSV and as CSV gives the same categories as its JSON form."""
    import csv

    records = json.loads((data_dir / "goemotions-multilabel-train.json").read_text())
    expected = [dict(a["cats"]) for _, a in records]
    labels = lambda cats: ",".join(k for k, v in cats.items() if v)  # noqa: E731
    tsv = tmp_path / "go.tsv"
    tsv.write_text(
        "id\ttext\tlabels\n" + "".join(f"{i}\t{t}\t{labels(a['cats'])}\n" for i, (t, a) in enumerate(records))
    )
    with (tmp_path / "go.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Text", "Category"])
        writer.writerows([t, labels(a["cats"])] for t, a in records)
    present = sorted({k for cats in expected for k, v in cats.items() if v})
    for path in (tsv, tmp_path / "go.csv"):
        docs = list(read_docs(path, nlp))
        assert [d.text for d in docs] == [t for t, _ in records]
        assert [d.cats for d in docs] == [{k: cats[k] for k in present} for cats in expected]
    assert sum(1 for d in read_docs(tsv, nlp) if sum(d.cats.values()) > 1) == 34


def test_sentence_per_line_word_pipe_tag(tmp_path, data_dir, nlp):
    """WNUT17 dev written as spaCy's `word|TAG` lines reads back to the same tokens and entities."""
    docs = list(read_docs(data_dir / "wnut17-dev.conll", nlp))
    tag = lambda t: f"{t.ent_iob_}-{t.ent_type_}" if t.ent_type_ else "O"  # noqa: E731
    path = tmp_path / "wnut.iob"
    path.write_text("\n".join(" ".join(f"{t.text}|{tag(t)}" for t in doc) for doc in docs) + "\n")
    again = list(read_docs(path, nlp))
    assert [[t.text for t in d] for d in again] == [[t.text for t in d] for d in docs]
    assert [[(e.start, e.end, e.label_) for e in d.ents] for d in again] == [
        [(e.start, e.end, e.label_) for e in d.ents] for d in docs
    ]
    three = tmp_path / "pos.iob"
    three.write_text("I|PRP|O love|VBP|O New|NNP|B-LOC York|NNP|I-LOC\n")
    (doc,) = read_docs(three, nlp)
    assert [t.text for t in doc] == ["I", "love", "New", "York"] and [e.text for e in doc.ents] == ["New York"]
    bad = tmp_path / "bad.iob"
    bad.write_text("I|O love|O\nNew York|B-LOC\n")
    with pytest.raises(RecipeError, match=re.escape("line 2: expected word|TAG, got 'New'")):
        list(read_docs(bad, nlp))


def test_uner_iob2_reads_word_and_tag_columns_and_skips_comments(data_dir, nlp):
    """UNER's IOB2: '# ...' comment lines, then ID WORD TAG - annotator; the slice's counts match its source."""
    docs = list(read_docs(data_dir / "uner-dev.iob2", nlp))
    text = (data_dir / "uner-dev.iob2").read_text(encoding="utf8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    assert len(docs) == text.count("# sent_id = ") == 150
    assert [t.text for d in docs for t in d] == [row[1] for row in rows]
    begins = sum(row[2].startswith("B-") for row in rows)
    assert sum(len(d.ents) for d in docs) == begins > 0
    assert {e.label_ for d in docs for e in d.ents} <= {"PER", "LOC", "ORG"}
    assert docs[0].ents[0].text == "tampa bay" and docs[0].ents[0].label_ == "LOC"


def test_hashtag_tokens_are_not_comments(tmp_path, nlp):
    path = tmp_path / "tweets.conll"
    path.write_text("#Paris\tB-location\nrocks\tO\n#\tO\n\n# text = a comment\nHi\tO\n")
    docs = list(read_docs(path, nlp))
    assert [[t.text for t in d] for d in docs] == [["#Paris", "rocks", "#"], ["Hi"]]
    assert docs[0].ents[0].label_ == "location"


def test_comment_lines_that_end_like_a_tag_stay_comments(tmp_path, nlp):
    """A "# ..." line is a token only when it reads as one: at most four columns, no "=", a tag last. Comments
    ending in a word such as B or O, or holding a hyphen, are skipped; a hashtag in CoNLL-2003's four columns
    (word, POS, chunk, tag) is a token."""
    path = tmp_path / "tweets.conll"
    path.write_text(
        "# plan B\n# well-formed\n# label = O\n# see the Big O\nHi\tUH\tB-INTJ\tO\n"
        "#Paris\tNNP\tB-NP\tB-LOC\n\n# text = Big O\nok\tO\n"
    )
    docs = list(read_docs(path, nlp))
    assert [[t.text for t in d] for d in docs] == [["Hi", "#Paris"], ["ok"]]
    assert [(e.text, e.label_) for e in docs[0].ents] == [("#Paris", "LOC")]


def test_id_word_tag_lines_without_annotator_columns(tmp_path, nlp):
    """UNER's layout with only its first three columns: the ID is not read as the word."""
    path = tmp_path / "three.iob2"
    path.write_text("1\tParis\tB-LOC\n2\tis\tO\n\n1\tRome\tB-LOC\n")
    docs = list(read_docs(path, nlp))
    assert [[t.text for t in d] for d in docs] == [["Paris", "is"], ["Rome"]]
    assert [[e.label_ for e in d.ents] for d in docs] == [["LOC"], ["LOC"]]


def test_an_i_tag_opening_the_file_or_following_another_type_starts_an_entity(tmp_path, nlp):
    path = tmp_path / "orphans.conll"
    path.write_text("Paris\tI-LOC\nMarie\tB-PER\nRome\tI-LOC\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (doc,) = read_docs(path, nlp)
    assert [(e.text, e.label_) for e in doc.ents] == [("Paris", "LOC"), ("Marie", "PER"), ("Rome", "LOC")]
    assert [str(w.message) for w in caught if "I- tag" in str(w.message)] == [Warnings.W003.format(path=path, n=2)]


# Prodigy exports as Prodigy writes them (tests/data/README.md): ner.manual tokens without 'ws', most records with
# "spans": []; binary textcat records {"text", "label", "answer"}.
FASHION = "prodigy-fashion-brands.jsonl"
DOCS_ISSUES = "prodigy-docs-issues.jsonl"


def _jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines() if line.strip()]


def _project_ner_docs(nlp, records):
    """The export converted as the published project converts it: entities from the spans' characters."""
    docs = []
    for eg in records:
        doc = nlp.make_doc(eg["text"])
        doc.ents = [doc.char_span(s["start"], s["end"], label=s["label"]) for s in eg.get("spans", [])]
        docs.append(doc)
    return docs


def test_prodigy_ner_export_without_ws(data_dir, nlp):
    records = _jsonl(data_dir / FASHION)
    assert not any("ws" in t for r in records for t in r["tokens"])
    docs = list(read_docs(data_dir / FASHION, nlp))
    assert [d.text for d in docs] == [r["text"] for r in records]
    # The tokens are Prodigy's, at Prodigy's offsets (n’t, ’ve and the like included).
    assert [[(t.text, t.idx, t.idx + len(t)) for t in d] for d in docs] == [
        [(t["text"], t["start"], t["end"]) for t in r["tokens"]] for r in records
    ]
    assert [[(e.start_char, e.end_char, e.label_) for e in d.ents] for d in docs] == [
        [(s["start"], s["end"], s["label"]) for s in r["spans"]] for r in records
    ]
    # A record with "spans": [] is annotated: no entities, every token outside one.
    assert sum(not r["spans"] for r in records) == 10
    assert all(d.has_annotation("ENT_IOB") and all(t.ent_iob_ in ("O", "B", "I") for t in d) for d in docs)


def test_prodigy_ner_skips_rejected_and_ignored_answers_and_counts_each(tmp_path, data_dir, nlp):
    records = _jsonl(data_dir / FASHION)
    answers = {1: "ignore", 4: "reject", 6: "ignore"}
    path = tmp_path / "answered.jsonl"
    path.write_text(
        "".join(json.dumps({**r, "answer": answers.get(i, "accept")}) + "\n" for i, r in enumerate(records))
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        docs = list(read_docs(path, nlp))
    assert [d.text for d in docs] == [r["text"] for i, r in enumerate(records) if i not in answers]
    assert [str(w.message) for w in caught] == [
        f"[W002] {path}: skipped 3 record(s) (2 answered ignore and 1 answered reject)."
    ]


def test_prodigy_tokens_with_and_without_offsets_in_one_record(tmp_path, nlp):
    """Each token's space comes from its own offsets, or, without them, is a space between words."""
    path = tmp_path / "mixed.jsonl"
    tokens = [{"text": "Hi"}, {"text": "there", "start": 3, "end": 8}, {"text": "!", "start": 8, "end": 9}]
    path.write_text(json.dumps({"text": "Hi there!", "tokens": tokens, "spans": []}) + "\n")
    (doc,) = read_docs(path, nlp)
    assert [(t.text, t.whitespace_) for t in doc] == [("Hi", " "), ("there", ""), ("!", "")]


def test_cats_are_read_over_a_label_beside_them(tmp_path, nlp):
    """A record with 'cats' is read from its 'cats', whatever 'label' it also holds: not an exclusive class."""
    path = tmp_path / "cats.jsonl"
    path.write_text('{"text": "Great", "cats": {"POS": 1.0, "NEG": 0.0}}\n'
                    '{"text": "Awful", "label": "NEG", "cats": {"POS": 0.0, "NEG": 1.0}}\n')  # fmt: skip
    assert [d.cats for d in read_docs(path, nlp)] == [{"POS": 1.0, "NEG": 0.0}, {"POS": 0.0, "NEG": 1.0}]


@pytest.mark.parametrize(
    "tokens,message",
    [
        # An offset one character off.
        (
            [{"text": "Paris", "start": 0, "end": 5}, {"text": "is", "start": 7, "end": 9}],
            "token 1 'is' has offsets 7-9",
        ),  # fmt: skip
        # Offsets past the text.
        (
            [
                {"text": "Paris", "start": 0, "end": 5},
                {"text": "is", "start": 6, "end": 8},
                {"text": "nice", "start": 9, "end": 14},
            ],
            "token 2 'nice' has offsets 9-14",
        ),  # fmt: skip
        # Two spaces between tokens: a Doc holds one space at most after a token.
        ([{"text": "Paris", "start": 0, "end": 5}, {"text": "is", "start": 7, "end": 9}], None),
        # Tokens that leave text out.
        (
            [{"text": "Paris", "start": 0, "end": 5}, {"text": "nice", "start": 9, "end": 13}],
            "token 1 'nice' does not follow",
        ),  # fmt: skip
        ([{"text": "Paris"}, {"text": "nice", "start": 9, "end": 13}], "the tokens do not spell out the text"),
    ],
)
def test_prodigy_tokens_whose_offsets_do_not_match_the_text(tmp_path, nlp, tokens, message):
    text = "Paris  is" if message is None else "Paris is nice"
    message = message or "token 1 'is' does not follow token 0"
    path = tmp_path / "export.jsonl"
    ok = {"text": "Paris", "tokens": [{"text": "Paris", "start": 0, "end": 5, "id": 0}], "spans": []}
    path.write_text(json.dumps(ok) + "\n" + json.dumps({"text": text, "tokens": tokens, "spans": []}) + "\n")
    with pytest.raises(RecipeError, match=rf"export.jsonl, line 2: {re.escape(message)}"):
        list(read_docs(path, nlp))


@pytest.mark.parametrize(
    "record",
    [
        {"text": "I like Acme", "spans": []},
        {"text": "I like Acme", "entities": []},
        {"text": "I like Acme"},
        {
            "text": "I like Acme",
            "tokens": [{"text": w, "start": s, "end": s + len(w)} for w, s in (("I", 0), ("like", 2), ("Acme", 7))],
            "answer": "accept",
        },  # fmt: skip
    ],
)
def test_a_record_without_entities_is_annotated_with_none(tmp_path, nlp, record):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(record) + "\n")
    (doc,) = read_docs(path, nlp)
    assert doc.has_annotation("ENT_IOB") and [t.ent_iob_ for t in doc] == ["O", "O", "O"]


def test_a_text_classification_record_leaves_entities_missing(tmp_path, nlp):
    path = tmp_path / "data.jsonl"
    path.write_text(
        '{"text": "I like Acme", "cats": {"POS": 1.0}}\n{"text": "So bad", "cats": {"POS": 0.0}, "spans": []}\n'
    )
    first, second = read_docs(path, nlp)
    assert not first.has_annotation("ENT_IOB")  # it says nothing about entities
    assert second.has_annotation("ENT_IOB") and not second.ents  # it says: none


@pytest.mark.parametrize("ws", [False, True], ids=["tokens-without-ws", "tokens-with-ws"])
def test_prodigy_ner_scores_as_spacy_scores_the_converted_export(tmp_path, data_dir, nlp, ws):
    """A pipeline that predicts entities scores the same on the export read here as on the export converted as
    the published project converts it: records without spans count (their false positives too)."""
    records = _jsonl(data_dir / FASHION)
    path = data_dir / FASHION
    if ws:  # newer Prodigy writes a 'ws' flag on each token
        path = tmp_path / "with-ws.jsonl"
        for r in records:
            for t, following in zip(r["tokens"], [*r["tokens"][1:], None], strict=True):
                t["ws"] = following is not None and following["start"] > t["end"]
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    ruler = spacy.blank("en")
    # Two right, one wrong in a record without spans, one missed.
    patterns = [{"label": "FASHION_BRAND", "pattern": p} for p in ("SLP", "anachronorm", "loafers")]
    ruler.add_pipe("entity_ruler").add_patterns(patterns)
    ours = list(RecipeCorpus(path, format="auto", sents_per_doc=1, holdout=0.0, part="all", seed=0)(ruler))
    theirs = [Example(ruler.make_doc(d.text), d) for d in _project_ner_docs(ruler, _jsonl(data_dir / FASHION))]
    expected = ruler.evaluate(theirs)
    assert (expected["ents_p"], expected["ents_r"]) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    scores = ruler.evaluate(ours)
    keys = ("ents_p", "ents_r", "ents_f")
    assert {k: scores[k] for k in keys} == {k: expected[k] for k in keys}


def test_prodigy_binary_textcat(tmp_path, data_dir, nlp):
    records = _jsonl(data_dir / DOCS_ISSUES)
    docs = list(read_docs(data_dir / DOCS_ISSUES, nlp))
    assert [d.text for d in docs] == [r["text"] for r in records]  # \r\n and emoji kept
    assert [d.cats for d in docs] == [{"DOCUMENTATION": 1.0 if r["answer"] == "accept" else 0.0} for r in records]
    assert sum(d.cats["DOCUMENTATION"] == 0.0 for d in docs) == 12  # the rejects: negative examples
    assert not any(d.has_annotation("ENT_IOB") for d in docs)  # a text classification answer: entities missing
    # ignore is skipped and counted.
    path = tmp_path / "with-ignore.jsonl"
    ignored = [{**r, "answer": "ignore"} if i in (2, 5) else r for i, r in enumerate(records)]
    path.write_text("".join(json.dumps(r) + "\n" for r in ignored))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert len(list(read_docs(path, nlp))) == 16
    assert [str(w.message) for w in caught] == [f"[W002] {path}: skipped 2 record(s) (2 answered ignore)."]


def test_binary_textcat_over_several_labels_leaves_the_others_missing(tmp_path, nlp):
    """textcat.teach over several labels: a record tells about its own label only; the others stay unknown."""
    path = tmp_path / "teach.jsonl"
    rows = [("Docs are wrong", "DOCUMENTATION", "accept"), ("Crash on start", "BUG", "accept"),
            ("Crash on start", "DOCUMENTATION", "reject"), ("Add a button", "BUG", "reject")]  # fmt: skip
    path.write_text("".join(json.dumps({"text": t, "label": label, "answer": a}) + "\n" for t, label, a in rows))
    docs = list(read_docs(path, nlp))
    assert [d.cats for d in docs] == [{"DOCUMENTATION": 1.0}, {"BUG": 1.0}, {"DOCUMENTATION": 0.0}, {"BUG": 0.0}]
    # spaCy's textcat_multilabel neither learns from nor scores a label a text does not give.
    pipe = nlp.add_pipe("textcat_multilabel")
    examples = [Example(nlp.make_doc(d.text), d) for d in docs]
    nlp.initialize(lambda: examples)
    _, gradient = pipe.get_loss(examples, pipe.predict([eg.predicted for eg in examples]))
    labels = list(pipe.labels)
    assert [[bool(g) for g in row] for row in (gradient != 0).tolist()] == [
        [label in d.cats for label in labels] for d in docs
    ]
    for eg in examples:
        eg.predicted.cats = dict.fromkeys(labels, 1.0)  # every label predicted for every text
    scores = nlp.get_pipe("textcat_multilabel").score(examples)
    assert scores["cats_f_per_type"]["BUG"]["p"] == 0.5 and scores["cats_f_per_type"]["DOCUMENTATION"]["p"] == 0.5


def test_binary_answers_other_than_prodigys_are_refused(tmp_path, nlp):
    path = tmp_path / "teach.jsonl"
    path.write_text('{"text": "a", "label": "X", "answer": "accept"}\n{"text": "b", "label": "X", "answer": "maybe"}\n')
    with pytest.raises(RecipeError, match="teach.jsonl, line 2: answer 'maybe': expected accept, reject or ignore"):
        list(read_docs(path, nlp))


def test_default_output_names_of_odd_paths(tmp_path):
    from pathlib import Path

    from recipe_cli.output.layout import default_output

    # A glob at the top: no folder name to take.
    assert default_output(Path("*.conllu"), ["tagger"]) == Path("data-tagger")
    # A file named like a pattern that exists is a file.
    odd = tmp_path / "weird[1].conll"
    odd.write_text("")
    assert default_output(odd, ["ner"]) == Path("weird[1]-ner")
    # A folder keeps its whole name, suffix included.
    folder = tmp_path / "corpus.v2"
    folder.mkdir()
    assert default_output(folder, ["ner"]) == Path("corpus.v2-ner")
    assert default_output(Path("data/train.conll"), ["ner"]) == Path("train-ner")
