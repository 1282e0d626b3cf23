"""doccano's and Label Studio's exports, read as the tools write them, and the annotators' span slips they hold.

The doccano fixtures (tests/data/doccano-*) are written with doccano 1.8.4's own export calls; the Label Studio
fixtures (tests/data/labelstudio-*) by scripts/dev/make_annotation_fixtures.py (see tests/data/README.md). Other
shapes are built here, each as small as the case needs."""

import json
import warnings
from collections import Counter

import pytest
import spacy
from spacy.training import Example
from typer.testing import CliRunner

from recipe_cli.cli.evaluate import app as eval_app
from recipe_cli.cli.train import app
from recipe_cli.cli.util import cli_overrides
from recipe_cli.data.formats import detect_format, read_docs
from recipe_cli.data.formats.doccano import is_fasttext
from recipe_cli.data.summary import summarize
from recipe_cli.errors import RecipeError

runner = CliRunner()


def _read(path, nlp, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        docs = list(read_docs(path, nlp, **kwargs))
    return docs, [str(w.message) for w in caught]


def _ents(doc):
    return [(e.start_char, e.end_char, e.label_) for e in doc.ents]


def _chosen(doc):
    return sorted(label for label, value in doc.cats.items() if value == 1.0)


def _summary(docs):
    return summarize(Example(doc.copy(), doc) for doc in docs)


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf8")
    return path


# doccano


def test_doccano_sequence_labelling_jsonl(data_dir, nlp):
    path = data_dir / "doccano-ner.jsonl"
    assert detect_format(path) == "doccano"
    docs, caught = _read(path, nlp)
    records = [json.loads(line) for line in path.read_text(encoding="utf8").splitlines()]
    assert len(docs) == len(records) == 9 and not caught
    for doc, record in zip(docs, records, strict=True):
        assert doc.text == record["text"]
        # Every span as exported, but record 2's first, which took the space after it: trimmed.
        expected = [(s, e - (doc.text[s:e] != doc.text[s:e].rstrip()), label) for s, e, label in record["label"]]
        assert _ents(doc) == expected
        assert doc.has_annotation("ENT_IOB") and not doc.cats
    assert docs[1].ents[0].text == "Rick and Morty"
    assert _summary(docs).spans_changed == Counter(trimmed=1)
    assert _summary(docs).labels["entities"] == Counter(
        location=4, person=5, **{"creative-work": 1}, product=1, group=1
    )


def test_doccano_relation_project_reads_entities_and_counts_relations(data_dir, nlp):
    path = data_dir / "doccano-relations.jsonl"
    assert detect_format(path) == "doccano"
    docs, caught = _read(path, nlp)
    records = [json.loads(line) for line in path.read_text(encoding="utf8").splitlines()]
    for doc, record in zip(docs, records, strict=True):
        assert _ents(doc) == [(e["start_offset"], e["end_offset"], e["label"]) for e in record["entities"]]
    assert caught == [
        f"[W010] {path}: 2 relation(s) not read: recipe-train trains entities and categories, not relations."
    ]


@pytest.mark.parametrize("name", ["doccano-emotions.jsonl", "doccano-emotions.csv", "doccano-emotions.txt"])
def test_doccano_text_classification(data_dir, nlp, name):
    path = data_dir / name
    assert detect_format(path) == "doccano"
    docs, _ = _read(path, nlp)
    assert [_chosen(doc) for doc in docs] == [
        ["neutral"], ["gratitude", "love"], ["anger"], ["neutral"], ["love"], ["neutral"], ["neutral"], []
    ]  # fmt: skip
    assert set(docs[0].cats) == {"anger", "gratitude", "love", "neutral"}
    assert docs[-1].cats == {}  # nobody labelled it: missing, not "none of these"
    assert docs[1].text.startswith("Thank you for your vote of confidence, but")
    if name.endswith(".txt"):  # a quoted fastText record over two lines, its trailing space and comments dropped
        assert docs[2].text.endswith("Go out side son.\nsecond line, quoted")
    summary = _summary(docs)
    assert summary.several_categories_at == 1 and not summary.labels.get("entities")


def test_doccano_examples_from_the_issue(tmp_path, nlp):
    """The two records once read silently wrong: a list of categories, and sequence labelling triples."""
    cls = _write(tmp_path, "cls.jsonl", '{"id": 1, "text": "I love this movie", "label": ["positive"]}\n'
                 '{"id": 2, "text": "I hate it", "label": ["negative"]}\n')  # fmt: skip
    docs, _ = _read(cls, nlp)
    assert [doc.cats for doc in docs] == [{"negative": 0.0, "positive": 1.0}, {"negative": 1.0, "positive": 0.0}]
    ner = _write(tmp_path, "ner.jsonl", '{"text": "Alice lives in Paris", "label": [[0, 5, "PER"], [15, 20, "LOC"]]}\n')
    (doc,), _ = _read(ner, nlp)
    assert _ents(doc) == [(0, 5, "PER"), (15, 20, "LOC")] and doc.cats == {}


def test_doccano_older_labels_key_json_list_and_intent_detection(tmp_path, nlp):
    old = _write(tmp_path, "old.jsonl", '{"id": 1, "text": "Alice lives in Paris", "labels": [[0, 5, "PER"]]}\n')
    assert _ents(_read(old, nlp)[0][0]) == [(0, 5, "PER")]
    listed = _write(
        tmp_path, "cls.json", [{"id": 1, "text": "a b", "label": ["X"]}, {"id": 2, "text": "c", "label": ["Y"]}]
    )
    assert detect_format(listed) == "doccano"
    assert [_chosen(d) for d in _read(listed, nlp)[0]] == [["X"], ["Y"]]
    intent = _write(
        tmp_path,
        "intent.jsonl",
        '{"text": "book a flight to Paris", "cats": ["book"], "entities": [[17, 22, "LOC"]]}\n',
    )
    (doc,), _ = _read(intent, nlp)
    assert _ents(doc) == [(17, 22, "LOC")] and doc.cats == {"book": 1.0}


def test_doccano_fasttext_export_whatever_its_first_record(data_dir, tmp_path, nlp):
    """The first record decides nothing: one quoted by the CSV writer (its text holds a comma) is still a fastText
    line, and one nobody labelled (a space, then the text) still starts a fastText file."""
    lines = (data_dir / "doccano-emotions.txt").read_text(encoding="utf8").splitlines(keepends=True)
    whole = [(doc.text, doc.cats) for doc in _read(data_dir / "doccano-emotions.txt", nlp)[0]]
    quoted = _write(tmp_path, "quoted.txt", "".join(lines[1:]))
    assert lines[1].startswith('"__label__gratitude') and detect_format(quoted) == "doccano"
    assert [(doc.text, doc.cats) for doc in _read(quoted, nlp)[0]] == whole[1:]
    unlabelled = _write(tmp_path, "unlabelled.txt", "".join([lines[-1], *lines[:-1]]))
    assert lines[-1].startswith(" [NAME] is such")
    docs, _ = _read(unlabelled, nlp, format="doccano")
    assert [(doc.text, doc.cats) for doc in docs] == [whole[-1], *whole[:-1]]


def test_fasttext_lines_as_other_tools_write_them(tmp_path, nlp):
    """fastText's own files quote nothing: a comma is part of the text."""
    content = "__label__baking How to keep cookies soft, chewy?\n__label__equipment __label__cast-iron Rust, again\n"
    docs, _ = _read(_write(tmp_path, "cooking.txt", content), nlp)
    assert [(doc.text, _chosen(doc)) for doc in docs] == [
        ("How to keep cookies soft, chewy?", ["baking"]), ("Rust, again", ["cast-iron", "equipment"])
    ]  # fmt: skip
    # Named .tsv and read with --format doccano, doccano's quoting is still undone.
    renamed = _write(tmp_path, "export.tsv", '"__label__baking He said ""soft"", then left"\n__label__equipment Pans\n')
    docs, _ = _read(renamed, nlp, format="doccano")
    assert [(doc.text, _chosen(doc)) for doc in docs] == [
        ('He said "soft", then left', ["baking"]),
        ("Pans", ["equipment"]),
    ]


def test_is_fasttext_strips_only_the_quotes_of_the_csv_writer():
    assert is_fasttext("__label__a text") and is_fasttext('"__label__a text, quoted"')
    assert not is_fasttext(" __label__a text") and not is_fasttext("X__label__a text")


def test_doccano_older_text_key_and_spans_with_categories(tmp_path, nlp):
    """Older doccano releases export the text as 'data'; spans under 'label' do not hide the record's 'cats'."""
    old = _write(
        tmp_path, "old.jsonl", '{"id": 1, "data": "Alice lives in Paris", "label": [[0, 5, "PER"]], "user": 1}\n'
    )
    (doc,), _ = _read(old, nlp)
    assert doc.text == "Alice lives in Paris" and _ents(doc) == [(0, 5, "PER")]
    both = _write(
        tmp_path, "both.jsonl", '{"text": "book a flight to Paris", "label": [[17, 22, "LOC"]], "cats": ["book"]}\n'
    )
    (doc,), _ = _read(both, nlp)
    assert _ents(doc) == [(17, 22, "LOC")] and doc.cats == {"book": 1.0}


def test_plain_jsonl_and_tables_are_not_taken_for_doccano(tmp_path, data_dir):
    assert detect_format(data_dir / "prodigy-fashion-brands.jsonl") == "jsonl"
    assert detect_format(_write(tmp_path, "a.jsonl", '{"text": "a", "label": "X"}\n')) == "jsonl"
    assert detect_format(_write(tmp_path, "t.csv", "id,text,label\n1,a,X\n")) == "table"
    assert detect_format(data_dir / "goemotions-dev.json") == "json"


@pytest.mark.parametrize(
    "name",
    [
        "doccano-emotions-meta.jsonl",
        "doccano-emotions-meta.json",
        "doccano-emotions-meta.csv",
        "doccano-emotions-meta.txt",
        "doccano-ner-meta.jsonl",
    ],
)
def test_doccano_exports_with_imported_fields_read_only_their_labels(data_dir, nlp, name):
    """doccano keeps the fields imported beside a text (sent_id, source, position, a nested meta) and exports them
    beside id, text and label (in its CSV as columns, the nested object in Python's repr): the whole label set is
    the labels, as the source corpus has them."""
    path = data_dir / name
    assert detect_format(path) == "doccano"
    docs, caught = _read(path, nlp)
    summary = _summary(docs)
    assert len(docs) == 8 and not caught
    if "ner" in name:
        wnut = [doc for doc in read_docs(data_dir / "wnut17-dev.conll", nlp) if doc.ents][:8]
        expected = Counter(ent.label_ for doc in wnut for ent in doc.ents)
        assert summary.labels == {"entities": expected} and not any(doc.cats for doc in docs)
        return
    comments = json.loads((data_dir / "goemotions-multilabel-dev.json").read_text(encoding="utf8"))[:8]
    expected = Counter(label for _, annots in comments for label, value in annots["cats"].items() if value)
    assert summary.labels == {"categories": expected}
    assert summary.negatives == Counter({label: 8 - n for label, n in expected.items()})


def test_tables_and_json_lines_with_ids_and_meta_read_only_their_labels(tmp_path, nlp):
    table = (
        "id\tsource\ttext\tscore\tlabel\n1\tweb\tgreat stuff\t0.9\tpos\n2\tweb\tawful\t0.1\tneg\n3\tapp\tfine\t5\tpos\n"
    )
    docs, _ = _read(_write(tmp_path, "t.tsv", table), nlp)
    assert _summary(docs).labels == {"categories": Counter(pos=2, neg=1)}
    assert [doc.cats for doc in docs][1] == {"neg": 1.0, "pos": 0.0}
    lines = [
        {"id": 7, "text": "Alice lives in Paris", "entities": [[0, 5, "PER"], [15, 20, "LOC"]],
         "meta": {"source": "web", "label": "X"}, "sent_id": "s-7"},
        {"id": 8, "text": "Bob is here", "spans": [{"start": 0, "end": 3, "label": "PER"}], "meta": {"n": 1},
         "_input_hash": 1, "_task_hash": 2, "answer": "accept"},
    ]  # fmt: skip
    docs, _ = _read(_write(tmp_path, "r.jsonl", "".join(json.dumps(r) + "\n" for r in lines)), nlp)
    assert _summary(docs).labels == {"entities": Counter(PER=2, LOC=1)} and not any(doc.cats for doc in docs)
    cats = [{"id": 1, "text": "a", "label": "X", "meta": {"label": "Y"}}, {"id": 2, "text": "b", "label": "Z"}]
    docs, _ = _read(_write(tmp_path, "c.jsonl", "".join(json.dumps(r) + "\n" for r in cats)), nlp)
    assert [doc.cats for doc in docs] == [{"X": 1.0, "Z": 0.0}, {"X": 0.0, "Z": 1.0}]


# Label Studio


def _result(start, end, label, text):
    return {"type": "labels", "from_name": "label", "to_name": "text",
            "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]}}  # fmt: skip


def _task(task_id, text, *annotations, predictions=()):
    return {"id": task_id, "data": {"text": text}, "annotations": list(annotations), "predictions": list(predictions)}


def _annotation(annotation_id, result, updated, cancelled=False):
    return {"id": annotation_id, "result": result, "was_cancelled": cancelled, "updated_at": updated,
            "created_at": "2024-01-01T00:00:00.000000Z"}  # fmt: skip


TEXT = "Jane Smith went to Paris"


def test_labelstudio_json_cancelled_repeated_and_predictions(tmp_path, nlp):
    tasks = [
        _task(1, TEXT, _annotation(1, [_result(0, 10, "PER", TEXT), _result(19, 24, "LOC", TEXT)], "2024-01-02T10:00:00Z"),
              predictions=[{"result": [_result(5, 10, "ORG", TEXT)]}]),
        # Two completed annotations: the most recently updated one (id 2, without LOC) is read.
        _task(2, TEXT, _annotation(2, [_result(0, 10, "PER", TEXT)], "2024-01-03T10:00:00Z"),
              _annotation(3, [_result(0, 10, "PER", TEXT), _result(19, 24, "LOC", TEXT)], "2024-01-02T10:00:00Z")),
        _task(3, TEXT, _annotation(4, [], "2024-01-02T10:00:00Z", cancelled=True)),
        _task(4, TEXT, _annotation(5, [_result(0, 4, "PER", TEXT)], "2024-01-02T10:00:00Z"),
              _annotation(6, [], "2024-01-04T10:00:00Z", cancelled=True)),
        _task(5, TEXT),
    ]  # fmt: skip
    path = _write(tmp_path, "export.json", tasks)
    assert detect_format(path) == "labelstudio"
    docs, caught = _read(path, nlp)
    assert [_ents(doc) for doc in docs] == [[(0, 10, "PER"), (19, 24, "LOC")], [(0, 10, "PER")], [(0, 4, "PER")]]
    assert caught == [
        f"[W021] {path}: skipped 2 of 5 task(s): 1 never annotated and 1 with every annotation cancelled (skipped in "
        "the labelling view)."
    ]
    summary = _summary(docs)
    assert summary.multi_annotated == 1
    assert summary.reading_notes() == [
        "tasks annotated more than once: 1 (each read from its most recently updated completed annotation)"
    ]


def test_labelstudio_json_choices_and_utf16_offsets(tmp_path, nlp):
    text = "So good 😂 Paris"
    choice = {"type": "choices", "from_name": "c", "to_name": "text", "value": {"choices": ["joy", "love"]}}
    # The labelling view counts the emoji as two UTF-16 units: "Paris" is 11-16 there, 10-15 in Python.
    span = {"type": "labels", "value": {"start": 11, "end": 16, "text": "Paris", "labels": ["LOC"]}}
    other = {"type": "choices", "value": {"choices": ["anger"]}}
    tasks = [_task(1, text, _annotation(1, [choice, span], "x")), _task(2, "Meh", _annotation(2, [other], "x"))]
    docs, _ = _read(_write(tmp_path, "cls.json", tasks), nlp)
    assert _ents(docs[0]) == [(10, 15, "LOC")] and docs[1].has_annotation("ENT_IOB")
    assert docs[0].cats == {"anger": 0.0, "joy": 1.0, "love": 1.0}
    assert docs[1].cats == {"anger": 1.0, "joy": 0.0, "love": 0.0}


def test_labelstudio_json_min_rows_repeat_texts(tmp_path, nlp):
    rows = [
        {"text": TEXT, "id": 1, "label": [{"start": 0, "end": 10, "text": "Jane Smith", "labels": ["PER"]}],
         "annotator": 1, "annotation_id": 1, "created_at": "x", "updated_at": "x", "lead_time": 2.5},
        {"text": TEXT, "id": 1, "label": [{"start": 19, "end": 24, "text": "Paris", "labels": ["LOC"]}],
         "annotator": 2, "annotation_id": 2, "created_at": "x", "updated_at": "x", "lead_time": 1.0},
        {"text": "Nothing here", "id": 2, "annotator": 1, "annotation_id": 3, "created_at": "x", "updated_at": "x",
         "lead_time": 1.0},
    ]  # fmt: skip
    path = _write(tmp_path, "min.json", rows)
    assert detect_format(path) == "labelstudio"
    docs, _ = _read(path, nlp)
    assert [_ents(doc) for doc in docs] == [[(0, 10, "PER")], [(19, 24, "LOC")], []]
    assert _summary(docs).repeated_texts == 1
    choices = [{"text": "a", "emotion": "joy", "annotation_id": 1, "annotator": 1},
               {"text": "b", "emotion": {"choices": ["joy", "love"]}, "annotation_id": 2, "annotator": 1}]  # fmt: skip
    docs, _ = _read(_write(tmp_path, "cls-min.json", choices), nlp)
    assert [_chosen(doc) for doc in docs] == [["joy"], ["joy", "love"]]


@pytest.mark.parametrize("suffix,sep", [(".csv", ","), (".tsv", "\t")])
def test_labelstudio_csv_and_tsv(tmp_path, nlp, suffix, sep):
    header = sep.join(["text", "id", "emotion", "annotator", "annotation_id", "created_at", "updated_at", "lead_time"])
    rows = [
        sep.join(['"He said ""hi"",\r\nthen left"', "1", '"{""choices"":[""OTHER"",""baking""]}"', "1", "1", "x", "x", "1.5"]),
        sep.join(["Plain text", "2", "OTHER", "1", "2", "x", "x", "1.5"]),
    ]  # fmt: skip
    path = _write(tmp_path, "export" + suffix, header + "\r\n" + "\r\n".join(rows) + "\r\n")
    assert detect_format(path) == "labelstudio"
    docs, _ = _read(path, nlp)
    assert [doc.text for doc in docs] == ['He said "hi",\nthen left', "Plain text"]  # CRLF read as a line break
    assert docs[0].cats == {"OTHER": 1.0, "baking": 1.0} and docs[1].cats == {"OTHER": 1.0, "baking": 0.0}


def test_labelstudio_csv_spans_in_a_cell(tmp_path, nlp):
    cell = json.dumps([{"start": 19, "end": 24, "text": "Paris", "labels": ["LOC"]}]).replace('"', '""')
    content = f'text,id,label,annotator,annotation_id\n"{TEXT}",1,"{cell}",1,1\n'
    (doc,), _ = _read(_write(tmp_path, "ner.csv", content), nlp)
    assert _ents(doc) == [(19, 24, "LOC")]


def test_format_forces_the_tool(tmp_path, nlp):
    path = _write(tmp_path, "data.export", '{"text": "Alice lives in Paris", "label": [[0, 5, "PER"]]}\n')
    (doc,), _ = _read(path, nlp, format="doccano")
    assert _ents(doc) == [(0, 5, "PER")]
    rows = [{"text": "a", "emotion": {"choices": ["joy"]}, "annotation_id": 1, "annotator": 1}]
    (doc,), _ = _read(_write(tmp_path, "rows.export", rows), nlp, format="labelstudio")
    assert doc.cats == {"joy": 1.0}


SINGLE = ('<View><Header value="$source"/><Text name="review" value="$review"/>'
          '<Choices name="mood" toName="review" choice="single"><Choice value="joy"/><Choice value="sad"/></Choices>'
          '<TextArea name="note" toName="review"/></View>')  # fmt: skip


def test_label_config_names_the_text_and_the_annotation_fields(tmp_path):
    from recipe_cli.data.formats.labelstudio import read_label_config

    config = read_label_config(_write(tmp_path, "label_config.xml", SINGLE))
    assert (config.text, config.spans, config.choices) == ("review", frozenset(), frozenset({"mood"}))
    ner = '<View><Labels name="ents" toName="t"><Label value="PER"/></Labels><Text name="t" value="$text"/></View>'
    config = read_label_config(_write(tmp_path, "ner.xml", ner))
    assert (config.text, config.spans, config.choices) == ("text", frozenset({"ents"}), frozenset())


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_single_choice_rows_need_the_label_config(tmp_path, nlp, suffix):
    """Single choices and data fields are plain values alike: without the config nothing is taken for a label;
    with it, its <Choices> field is the one label field (a <TextArea> and the data are not)."""
    rows = [{"text": "so happy", "source": "web", "sent_id": "r-1", "mood": "joy", "note": "x", "stars": 5},
            {"text": "meh", "source": "app", "sent_id": "r-2", "mood": "sad", "note": "y", "stars": 2}]  # fmt: skip
    rows = [{**row, "id": i, "annotator": 1, "annotation_id": i, "lead_time": 1.5} for i, row in enumerate(rows, 1)]
    if suffix == ".json":
        path = _write(tmp_path, "min.json", rows)
    else:
        names = list(rows[0])
        path = _write(
            tmp_path,
            "rows.csv",
            "\n".join(",".join(str(r[n]) for n in names) for r in [dict(zip(names, names, strict=True)), *rows]),
        )
    assert detect_format(path) == "labelstudio"
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp))
    fields = "'source', 'sent_id', 'mood', 'note'" + (", 'stars'" if suffix == ".csv" else "")
    assert str(error.value) == (
        f"[E121] {path}: cannot tell the annotations from the tasks' data: {fields} hold single values, as a data "
        "field and a single-choice <Choices> tag both do; pass the project's labeling config (--label-config "
        "label_config.xml, from the project's Settings > Labeling Interface > Code)"
    )
    config = _write(tmp_path, "label_config.xml", SINGLE.replace("$review", "$text"))
    docs, caught = _read(path, nlp, label_config=config)
    assert [doc.text for doc in docs] == ["so happy", "meh"] and not caught
    assert [doc.cats for doc in docs] == [{"joy": 1.0, "sad": 0.0}, {"joy": 0.0, "sad": 1.0}]


def test_plain_fields_beside_recognised_annotations_are_data_and_warned_of(tmp_path, nlp):
    rows = [{"text": TEXT, "id": 1, "sent_id": "dev-13", "source": "web",
             "label": [{"start": 0, "end": 10, "text": "Jane Smith", "labels": ["PER"]}], "annotator": 1,
             "annotation_id": 1}]  # fmt: skip
    path = _write(tmp_path, "min.json", rows)
    docs, caught = _read(path, nlp)
    assert _summary(docs).labels == {"entities": Counter(PER=1)} and docs[0].cats == {}
    assert caught == [
        f"[W020] {path}: 'sent_id', 'source' read as the tasks' data, not as annotations (a single-choice <Choices> "
        "tag looks the same: pass --label-config label_config.xml to read one)"
    ]
    ner = '<View><Labels name="label" toName="t"><Label value="PER"/></Labels><Text name="t" value="$text"/></View>'
    docs, caught = _read(path, nlp, label_config=_write(tmp_path, "ner.xml", ner))
    assert _summary(docs).labels == {"entities": Counter(PER=1)} and not caught


LABEL_CONFIG_ERRORS = [
    ("<View><Text name='t' value='$text'/>", "not a Label Studio labeling config: invalid XML (no element found: line 1, column 36)"),
    ("<View><Text name='t' value='$text'/><TextArea name='n' toName='t'/></View>", "not a Label Studio labeling config: it has no <Labels> or <Choices> tag to read (control tags: <TextArea name='n'>)"),
    ("<View><Choices name='c' toName='x'/></View>", "not a Label Studio labeling config: <Choices name='c'> points at 'x', not a tag with value=\"$field\""),
    ("<View><Text name='a' value='$a'/><Text name='b' value='$b'/><Choices name='c' toName='a'/><Labels name='l' toName='b'/></View>", "not a Label Studio labeling config: its tags annotate several data fields (a, b): recipe-train reads one text per task"),
]  # fmt: skip


@pytest.mark.parametrize("xml,message", LABEL_CONFIG_ERRORS)
def test_label_config_errors_name_the_file(tmp_path, nlp, xml, message):
    config = _write(tmp_path, "label_config.xml", xml)
    data = _write(tmp_path, "min.json", [{"text": "a", "c": "x", "annotation_id": 1, "annotator": 1}])
    with pytest.raises(RecipeError) as error:
        list(read_docs(data, nlp, label_config=config))
    assert str(error.value) == f"[E120] {config}: {message}"


def test_a_label_config_of_another_project_is_refused(tmp_path, nlp):
    config = _write(tmp_path, "label_config.xml", SINGLE)
    rows = [{"text": "a", "emotion": "x", "annotation_id": 1, "annotator": 1}]
    data = _write(tmp_path, "min.json", rows)
    with pytest.raises(RecipeError) as error:
        list(read_docs(data, nlp, label_config=config))
    assert str(error.value) == (f"[E032] {data}, record 1: a row without text ('review')")
    rows = [{"review": "a", "emotion": "x", "annotation_id": 1, "annotator": 1}]
    data = _write(tmp_path, "min.json", rows)
    with pytest.raises(RecipeError) as error:
        list(read_docs(data, nlp, label_config=config))
    assert str(error.value) == (
        f"[E031] {data}: unsupported JSON layout: the labeling config {config} names the fields mood, and the file "
        "holds none of them (its fields: annotation_id, annotator, emotion, review): is it this project's config?"
    )
    missing = tmp_path / "absent.xml"
    with pytest.raises(RecipeError, match=r"Data file not found: .*absent.xml"):
        list(read_docs(data, nlp, label_config=missing))


# Span slips, with --span-alignment


SLIPS = '{"text": "Jane Smith met Bob", "label": [[0, 3, "PER"], [14, 18, "PER"]]}\n'


def test_a_span_that_cuts_a_token_names_the_record(tmp_path, nlp):
    path = _write(tmp_path, "slips.jsonl", '{"text": "ok", "label": []}\n' + SLIPS)
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp))
    assert str(error.value) == (
        f"[E032] {path}, line 2: entity [0, 3, 'PER'] ('Jan') cuts a token ('Jane'): fix the span, or pass "
        "--span-alignment expand (or contract) to snap it to token boundaries"
    )


@pytest.mark.parametrize("alignment,expected,changed", [
    ("expand", [(0, 4, "PER"), (15, 18, "PER")], {"expanded": 1, "trimmed": 1}),
    ("contract", None, None),
])  # fmt: skip
def test_span_alignment_snaps_as_char_span_does(tmp_path, nlp, alignment, expected, changed):
    path = _write(tmp_path, "slips.jsonl", SLIPS)
    if expected is None:  # "Jan" holds no whole token: contract leaves nothing
        with pytest.raises(RecipeError, match=r"line 1: entity \[0, 3, 'PER'\] \('Jan'\) holds no whole token"):
            list(read_docs(path, nlp, span_alignment=alignment))
        return
    docs, _ = _read(path, nlp, span_alignment=alignment)
    assert _ents(docs[0]) == expected
    assert _summary(docs).reading_notes() == [
        f"entity spans changed: 2 ({', '.join(f'{n} {w}' for w, n in sorted(changed.items()))})"
    ]


def test_contract_keeps_the_whole_tokens(tmp_path, nlp):
    path = _write(tmp_path, "c.jsonl", '{"text": "Jane Smith met Bob", "label": [[0, 7, "PER"]]}\n')
    docs, _ = _read(path, nlp, span_alignment="contract")
    assert _ents(docs[0]) == [(0, 4, "PER")] and _summary(docs).spans_changed == Counter(contracted=1)


# name, content, message with {path}
ERRORS = [
    ("overlap.jsonl", '{"text": "New York City", "label": [[0, 8, "LOC"], [4, 13, "LOC"]]}\n', "[E032] {path}, line 1: entity [4, 13, 'LOC'] ('York City') overlaps [0, 8, 'LOC'] ('New York'); spaCy's entities cannot overlap"),
    ("space.jsonl", '{"text": "a  b", "label": [[1, 3, "X"]]}\n', "[E032] {path}, line 1: entity [1, 3, 'X'] ('  ') holds only whitespace"),
    ("liststr.jsonl", '{"text": "a", "label": ["[\'OTHER\', \'baking\']"]}\n', "[E032] {path}, line 1: label \"['OTHER', 'baking']\" is a list or a JSON fragment, not a name: the file's layout was not understood"),
    ("mixed.jsonl", '{"text": "a b", "label": [[0, 1, "X"], "Y"]}\n', "[E032] {path}, line 1: 'label' mixes category names and spans: [[0, 1, 'X'], 'Y']"),
    ("frag.csv", 'text,id,emotion,annotator,annotation_id\nhi,1,"{""choices"":[""OTHER""",1,1\n', "[E032] {path}, line 2: label '{\"choices\":[\"OTHER\"' is a list or a JSON fragment, not a name: the file's layout was not understood"),
    ("twolabels.json", json.dumps([_task(7, TEXT, _annotation(1, [{"type": "labels", "value": {"start": 0, "end": 4, "labels": ["A", "B"]}}], "x"))]), "[E032] {path}, task 7 (record 1): span 0-4 has labels ['A', 'B']: an entity takes one label"),
    ("notext.json", json.dumps([{"id": 3, "data": {"image": 1}, "annotations": []}]), "[E032] {path}, task 3 (record 1): a task without text ('data.text')"),
    ("cut.json", json.dumps([_task(9, TEXT, _annotation(1, [_result(1, 10, "PER", TEXT)], "x"))]), "[E032] {path}, task 9 (record 1): entity [1, 10, 'PER'] ('ane Smith') cuts a token ('Jane Smith'): fix the span, or pass --span-alignment expand (or contract) to snap it to token boundaries"),
    ("fasttext.txt", "__label__a fine\nnot a record\n", "[E026] {path}, line 2: expected __label__ words, then the text, got 'not a record'"),
    ("doccano.csv", "id,text,label,Comments\n1,a,X,\n2,b\n", "[E026] {path}, line 3: expected 4 columns as in the header, got 2"),
]  # fmt: skip


@pytest.mark.parametrize("name,content,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_in_full(tmp_path, nlp, name, content, message):
    path = _write(tmp_path, name, content)
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp))
    assert str(error.value) == message.replace("{path}", str(path))


# The command line


def test_span_alignment_option_is_a_corpus_setting():
    named = cli_overrides(data=[], dev=None, lang=None, seed=None, span_alignment="expand")
    assert named["corpora.train.span_alignment"] == named["corpora.dev.span_alignment"] == "expand"
    assert "corpora.train.span_alignment" not in cli_overrides(data=[], dev=None, lang=None, seed=None)


def test_label_config_option_is_a_corpus_setting(tmp_path):
    named = cli_overrides(data=[], dev=None, lang=None, seed=None, label_config=tmp_path / "label_config.xml")
    assert (
        named["corpora.train.label_config"] == named["corpora.dev.label_config"] == str(tmp_path / "label_config.xml")
    )
    assert "corpora.train.label_config" not in cli_overrides(data=[], dev=None, lang=None, seed=None)


def test_train_and_eval_read_a_single_choice_export_with_its_label_config(tmp_path, data_dir):
    """Label Studio's CSV of a single-choice project: every field a plain value. recipe-train stops without the
    project's config; with it, the categories are the choices and nothing else; recipe-eval reads it the same way."""
    data, config = data_dir / "labelstudio-emotion.csv", data_dir / "labelstudio-emotion.xml"
    refused = runner.invoke(app, ["textcat", str(data), "-o", str(tmp_path / "a"), "--dry-run"])
    assert refused.exit_code == 1 and "[E121]" in refused.output and "Traceback" not in refused.output
    args = ["textcat", str(data), "--dev", str(data), "-o", str(tmp_path / "b"), "--dry-run", "--label-config",
            str(config)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "categories (4): neutral 3, gratitude 1, anger 1, love 1" in result.output
    nlp = spacy.blank("en")
    textcat = nlp.add_pipe("textcat")
    for label in ("anger", "gratitude", "love", "neutral"):
        textcat.add_label(label)
    nlp.initialize()
    nlp.to_disk(tmp_path / "model")
    scored = runner.invoke(eval_app, [str(tmp_path / "model"), str(data), "--json", "--label-config", str(config)])
    assert scored.exit_code == 0, scored.output
    tasks = json.loads((data_dir / "labelstudio-emotion.json").read_text(encoding="utf8"))
    assert json.loads(scored.output)["words"] == sum(len(nlp.make_doc(task["data"]["text"])) for task in tasks)
    refused = runner.invoke(eval_app, [str(tmp_path / "model"), str(data), "--json"])
    assert refused.exit_code == 1 and "[E121]" in refused.output


def test_dry_run_reads_a_doccano_export_with_span_alignment(tmp_path, data_dir):
    data = tmp_path / "slips.jsonl"
    data.write_text((data_dir / "doccano-ner.jsonl").read_text(encoding="utf8") + SLIPS, encoding="utf8")
    refused = runner.invoke(app, ["ner", str(data), "-o", str(tmp_path / "a"), "--dry-run"])
    assert refused.exit_code == 1 and "line 10: entity [0, 3, 'PER'] ('Jan') cuts a token" in refused.output
    result = runner.invoke(
        app, ["ner", str(data), "-o", str(tmp_path / "b"), "--dry-run", "--span-alignment", "expand"]
    )
    assert result.exit_code == 0, result.output
    assert "entity spans changed" in result.output and "expanded" in result.output
    bad = runner.invoke(app, ["ner", str(data), "--dry-run", "--span-alignment", "loose"])
    assert bad.exit_code == 2


# Label Studio's own exports (scripts/dev/make_annotation_fixtures.py)

# Entities per label in labelstudio-ner.conll, Label Studio's CoNLL2003 export of the same project (one sentence
# per completed annotation), which label-studio-sdk's Converter.convert_to_conll2003 writes from labelstudio-ner.json too.
CONVERTER_COUNTS = Counter(location=4, person=9, product=1, group=1, **{"creative-work": 2})


def _counts(path, nlp):
    docs, caught = _read(path, nlp)
    return docs, _summary(docs), caught


# The data fields every task was imported with beside its text (sent_id, source, position, tokens, meta), as each
# flat export shows the plain ones: JSON-MIN keeps numbers as numbers, CSV and TSV make every cell a string.
PLAIN_FIELDS = {".min.json": "'sent_id', 'source'", ".csv": "'position', 'sent_id', 'source', 'tokens'"}
PLAIN_FIELDS[".tsv"] = PLAIN_FIELDS[".csv"]


def _data_warning(path):
    fields = PLAIN_FIELDS[next(suffix for suffix in PLAIN_FIELDS if path.name.endswith(suffix))]
    return (
        f"[W020] {path}: {fields} read as the tasks' data, not as annotations (a single-choice <Choices> tag looks "
        "the same: pass --label-config label_config.xml to read one)"
    )


@pytest.mark.parametrize(
    "name", ["labelstudio-ner.min.json", "labelstudio-ner.csv", "labelstudio-ner.tsv", "labelstudio-ner.conll"]
)
def test_labelstudio_row_exports_count_as_its_converter(data_dir, nlp, name):
    """The whole label set: the entities, and no category made of a task's data fields."""
    path = data_dir / name
    docs, summary, caught = _counts(path, nlp)
    assert len(docs) == 12 and summary.labels == {"entities": CONVERTER_COUNTS}
    assert not any(doc.cats for doc in docs)
    if name == "labelstudio-ner.conll":
        # Read as IOB: a sentence repeating an earlier one is not counted (docs/formats.md).
        assert summary.repeated_texts == 0 and not caught
        return
    assert detect_format(path) == "labelstudio"
    assert summary.repeated_texts == 1 and summary.spans_changed == Counter(trimmed=1)
    assert caught == [_data_warning(path)]
    # With the project's labeling config: the same, and nothing to warn of.
    docs, caught = _read(path, nlp, label_config=data_dir / "labelstudio-ner.xml")
    assert _summary(docs).labels == {"entities": CONVERTER_COUNTS} and not caught


def test_labelstudio_json_export_reads_the_latest_annotation(data_dir, nlp):
    path = data_dir / "labelstudio-ner.json"
    docs, summary, caught = _counts(path, nlp)
    tasks = json.loads(path.read_text(encoding="utf8"))
    # 12 tasks, one cancelled; task 3's later annotation drops its last entity ('ryan'): the row exports' counts
    # less the earlier annotation of task 3. The tasks' data fields are not read.
    assert len(tasks) == 12 and len(docs) == 11
    assert set(tasks[0]["data"]) == {"text", "sent_id", "source", "position", "tokens", "meta"}
    assert summary.labels == {"entities": CONVERTER_COUNTS - Counter(person=3)}
    assert [e.text for e in docs[2].ents] == ["emma", "kaite"]
    assert docs[1].ents[0].text == "Rick and Morty" and summary.spans_changed == Counter(trimmed=1)
    assert summary.multi_annotated == 1
    assert caught == [
        f"[W021] {path}: skipped 1 of 12 task(s): 1 with every annotation cancelled (skipped in the labelling view)."
    ]
    # Every entity as Label Studio stored it (value.start/end), the one trailing space aside.
    first = tasks[0]["annotations"][0]["result"]
    assert _ents(docs[0]) == [(r["value"]["start"], r["value"]["end"], r["value"]["labels"][0]) for r in first]


@pytest.mark.parametrize(
    "name",
    [
        "labelstudio-emotions.json",
        "labelstudio-emotions.min.json",
        "labelstudio-emotions.csv",
        "labelstudio-emotions.tsv",
    ],
)
def test_labelstudio_text_classification_exports(data_dir, nlp, name):
    path = data_dir / name
    docs, summary, caught = _counts(path, nlp)
    rows = name != "labelstudio-emotions.json"
    assert len(docs) == (10 if rows else 9)
    # Task 2 annotated twice: gratitude, then gratitude and love (the later, read from the JSON; the row exports
    # hold both, the later first).
    chosen = [_chosen(doc) for doc in docs]
    assert chosen[1:3] == ([["gratitude", "love"], ["gratitude"]] if rows else [["gratitude", "love"], ["neutral"]])
    # The whole label set: the chosen emotions (positives and, every other text, negatives), no data field.
    assert summary.labels == {"categories": Counter(neutral=6, love=2, admiration=1, gratitude=2 if rows else 1)}
    n = len(docs)
    assert summary.negatives == Counter(neutral=n - 6, love=n - 2, admiration=n - 1, gratitude=n - (2 if rows else 1))
    assert all(set(doc.cats) == {"admiration", "gratitude", "love", "neutral"} for doc in docs)
    # No <Labels> result: entities are missing, not "none"; only the JSON export tells a task was annotated twice.
    assert not any(doc.has_annotation("ENT_IOB") for doc in docs)
    assert (summary.multi_annotated, summary.repeated_texts) == ((0, 1) if rows else (1, 0))
    if rows:
        assert caught == [_data_warning(path)]
    else:
        # 11 tasks: task 3 cancelled, task 4 cancelled and then annotated (read), task 11 never annotated. Each
        # skipped task counted once, by why.
        assert caught == [
            f"[W021] {path}: skipped 2 of 11 task(s): 1 never annotated and 1 with every annotation cancelled "
            "(skipped in the labelling view)."
        ]


@pytest.mark.parametrize("suffix", [".json", ".min.json", ".csv", ".tsv"])
def test_labelstudio_single_choice_exports(data_dir, nlp, suffix):
    """A single-choice project: its flat exports hold nothing but plain values, data and choice alike. Without the
    labeling config they are refused (no field is taken for a label by elimination); with it, the categories are
    the choices, in every format as in the JSON export, where data and results are apart."""
    path, config = data_dir / f"labelstudio-emotion{suffix}", data_dir / "labelstudio-emotion.xml"
    expected = Counter(neutral=3, anger=1, gratitude=1, love=1)
    negatives = Counter(neutral=3, anger=5, gratitude=5, love=5)
    if suffix != ".json":
        with pytest.raises(RecipeError, match=r"\[E121\] .*'emotion'.*pass the project's labeling config"):
            list(read_docs(path, nlp))
    else:
        docs, caught = _read(path, nlp)
        assert _summary(docs).labels == {"categories": expected} and not caught
    docs, caught = _read(path, nlp, label_config=config)
    summary = _summary(docs)
    assert len(docs) == 6 and summary.labels == {"categories": expected} and summary.negatives == negatives
    assert not caught
